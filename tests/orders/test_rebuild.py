"""Rebuilding the catalog, stock and order projections from the log reproduces what live updates produced."""

import pytest
from django.core.management import call_command

from backoffice.eventstore import projector
from orders import services
from orders.models import Location, Order, OrderLine, Product, StockLevel

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
