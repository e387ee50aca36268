"""`manage.py seed_demo`: a demo history ingested through the services, idempotent, with working staff logins."""

import io
import re
from datetime import datetime

import phonenumbers
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.models import StaffProfile
from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.eventstore.schema import CHANNELS
from campaigns import demo as campaigns_demo
from customers.demo_history import CATALOG, LOCATIONS, DemoHistory
from customers.models import Customer, CustomerIdentifier

# The campaigns demo registers its own audience besides the history's people.
CAMPAIGN_PEOPLE = campaigns_demo.PEOPLE
LOGIN_LINE = re.compile(r"^Staff login: http://127\.0\.0\.1:8000/admin/  user: admin  password: (\S+)$")


def _seed(customers: int = 30) -> list[str]:
    out = io.StringIO()
    call_command("seed_demo", "--customers", str(customers), stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One demo of 30 customers for the whole module (seeding is the slow part: about 15 s a run), inside a
    transaction rolled back when the module ends. Each test runs in a savepoint of it (the `db` fixture), so what
    a test seeds or changes on top is gone before the next one."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _seed(30)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _interaction_counts(output: list[str]) -> tuple[int, int, int]:
    line = next(line for line in output if line.startswith("Interactions: "))
    total, new, stored = re.match(r"^Interactions: (\d+) \((\d+) new, (\d+) already stored\)$", line).groups()
    return int(total), int(new), int(stored)


def test_seeding_creates_the_customers_and_interactions_on_all_ten_channels(seeded, db):
    # One person each; some were two customers (phone alone, then email) until identity resolution merged them.
    assert Customer.objects.filter(merged_into=None).count() == 30 + CAMPAIGN_PEOPLE
    channels = set(Event.objects.exclude(channel=None).values_list("channel", flat=True).distinct())
    assert channels == set(CHANNELS)
    merged = Customer.objects.exclude(merged_into=None).count()
    assert Event.objects.filter(type="customer.registered").count() == 30 + CAMPAIGN_PEOPLE + merged


def test_running_it_again_writes_no_new_events(seeded, db):
    events_before = Event.objects.count()

    output = _seed(30)

    assert Event.objects.count() == events_before
    total, new, already_stored = _interaction_counts(output)
    assert (new, already_stored) == (0, total)


def test_a_larger_run_adds_only_the_new_customers(seeded, db):
    first_thirty, _, _ = _interaction_counts(seeded)

    total, new, already_stored = _interaction_counts(_seed(40))

    assert already_stored == first_thirty
    assert new == total - first_thirty > 0
    assert Customer.objects.filter(merged_into=None).count() == 40 + CAMPAIGN_PEOPLE
    assert Event.objects.filter(type="customer.registered").count() == Customer.objects.count()


def test_every_paid_cart_of_the_history_is_an_order_of_its_customer_with_the_carts_lines(seeded, db):
    from customers.selectors import customer_group_ids
    from orders.models import Order, OrderLine

    checkouts = list(Event.objects.filter(type="cart.checked_out"))
    assert checkouts
    orders = Order.objects.in_bulk([checkout.data["order_id"] for checkout in checkouts])
    for checkout in checkouts:
        order = orders.get(checkout.data["order_id"])
        # The customer's page links the checkout to its order: a link to nothing was a "no such order" page.
        assert order is not None, checkout.data
        assert order.customer_id in customer_group_ids(customer_id=checkout.customer_id)
        assert order.placed_at == checkout.occurred_at
        assert order.channel == checkout.channel
        added = Event.objects.filter(type="cart.item_added", data__cart_id=checkout.data["cart_id"])
        assert {line.sku for line in OrderLine.objects.filter(order_id=order.id)} <= {e.data["sku"] for e in added}


def test_the_paid_channels_have_an_acquisition_spend_so_cac_and_roi_are_figures(seeded, db):
    import calendar
    from datetime import date

    from backoffice.insights.demo import COST_PER_CUSTOMER
    from backoffice.insights.selectors import Period, acquisition_figures

    today = timezone.localdate()
    # Whole months: a month's spend counts pro rata of its days inside the period.
    history = Period(date(2000, 1, 1), date(today.year, today.month, calendar.monthrange(today.year, today.month)[1]))
    figures = acquisition_figures(history, None)

    paid = [row for row in figures["by_channel"] if row["channel"] in COST_PER_CUSTOMER and row["customers_acquired"]]
    assert paid
    for row in paid:
        # Within a quarter of the channel's cost per customer, month by month.
        cost = COST_PER_CUSTOMER[row["channel"]]
        assert cost * 3 / 4 * row["customers_acquired"] <= row["spend"] <= cost * 5 / 4 * row["customers_acquired"]
        assert row["cac"] > 0
        assert row["roi"] is not None
    assert figures["total"]["cac"] > 0  # the dashboard's first screen said CAC 0,00 €

    _seed(30)  # set again: the same amounts
    assert acquisition_figures(history, None) == figures


def test_the_admin_login_on_the_last_line_works(seeded, db, client):
    last_line = seeded[-1]

    password = LOGIN_LINE.match(last_line).group(1)
    assert client.login(username="admin", password=password)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff


def test_each_run_gives_the_admin_a_new_password(seeded, db, client):
    first = LOGIN_LINE.match(seeded[-1]).group(1)

    second = LOGIN_LINE.match(_seed(30)[-1]).group(1)

    assert second != first
    assert not client.login(username="admin", password=first)
    assert client.login(username="admin", password=second)


def test_every_other_role_gets_a_user_and_the_integration_token_works(seeded, db):
    output = "\n".join(seeded)

    roles = dict(StaffProfile.objects.values_list("user__username", "role"))
    assert roles == {
        "admin": "admin",
        "marketing": "marketing",
        "support": "support",
        "store.mad01": "store",
        "integration": "integration",
    }
    assert StaffProfile.objects.get(role="store").location_code == "MAD-01"
    token = re.search(r"integration  API token: (\S+)", output).group(1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/events").status_code == 200


def test_an_anonymous_visitor_who_identifies_later_is_stitched_to_one_customer(seeded, db):
    registered = store.read_all(types=["customer.registered"], limit=1000)
    anonymous_at_first = {
        event.customer_id for event in registered if [i["kind"] for i in event.data["identifiers"]] == ["anonymous_id"]
    }
    with_email = set(CustomerIdentifier.objects.filter(kind="email").values_list("customer_id", flat=True))
    stitched = anonymous_at_first & with_email
    assert stitched
    customer_id = next(iter(stitched))
    kinds = set(CustomerIdentifier.objects.filter(customer_id=customer_id).values_list("kind", flat=True))
    assert {"anonymous_id", "email", "phone"} <= kinds
    assert Customer.objects.filter(merged_into=None).count() == 30 + CAMPAIGN_PEOPLE


def test_customers_seen_on_several_channels_are_one_customer_each(seeded, db):
    channels_per_customer = {}
    for customer_id, channel in Event.objects.exclude(customer_id=None).values_list("customer_id", "channel"):
        channels_per_customer.setdefault(customer_id, set()).add(channel)
    assert Customer.objects.filter(merged_into=None).count() == 30 + CAMPAIGN_PEOPLE
    assert max(len(channels) for channels in channels_per_customer.values()) >= 3
    # Channels that know the person by different identifiers (phone; email) still land on one customer.
    assert any(
        {"whatsapp", "sms", "phone"} & channels and {"email", "web"} & channels
        for channels in channels_per_customer.values()
    )


def test_people_known_by_phone_and_by_email_apart_are_merged_when_they_give_both(seeded, db):
    merges = store.read_all(types=["customer.merged"], limit=1000)

    assert merges
    for merge in merges:
        assert merge.data["evidence"]["reason"] == "automatic"
        survivor = Customer.objects.get(id=merge.customer_id)
        assert survivor.merged_into_id is None
        assert Customer.objects.get(id=merge.data["merged"]).merged_into_id == survivor.id
        group = [survivor.id, merge.data["merged"]]
        kinds = set(CustomerIdentifier.objects.filter(customer_id__in=group).values_list("kind", flat=True))
        assert {"email", "phone"} <= kinds


def test_customers_have_names(seeded, db):
    assert Customer.objects.filter(merged_into=None).exclude(display_name="").count() >= 25


def test_phones_are_valid_spanish_mobiles(seeded, db):
    phones = list(CustomerIdentifier.objects.filter(kind="phone").values_list("value", flat=True))
    assert phones
    for phone in phones:
        assert phone.startswith(("+346", "+347"))
        assert phonenumbers.is_valid_number_for_region(phonenumbers.parse(phone), "ES")


def test_every_interaction_is_in_the_past_with_a_time_zone_and_uses_the_catalog():
    history = DemoHistory(timezone.localdate())
    items = [item for person in history.people(30) for item in history.interactions(person)]

    now = timezone.now()
    skus = {product.sku for product in CATALOG}
    locations = {location.code for location in LOCATIONS}
    for item in items:
        occurred_at = datetime.fromisoformat(item["occurred_at"])
        assert occurred_at.tzinfo is not None
        assert occurred_at < now
        assert item["data"].get("sku", next(iter(skus))) in skus
        assert item["data"].get("location", "MAD-01") in locations


def test_the_same_anchor_gives_the_same_history():
    anchor = timezone.localdate()

    first, second = DemoHistory(anchor), DemoHistory(anchor)

    assert [first.interactions(person) for person in first.people(5)] == [
        second.interactions(person) for person in second.people(5)
    ]


def test_the_demo_has_service_cases_on_several_channels_open_resolved_and_rated(seeded, db):
    from customers.models import Case

    _seed(60)  # 30 more on top of the module's: enough people for every kind of case

    cases = Case.objects.all()
    assert cases.filter(status="resolved").exists()
    assert cases.exclude(csat_score=None).exists()
    assert len(set(cases.values_list("channel", flat=True))) >= 3
    assert all(case.message_count >= 1 for case in cases)


def test_the_demo_has_two_live_journeys_and_a_draft_that_nobody_from_the_past_entered(seeded, db):
    from campaigns.journeys.models import Journey, JourneyRun

    journeys = {journey.template: journey for journey in Journey.objects.all()}

    assert {template: journeys[template].status for template in journeys} == {
        "abandoned_cart": "live",
        "pickup_ready": "live",
        "welcome": "draft",
    }
    assert journeys["abandoned_cart"].name == "Carrito abandonado"
    assert Event.objects.filter(type="cart.abandoned").exists()
    assert not JourneyRun.objects.exists()  # published after the history: only later carts enter
    assert any(line.startswith("Journeys: 3 new, 2 published") for line in seeded)
    events_before = Event.objects.count()
    assert any(line.startswith("Journeys: 0 new, 0 published") for line in _seed(30))
    assert Event.objects.count() == events_before


def test_the_login_line_names_the_port_actually_served(seeded, db):
    out = io.StringIO()
    call_command("seed_demo", "--customers", "30", "--admin-url", "http://127.0.0.1:8017/admin/", stdout=out)

    assert out.getvalue().splitlines()[-1].startswith("Staff login: http://127.0.0.1:8017/admin/  user: admin")
