"""Search, the 360 view and the timeline of one person across channels."""

import base64
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.eventstore import projector
from backoffice.messaging.services import message_send
from customers import services
from customers.models import Customer
from tests.factories import ConsentFactory, CustomerFactory, interaction

pytestmark = pytest.mark.django_db
START = datetime.fromisoformat("2026-11-01T09:00:00+01:00")


def _at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def ana():
    """Ana on the web (email), on WhatsApp (phone in local format) and at the till (loyalty card and phone)."""
    items = [
        interaction(occurred_at=_at(0), customer={"email": "ana@example.es"}),
        interaction(
            type="message.received",
            channel="whatsapp",
            occurred_at=_at(10),
            customer={"phone": "600 111 222", "email": "ana@example.es"},
            data={"text": "¿Llega mañana?"},
        ),
        interaction(
            type="store.visited",
            channel="store",
            occurred_at=_at(20),
            customer={"loyalty_card": "LC-0001", "phone": "+34600111222"},
            data={"location": "VLC-01"},
        ),
    ]
    results = services.interactions_ingest(raw_items=items, actor="test")
    assert len({r.customer_id for r in results}) == 1
    return results[0].customer_id


@pytest.fixture
def client(api_client_for):
    return api_client_for("support")


@pytest.mark.parametrize("query", ["ANA@example.es", "600111222", "+34 600 111 222", "LC-0001", "ana@exa"])
def test_search_finds_the_customer_by_any_identifier(client, ana, query):
    response = client.get("/api/v1/customers", {"q": query})

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(ana)]


