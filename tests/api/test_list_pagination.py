"""Every list endpoint pages with a working `next` until the last page: more than 1,000 rows are walked here, each
seen exactly once, so an integrator who follows `next` never misses the rest."""

import base64
import uuid
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from customers.models import Case, Customer
from customers.services.ingestion import interactions_ingest
from orders.services.stock import stock_receive_many
from tests.factories import (
    CampaignFactory,
    CaseFactory,
    CustomerFactory,
    LocationFactory,
    ProductFactory,
    SegmentFactory,
    interaction,
)

pytestmark = pytest.mark.django_db

ROWS = 1_001


def walk(client, url: str, key: str = "id", *, limit: int = 200) -> list:
    """Every item of a list, following `next` from the first page to the last."""
    seen, pages = [], 0
    next_url = f"{url}{'&' if '?' in url else '?'}limit={limit}"
    while next_url:
        parts = urlsplit(next_url)
        response = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        seen.extend(item[key] for item in body["results"])
        next_url = body["next"]
        pages += 1
        assert pages <= ROWS, "next never ends"
    assert pages > 1
    return seen


def test_segments_page_to_the_end(api_client_for):
    ids = {str(segment.id) for segment in SegmentFactory.create_batch(ROWS)}

    seen = walk(api_client_for("marketing"), "/api/v1/segments")

    assert len(seen) == ROWS
    assert set(seen) == ids


def test_campaigns_page_to_the_end(api_client_for):
    ids = {str(campaign.id) for campaign in CampaignFactory.create_batch(ROWS)}

    seen = walk(api_client_for("marketing"), "/api/v1/campaigns")

    assert len(seen) == ROWS
    assert set(seen) == ids


def test_journeys_page_to_the_end(api_client_for):
    from campaigns.services import journey_save

    ids = {str(journey_save(journey_id=None, values={"name": f"j{n}"}, actor="t").id) for n in range(ROWS)}

    seen = walk(api_client_for("marketing"), "/api/v1/journeys")

    assert len(seen) == ROWS
    assert set(seen) == ids


def test_customers_page_to_the_end_and_a_filter_keeps_its_pages(api_client_for):
    items = [
        interaction(customer={"email": f"c{n}@example.es"}, channel="web" if n % 2 else "app") for n in range(ROWS)
    ]
    interactions_ingest(raw_items=items, actor="t")
    client = api_client_for("support")

    everyone = walk(client, "/api/v1/customers")
    from_web = walk(client, "/api/v1/customers?acquisition_channel=web", limit=100)

    assert len(everyone) == len(set(everyone)) == Customer.objects.count() == ROWS
    assert len(from_web) == Customer.objects.filter(acquisition_channel="web").count() == ROWS // 2


def test_products_page_to_the_end_keeping_the_category(api_client_for):
    for n in range(ROWS):
        ProductFactory(category="a" if n % 3 else "b")
    client = api_client_for("integration")

    everything = walk(client, "/api/v1/products", key="sku")
    only_b = walk(client, "/api/v1/products?category=b", key="sku", limit=50)

    assert everything == sorted(everything)
    assert len(set(everything)) == ROWS
    assert len(only_b) == len([n for n in range(ROWS) if n % 3 == 0])


def test_locations_page_to_the_end(api_client_for):
    LocationFactory.create_batch(ROWS)

    seen = walk(api_client_for("integration"), "/api/v1/locations", key="code")

    assert len(set(seen)) == ROWS


def test_cases_page_to_the_end(api_client_for):
    customer = CustomerFactory()
    start = timezone.now() - timedelta(days=2)
    for n in range(ROWS):
        CaseFactory(customer_id=customer.id, occurred_at=start + timedelta(seconds=n))

    seen = walk(api_client_for("support"), "/api/v1/cases")

    assert len(set(seen)) == Case.objects.count() == ROWS


def test_the_log_and_a_timeline_page_to_the_end(api_client_for):
    customer_id = CustomerFactory().id
    items = [interaction(customer={"id": str(customer_id)}, id=str(uuid.uuid4())) for _ in range(ROWS)]
    interactions_ingest(raw_items=items, actor="t")
    client = api_client_for("integration")

    log = walk(client, "/api/v1/events?after=0", key="position")
    timeline = walk(client, f"/api/v1/customers/{customer_id}/timeline", limit=100)
    first = client.get("/api/v1/events?after=0&limit=200").json()

    # Pages after the first follow commit order (a cursor of the last event's transaction and position).
    assert "cursor=" in first["next"]
    assert len(log) == len(set(log)) == len(store.read_all(after=0, limit=10_000))
    assert len(set(timeline)) >= ROWS


def test_the_stock_of_a_location_pages_to_the_end(api_client_for):
    LocationFactory(code="MAD-01")
    receipts = [(ProductFactory().sku, "MAD-01", 1, uuid.uuid4()) for _ in range(ROWS)]
    stock_receive_many(receipts=receipts, actor="test")

    seen = walk(api_client_for("integration"), "/api/v1/stock?location=MAD-01", key="sku")

    assert len(seen) == len(set(seen)) == ROWS


@pytest.mark.parametrize("cursor", ["abc", "1", "1.2.3", "-1.5", "99999999999999999999.1", ""])
def test_a_cursor_that_no_next_link_gave_is_a_400_naming_it(api_client_for, cursor):
    response = api_client_for("integration").get(f"/api/v1/events?cursor={cursor}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/cases"])
@pytest.mark.parametrize(
    "position",
    [
        "not-a-time",
        "0001-01-01T00:00:00+14:00",  # before the calendar once in UTC
        "9999-12-31T23:59:59-14:00",  # after it
        "2026-11-01 09:00:00",  # no offset: never given out
        "2026-11-01 09:00:00+00:00\x00",
    ],
)
def test_a_list_cursor_whose_position_no_next_link_gave_is_a_400_naming_it(api_client_for, path, position):
    CaseFactory()  # a case and its customer: both lists have a row
    # DRF's cursor envelope, well formed, around a forged position.
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()

    response = api_client_for("support").get(path, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


def test_more_than_a_thousand_rows_sharing_the_first_ordering_field_page_once_each_both_ways(api_client_for):
    """An import registers customers in one instant: the cursor holds the whole key (time, then id), so the pages
    neither repeat nor skip (DRF's own kept only the time and an offset it caps at 1,000), and `previous` goes back
    over the same pages."""
    moment = (timezone.now() - timedelta(days=1)).replace(microsecond=0).isoformat()
    ids = set()
    for start in (0, 575):
        items = [
            interaction(customer={"email": f"import{n}@example.es"}, occurred_at=moment)
            for n in range(start, start + 575)
        ]
        ids |= {str(result.customer_id) for result in interactions_ingest(raw_items=items, actor="import")}
    assert len(ids) == 1_150
    assert Customer.objects.filter(registered_at=moment).count() == 1_150
    client = api_client_for("support")

    pages, url = [], "/api/v1/customers?limit=50"
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
        assert len(pages) <= 30, "next never ends"
    seen = [row for page in pages for row in page]
    assert len(seen) == len(set(seen)) == len(ids)
    assert set(seen) == ids

    # Back from the last page by `previous`: the same pages, in reverse.
    back, url = [], client.get("/api/v1/customers?limit=50").json()["next"]
    for _ in range(len(pages) - 2):
        url = client.get(url).json()["next"]
    while url:
        body = client.get(url).json()
        back.append([row["id"] for row in body["results"]])
        url = body["previous"]
    assert back == pages[::-1]
