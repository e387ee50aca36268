"""Rebuilding the catalog, stock and order projections from the log reproduces what live updates produced."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from backoffice.eventstore import projector
from customers.models import Customer, CustomerOrder
from orders import services
from orders.models import Location, Order, OrderLine, Product, StockLevel
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _snapshot() -> dict:
    return {
        "products": list(Product.objects.order_by("sku").values()),
        "locations": list(Location.objects.order_by("code").values()),
        "stock": list(
            StockLevel.objects.order_by("sku", "location_code").values_list(
                "sku", "location_code", "on_hand", "reserved", "version", "updated_at"
            )
        ),
        "orders": list(Order.objects.order_by("id").values()),
        "lines": list(
            OrderLine.objects.order_by("order_id", "sku", "location_code").values_list(
                "order_id", "sku", "quantity", "unit_price", "location_code", "returned_quantity"
            )
        ),
    }


@pytest.fixture
def history(chain, receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 10)
    receive("CAM-ALG-BLA-M", "WH-ZGZ", 10)
    receive("PAN-VAQ-SLI-40", "VLC-01", 4)
    services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="counted", quantity=8, actor="t")
    services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1, actor="t")
    services.stock_move(
        sku="CAM-ALG-BLA-M", location="WH-ZGZ", kind="transfer", quantity=3, to_location="VLC-01", actor="t"
    )
    services.product_save(
        sku="PAN-VAQ-SLI-40", name="Vaquero slim azul 40", category="pantalones", price="44.90", actor="t"
    )

    def place(order_id, lines, method="pickup", location="MAD-01"):
        services.order_place(
            order_id=order_id,
            customer=customer_id,
            channel="web",
            lines=lines,
            fulfilment={"method": method, "location": location},
            actor="t",
        )

    place("A", [{"sku": "CAM-ALG-BLA-M", "quantity": 2}])
    place("B", [{"sku": "CAM-ALG-BLA-M", "quantity": 1}, {"sku": "PAN-VAQ-SLI-40", "quantity": 2}], "ship", "")
    place("C", [{"sku": "CAM-ALG-BLA-M", "quantity": 1}])
    for action in ("pay", "ready", "collect"):
        services.order_act(order_id="A", action=action, actor="t")
    services.order_act(
        order_id="A", action="return", location="VLC-01", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], actor="t"
    )
    services.order_act(order_id="B", action="pay", actor="t")
    services.order_act(order_id="B", action="ship", actor="t")
    services.order_act(order_id="C", action="cancel", actor="t")


def test_rebuilding_the_orders_projections_reproduces_levels_and_states(history):
    live = _snapshot()

    projector.rebuild(["orders.catalog", "orders.stock", "orders.orders"])

    assert _snapshot() == live
    assert Order.objects.get(id="A").status == "partially_returned"


def test_rebuild_projections_command_reproduces_them_too(history):
    live = _snapshot()

    call_command("rebuild_projections", "orders.stock", "orders.orders", "orders.catalog", stdout=None)

    assert _snapshot() == live


def test_rebuilding_the_carts_reproduces_open_checked_out_and_abandoned_carts(chain):
    from datetime import timedelta

    from django.utils import timezone

    from customers.services import interactions_ingest
    from orders.models import Cart
    from tests.factories import interaction

    at = timezone.now() - timedelta(hours=3)
    items = [
        interaction(
            occurred_at=at.isoformat(),
            data={"cart_id": cart, "sku": "CAM-ALG-BLA-M", "quantity": 2, "unit_price": "19.90"},
        )
        for cart in ("k-1", "k-2", "k-3")
    ]
    items.append(
        interaction(
            type="cart.item_removed",
            occurred_at=at.isoformat(),
            data={"cart_id": "k-1", "sku": "CAM-ALG-BLA-M", "quantity": 1},
        )
    )
    items.append(
        interaction(type="cart.checked_out", occurred_at=at.isoformat(), data={"cart_id": "k-2", "order_id": "X-1"})
    )
    interactions_ingest(raw_items=items, actor="test")
    services.carts_abandon_idle()
    projector.catch_up("orders.carts")
    live = list(Cart.objects.order_by("cart_id").values())

    projector.rebuild(["orders.carts"])

    assert list(Cart.objects.order_by("cart_id").values()) == live
    assert [c["status"] for c in live] == ["abandoned", "checked_out", "abandoned"]
    assert live[0]["items"] == {"CAM-ALG-BLA-M": {"quantity": 1, "unit_price": "19.90"}}


def test_the_customers_counters_kept_order_by_order_match_a_recount_from_the_log(history, receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 5)
    OrderFactory(  # an order from the past, imported: it becomes the first order
        order_id="OLD",
        customer=customer_id,
        channel="store",
        fulfilment={"method": "counter", "location": "MAD-01"},
        actor="t",
        occurred_at=timezone.now() - timedelta(days=400),
    )

    def counters():
        customer = Customer.objects.get(id=customer_id)
        rows = CustomerOrder.objects.order_by("order_id").values_list("order_id", "total", "refunded", "is_cancelled")
        return (
            customer.order_count,
            customer.lifetime_value,
            customer.first_order_at,
            customer.last_order_at,
            list(rows),
        )

    projector.catch_up("customers.commerce")  # asynchronous: what a worker keeps, event batch by event batch
    live = counters()
    projector.rebuild(["customers.commerce"])

    assert counters() == live
    # A (2 x 19.90, one refunded), B (19.90 + 2 x 44.90) and OLD (19.90) count; C was cancelled.
    assert live[:2] == (3, Decimal("149.50"))
    assert live[2] == CustomerOrder.objects.get(order_id="OLD").placed_at