def test_a_search_of_under_three_characters_is_a_400(client):
    response = client.get("/api/v1/customers", {"q": "an"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "q"


def test_the_360_view_shows_every_identifier_consent_and_recent_event(client, ana, django_assert_max_num_queries):
    ConsentFactory(customer_id=ana, channel="whatsapp", source_channel="store", wording="Sí a ofertas por WhatsApp")

    # Token and role (3), the customer, their merged group, rows, identifiers, orders, consents, cases, the
    # recent events and their keys: a fixed number, whatever the length of the history.
    with django_assert_max_num_queries(12):
        body = client.get(f"/api/v1/customers/{ana}").json()

    assert {(i["kind"], i["value"]) for i in body["identifiers"]} == {
        ("email", "ana@example.es"),
        ("phone", "+34600111222"),
        ("loyalty_card", "LC-0001"),
    }
    assert body["acquisition_channel"] == "web"
    assert body["merged_into"] is None
    assert [(c["channel"], c["granted"]) for c in body["consents"]] == [("whatsapp", True)]
    assert body["recent_timeline"][0]["type"] == "consent.granted"
    assert "¿Llega mañana?" in str(body["recent_timeline"])


def test_a_merged_customer_answers_with_the_one_it_was_merged_into(client, ana):
    other = services.interactions_ingest(raw_items=[interaction(customer={"email": "x@example.es"})], actor="t")
    merged_id = other[0].customer_id
    # The merge service arrives with the customer 360 issue; its projection sets exactly this.
    Customer.objects.filter(id=merged_id).update(merged_into_id=ana)

    body = client.get(f"/api/v1/customers/{merged_id}").json()

    assert body == {"id": str(merged_id), "merged_into": str(ana)}


def test_the_timeline_holds_every_channel_newest_first(client, ana):
    body = client.get(f"/api/v1/customers/{ana}/timeline").json()

    interactions = [e for e in body["results"] if not e["type"].startswith("customer.")]
    assert [e["channel"] for e in interactions] == ["store", "whatsapp", "web"]
    times = [e["occurred_at"] for e in body["results"]]
    assert times == sorted(times, reverse=True)


def test_the_timeline_filters_by_channel_and_type(client, ana):
    by_channel = client.get(f"/api/v1/customers/{ana}/timeline", {"channel": "whatsapp"}).json()["results"]
    by_type = client.get(f"/api/v1/customers/{ana}/timeline", {"type": "store.visited"}).json()["results"]

    assert {e["channel"] for e in by_channel} == {"whatsapp"}
    assert [e["type"] for e in by_type] == ["store.visited"]


def test_timeline_pages_cover_every_event_once(client, ana):
    items = [
        interaction(
            type="page.viewed",
            occurred_at=_at(30 + n % 5),
            customer={"email": "ana@example.es"},
            data={"url": f"/p/{n}"},
        )
        for n in range(23)
    ]
    services.interactions_ingest(raw_items=items, actor="test")
    everything = client.get(f"/api/v1/customers/{ana}/timeline", {"limit": 200}).json()["results"]

    seen, url = [], f"/api/v1/customers/{ana}/timeline?limit=4"
    while url:
        page = client.get(url).json()
        seen.extend(e["position"] for e in page["results"])
        url = page["next"]

    assert seen == [e["position"] for e in everything]
    assert len(seen) == len(set(seen)) >= 26


def _forged_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "nonsense"}, "cursor"),
        ({"cursor": _forged_cursor("0001-01-01T00:00:00+14:00|5")}, "cursor"),  # before the calendar in UTC
        ({"cursor": _forged_cursor("2026-01-01T00:00:00+00:00|99999999999999999999999")}, "cursor"),  # > bigint
        ({"cursor": _forged_cursor("2026-01-01T00:00:00+00:00|-1")}, "cursor"),
        ({"channel": "fax"}, "channel"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"type": "page.viewed\x00"}, "type"),  # PostgreSQL cannot compare text holding a NUL
        ({"channel": "web\x00"}, "channel"),
    ],
)
def test_bad_timeline_parameters_are_a_400(client, ana, query, field):
    response = client.get(f"/api/v1/customers/{ana}/timeline", query)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"q": "ana\x00@example.es"}, "q"),
        ({"acquisition_channel": "web\x00"}, "acquisition_channel"),
        ({"registered_after": "0001-01-01T00:00:00+14:00"}, "registered_after"),  # before the calendar in UTC
        ({"registered_before": "9999-12-31T23:59:59-14:00"}, "registered_before"),  # after it
        ({"registered_after": "2026-11-01T09:00:00"}, "registered_after"),  # no offset: not guessed
        ({"registered_before": "2026-11-01T09:00:00\x00+01:00"}, "registered_before"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_them(client, ana, query, field):
    response = client.get("/api/v1/customers", query)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert error["code"]  # machine-readable, never null (the schema says a string)


def test_as_of_with_a_nul_is_a_400_naming_it(client, ana):
    response = client.get(f"/api/v1/customers/{ana}", {"as_of": _at(0) + "\x00"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "as_of"


def test_unknown_customers_are_a_404(client):
    assert client.get(f"/api/v1/customers/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/api/v1/customers/{uuid.uuid4()}/timeline").status_code == 404


def test_marketing_staff_do_not_see_people(api_client_for, ana):
    assert api_client_for("marketing").get(f"/api/v1/customers/{ana}").status_code == 403


def test_as_of_now_agrees_with_the_live_view_on_what_the_customer_did(
    client, ana, outbox, django_capture_on_commit_callbacks
):
    # What we sent them and staff's export of their record are not the customer using a channel.
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
            customer_id=ana,
            channel="email",
            purpose="service",
            content={"subject": "Tu pedido", "body": "Ya está listo"},
            idempotency_key="order-1:ready",
            actor="test",
        )
    assert client.get(f"/api/v1/customers/{ana}/export").status_code == 200
    projector.catch_up_all()

    live = client.get(f"/api/v1/customers/{ana}").json()
    then = client.get(f"/api/v1/customers/{ana}", {"as_of": timezone.now().isoformat()}).json()

    fields = ("channels_used", "interaction_count", "last_interaction_at")
    assert {f: then[f] for f in fields} == {f: live[f] for f in fields}
    assert live["channels_used"] == ["store", "web", "whatsapp"]


def test_as_of_shows_the_customer_as_they_were_then(client, ana):
    ConsentFactory(
        customer_id=ana, channel="whatsapp", source_channel="store", occurred_at=START + timedelta(minutes=15)
    )
    ConsentFactory(
        customer_id=ana,
        channel="whatsapp",
        is_granted=False,
        source_channel="whatsapp",
        occurred_at=START + timedelta(minutes=40),
    )

    then = client.get(f"/api/v1/customers/{ana}", {"as_of": _at(15)}).json()
    now = client.get(f"/api/v1/customers/{ana}").json()

    assert {(i["kind"], i["value"]) for i in then["identifiers"]} == {
        ("email", "ana@example.es"),
        ("phone", "+34600111222"),
    }
    assert then["channels_used"] == ["store", "web", "whatsapp"]  # the consent was given at the counter
    assert [(c["channel"], c["granted"]) for c in then["consents"]] == [("whatsapp", True)]
    assert [(c["channel"], c["granted"]) for c in now["consents"]] == [("whatsapp", False)]
    assert all(e["occurred_at"] <= _at(15) for e in then["recent_timeline"])


def test_as_of_before_the_customer_existed_is_a_404_and_a_bad_time_a_400(client, ana):
    assert client.get(f"/api/v1/customers/{ana}", {"as_of": _at(-60)}).status_code == 404
    response = client.get(f"/api/v1/customers/{ana}", {"as_of": "2026-11-01T09:00:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "as_of"


def test_registering_new_identifiers_creates_a_customer(client):
    response = client.post(
        "/api/v1/customers", {"customer": {"email": "Nuevo@Example.es"}, "channel": "store"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["identifiers"] == [{"kind": "email", "value": "nuevo@example.es"}]
    assert response.json()["acquisition_channel"] == "store"


def test_registering_known_identifiers_answers_the_existing_customer_and_adds_the_new_ones(client, ana):
    response = client.post(
        "/api/v1/customers",
        {"customer": {"phone": "600111222", "loyalty_card": "LC-0002"}, "channel": "store"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(ana)
    assert {"kind": "loyalty_card", "value": "LC-0002"} in response.json()["identifiers"]
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer": {"email": "nope"}, "channel": "web"}, "customer.email"),
        ({"customer": {"phone": "123"}, "channel": "web"}, "customer.phone"),
        ({"customer": {}, "channel": "web"}, "customer"),
        ({"customer": {"twitter": "@x"}, "channel": "web"}, "customer.twitter"),
        ({"customer": {"email": "a@b.es"}, "channel": "fax"}, "channel"),
    ],
)
def test_registering_bad_identifiers_is_a_400_naming_them_and_writes_nothing(client, body, field):
    response = client.post("/api/v1/customers", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Customer.objects.exists()


# --- A person made of several customers ---------------------------------------------------------------------------


def _merged_person(name: str) -> uuid.UUID:
    """A person whose app profile (an email and a phone of its own) was merged into their web profile: the survivor."""
    web = CustomerFactory(email=f"{name}@example.es").id
    app = CustomerFactory(email=f"{name}.app@example.es", phone="622333444" if name == "ana" else None).id
    services.customer_merge(customer_ids=(web, app), into=web, actor="t")
    return web


ANA_EVERYWHERE = {("email", "ana@example.es"), ("email", "ana.app@example.es"), ("phone", "+34622333444")}


def test_search_by_a_merged_profiles_email_lists_that_email_among_the_persons_identifiers(client):
    person = _merged_person("ana")

    response = client.get("/api/v1/customers", {"q": "ana.app@example.es"})

    (found,) = response.json()["results"]
    assert found["id"] == str(person)
    assert {(i["kind"], i["value"]) for i in found["identifiers"]} == ANA_EVERYWHERE


def test_a_merged_persons_summary_counts_the_activity_of_every_profile(client):
    web = CustomerFactory(email="eva@example.es", channel="web").id
    app = CustomerFactory(email="eva.app@example.es", channel="app").id
    services.interactions_ingest(
        raw_items=[
            interaction(customer={"email": "eva@example.es"}, channel="web"),
            interaction(customer={"email": "eva.app@example.es"}, channel="app"),
        ],
        actor="t",
    )
    projector.catch_up_all()  # activity is an async projection
    alone = client.get("/api/v1/customers", {"q": "eva@example.es"}).json()["results"][0]
    services.customer_merge(customer_ids=(web, app), into=web, actor="t")

    (found,) = client.get("/api/v1/customers", {"q": "eva.app@example.es"}).json()["results"]

    assert found["channels_used"] == ["app", "web"]
    assert found["interaction_count"] == 2 * alone["interaction_count"] > 0


def test_registering_a_merged_profiles_phone_answers_the_person_with_every_identifier(client):
    person = _merged_person("ana")

    response = client.post(
        "/api/v1/customers", {"customer": {"phone": "622 333 444"}, "channel": "store"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(person)
    assert {(i["kind"], i["value"]) for i in response.json()["identifiers"]} == ANA_EVERYWHERE


def test_the_customer_list_shows_each_persons_every_identifier_in_queries_that_do_not_grow_with_the_page(client):
    _merged_person("ana")
    _few, queries_for_one = _listed(client)
    for name in ("ben", "carla", "dani"):
        _merged_person(name)
        CustomerFactory()

    people, queries_for_seven = _listed(client)

    assert len(people) == 7
    assert {"ben@example.es", "ben.app@example.es"} in [{i["value"] for i in p["identifiers"]} for p in people]
    assert queries_for_seven == queries_for_one


def _listed(client) -> tuple[list, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/customers")
    assert response.status_code == 200
    return response.json()["results"], len(queries)
