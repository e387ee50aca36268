"""The orders demo seeds every kind of order and stock movement through the services, and a second run adds
nothing."""

import random
from io import StringIO

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from customers.services import interactions_ingest
from orders.demo import seed_orders
from orders.models import Location, Order, StockLevel
from tests.factories import interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def some_customers():
    items = [
        interaction(
            customer={"email": f"cliente{n}@example.es"},
            data={"cart_id": f"demo-c{n}", "sku": "CAM-ALG-BLA-M", "quantity": 1, "unit_price": "19.90"},
        )
        for n in range(30)
    ]
    interactions_ingest(raw_items=items, actor="test")


def test_the_orders_demo_seeds_stores_stock_orders_and_abandoned_carts_and_is_idempotent(some_customers):
    now = timezone.now()
    out = StringIO()

    first = seed_orders(now=now, rng=random.Random(7), stdout=out)
    events = Event.objects.count()
    second = seed_orders(now=now, rng=random.Random(7))

    assert first["locations"] == 7
    assert Location.objects.filter(kind="store").count() == 6
    assert StockLevel.objects.values("location_code").distinct().count() == 7
    assert first["orders"] > 150
    channels = set(Order.objects.values_list("channel", flat=True))
    assert {"web", "app", "store", "phone"} <= channels
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {"collected", "delivered", "returned", "cancelled", "ready"} <= statuses
    assert Event.objects.filter(type="order.returned", channel="store").exists()
    assert first["till_sales"] > 0
    assert first["abandoned_carts"] == 30
    assert "Orders and stock" in out.getvalue()
    assert all(value == 0 for value in second.values()), second
    assert Event.objects.count() == events
