"""Erasing a customer leaves their orders counting: amounts, channels and times stay, in every projection and
after a rebuild."""

from decimal import Decimal

import pytest

from backoffice.eventstore import projector
from customers import services as customer_services
from customers.models import Customer, CustomerOrder
from orders import services
from orders.models import Order
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _figures(customer_id):
    customer = Customer.objects.get(id=customer_id)
    return {
        "customer": (customer.order_count, customer.lifetime_value, customer.first_order_at, customer.last_order_at),
        "orders": sorted(CustomerOrder.objects.values_list("order_id", "channel", "total", "refunded", "is_cancelled")),
        "order_rows": sorted(Order.objects.values_list("id", "channel", "status")),
    }


def test_an_erased_customers_orders_and_refunds_still_count_and_survive_a_rebuild(receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 5)
    order = OrderFactory(
        order_id="APP-1", customer=str(customer_id), channel="app", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}]
    )
    for step in ("pay", "ready", "collect"):
        services.order_act(order_id=order.id, action=step, actor="test")
    services.order_act(
        order_id=order.id,
        action="return",
        actor="test",
        location="MAD-01",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
    )
    projector.catch_up_all()  # the customer's order figures are an asynchronous projection
    before = _figures(customer_id)
    assert before["customer"][:2] == (1, Decimal("19.90"))

    customer_services.customer_erase(customer_id=customer_id, actor="test")
    projector.catch_up_all()

    assert _figures(customer_id) == before
    projector.rebuild()
    assert _figures(customer_id) == before
    assert Customer.objects.get(id=customer_id).erased_at is not None
