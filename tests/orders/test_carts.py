"""Abandoned carts: idle past the threshold, abandoned once, and no reminder after an order in any channel."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from customers.services import interactions_ingest
from orders import services
from orders.models import Cart
from orders.tasks import abandon_idle_carts_task
from tests.factories import OrderFactory, interaction

pytestmark = pytest.mark.django_db
STARTED = datetime.fromisoformat("2026-11-20T10:00:00+01:00")
CUSTOMER = {"email": "ana@example.es", "phone": "+34600111222"}


def _cart_events(cart_id: str, *, at: datetime = STARTED, channel: str = "app"):
    items = [
        interaction(
            channel=channel,
            occurred_at=at.isoformat(),
            customer=CUSTOMER,
            data={"cart_id": cart_id, "sku": "CAM-ALG-BLA-M", "quantity": 2, "unit_price": "19.90"},
        ),
        interaction(
            channel=channel,
            occurred_at=(at + timedelta(minutes=1)).isoformat(),
            customer=CUSTOMER,
            data={"cart_id": cart_id, "sku": "ZAP-RUN-BLA-42", "quantity": 1, "unit_price": "69.90"},
        ),
    ]
    return interactions_ingest(raw_items=items, actor="test")[0].customer_id


def test_a_cart_idle_past_the_threshold_is_abandoned_once_with_its_items(chain):
    _cart_events("c-1")

    first = services.carts_abandon_idle(now=STARTED + timedelta(minutes=62))
    second = services.carts_abandon_idle(now=STARTED + timedelta(minutes=90))

    assert [d.cart_id for d in first] == ["c-1"]
    assert second == []
    (event,) = Event.objects.filter(type="cart.abandoned")
    assert event.stream == "cart-c-1"
    assert event.data["items"] == [
        {"sku": "CAM-ALG-BLA-M", "quantity": 2, "unit_price": "19.90"},
        {"sku": "ZAP-RUN-BLA-42", "quantity": 1, "unit_price": "69.90"},
    ]
    services.carts_abandon_idle(now=STARTED + timedelta(minutes=120))
    assert Cart.objects.get(cart_id="c-1").status == "abandoned"


def test_a_cart_used_within_the_threshold_is_left_open(chain):
    _cart_events("c-2")

    assert services.carts_abandon_idle(now=STARTED + timedelta(minutes=30)) == []
    assert not Event.objects.filter(type="cart.abandoned").exists()


def test_a_checked_out_cart_is_never_abandoned(chain):
    _cart_events("c-3")
    interactions_ingest(
        raw_items=[
            interaction(
                type="cart.checked_out",
                occurred_at=(STARTED + timedelta(minutes=5)).isoformat(),
                customer=CUSTOMER,
                data={"cart_id": "c-3", "order_id": "A-1"},
            )
        ],
        actor="test",
    )

    assert services.carts_abandon_idle(now=STARTED + timedelta(hours=3)) == []


def test_no_reminder_when_the_customer_ordered_by_phone_meanwhile(chain, receive):
    customer_id = _cart_events("c-4")
    receive("CAM-ALG-BLA-M", "MAD-01", 5)
    OrderFactory(customer=customer_id, channel="phone", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}])

    (decision,) = services.carts_abandon_idle(now=timezone.now())

    assert (decision.reminder_skipped, decision.reminder_message_id) == ("ordered_since", "")


def test_the_beat_task_runs_the_job(chain, settings):
    settings.ORDERS_CART_IDLE_MINUTES = 0
    _cart_events("c-5")

    abandon_idle_carts_task.delay()

    assert Event.objects.filter(type="cart.abandoned", stream="cart-c-5").count() == 1
