"""The abandoned-cart template: WhatsApp once the cart is abandoned (an hour idle), the email with the coupon a day
after the cart; an order in any channel between the two stops the email; without WhatsApp consent the email path.
Orders' own reminder yields to the journey (one reminder, not two)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from customers.services import interactions_ingest
from orders import services as order_services
from tests.factories import OrderFactory, interaction

from ..conftest import grant
from .conftest import advance, publish, revoke, run_of, settle, template

pytestmark = pytest.mark.django_db


def _abandoned_cart(cart_id: str = "c-1", *, consents=("whatsapp", "email")):
    at = timezone.now() - timedelta(minutes=61)
    item = interaction(
        channel="web",
        occurred_at=at.isoformat(),
        customer={"email": f"{cart_id}@example.es", "phone": "+34600111222"},
        data={"cart_id": cart_id, "sku": "CAM-BLA", "quantity": 1, "unit_price": "19.90"},
    )
    customer_id = interactions_ingest(raw_items=[item], actor="test")[0].customer_id
    for channel in consents:
        grant(customer_id, channel)
    return customer_id


def _messages(customer_id):
    return list(
        OutboundMessage.objects.filter(customer_id=customer_id)
        .order_by("created_at")
        .values_list("channel", "idempotency_key")
    )


def test_whatsapp_at_abandonment_then_the_coupon_email_a_day_after_the_cart():
    journey = publish(template("abandoned_cart"))
    customer = _abandoned_cart()

    (decision,) = order_services.carts_abandon_idle()
    settle()
    assert decision.reminder_skipped == "journey"  # orders' own reminder yields: one reminder, the journey's
    assert [c for c, _ in _messages(customer)] == ["whatsapp"]

    advance(hours=22)
    assert [c for c, _ in _messages(customer)] == ["whatsapp"]
    advance(hours=23, minutes=1)

    assert [c for c, _ in _messages(customer)] == ["whatsapp", "email"]
    run = run_of(journey, customer)
    assert (run.status, run.exit_reason) == ("done", "completed")
    assert _messages(customer)[1][1].endswith(":email-coupon")


def test_an_order_in_the_store_between_the_two_stops_the_email():
    journey = publish(template("abandoned_cart"))
    customer = _abandoned_cart()
    order_services.carts_abandon_idle()
    settle()
    order_services.location_create(code="MAD-01", name="Madrid", kind="store", city="Madrid", actor="test")
    order_services.product_save(
        sku="CAM-BLA", name="Camiseta", category="camisetas", price=Decimal("19.90"), actor="test"
    )
    order_services.stock_move(sku="CAM-BLA", location="MAD-01", kind="received", quantity=3, actor="test")
    OrderFactory(customer=customer, channel="store", lines=[{"sku": "CAM-BLA", "quantity": 1}])
    settle()

    advance(hours=24)

    assert [c for c, _ in _messages(customer)] == ["whatsapp"]
    run = run_of(journey, customer)
    assert (run.status, run.exit_reason, str(run.revenue)) == ("exited", "goal", "19.90")


def test_a_customer_who_withdrew_whatsapp_consent_gets_the_email_path():
    journey = publish(template("abandoned_cart"))
    customer = _abandoned_cart()
    revoke(customer, "whatsapp")

    order_services.carts_abandon_idle()
    settle()
    advance(hours=24)

    assert [c for c, _ in _messages(customer)] == ["email", "email"]
    assert [outcome for _step, outcome, _at in run_of(journey, customer).path][:1] == ["fallback_sent"]


def test_without_a_live_journey_orders_reminds_as_before():
    customer = _abandoned_cart(consents=("email",))
    (decision,) = order_services.carts_abandon_idle()
    assert (decision.reminder_skipped, decision.reminder_channel) == ("", "email")
    assert Event.objects.filter(type="journey.entered").count() == 0
    assert [c for c, _ in _messages(customer)] == ["email"]


def test_the_simulator_shows_exactly_what_the_real_run_then_does():
    from campaigns import services

    journey = publish(template("abandoned_cart"))
    customer = _abandoned_cart()
    simulated = services.journey_simulate(journey_id=journey.id, customer_id=customer)

    order_services.carts_abandon_idle()
    settle()
    advance(hours=24)

    run = run_of(journey, customer)
    assert [(s["step"], s["outcome"]) for s in simulated["steps"]] == [(step, outcome) for step, outcome, _ in run.path]
    assert [s["channel"] for s in simulated["steps"] if s["channel"]] == [c for c, _ in _messages(customer)]
    simulated_email = timezone.datetime.fromisoformat(simulated["steps"][2]["at"])
    sent_whatsapp = timezone.datetime.fromisoformat(simulated["steps"][0]["at"])
    assert simulated_email - sent_whatsapp == timedelta(hours=23)
