"""No oversell under real concurrency, on PostgreSQL: many threads reserve the last units at once; exactly the
available quantity succeeds, whatever the interleaving, and the ledger and the levels agree."""

import functools

import pytest

from backoffice.eventstore import store
from orders import services
from orders.errors import InsufficientStock
from orders.models import Order, StockLevel
from tests.concurrency import at_once
from tests.factories import OrderFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_after_commit_hooks(settings):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []


def _run_threads(count, target):
    return at_once(*(functools.partial(target, index) for index in range(count)))


def test_forty_threads_reserving_the_last_ten_units_exactly_ten_succeed(chain, receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 10)

    def reserve(index):
        return OrderFactory(order_id=f"T-{index}", customer=customer_id).id

    results = _run_threads(40, reserve)

    placed = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(placed) == 10, results
    assert len(refused) == 30, results
    row = StockLevel.objects.get(sku="CAM-ALG-BLA-M", location_code="MAD-01")
    assert (row.on_hand, row.reserved, row.available) == (10, 10, 0)
    reserved = [e for e in store.read_stream("stock-CAM-ALG-BLA-M@MAD-01") if e.type == "stock.reserved"]
    assert sum(e.data["quantity"] for e in reserved) == 10
    assert Order.objects.count() == 10


def test_till_sales_and_shipping_orders_over_several_skus_never_oversell_nor_deadlock(chain, receive, customer_id):
    skus = ["CAM-ALG-BLA-M", "PAN-VAQ-SLI-40", "ZAP-RUN-BLA-42"]
    for sku in skus:
        receive(sku, "MAD-01", 6)
        receive(sku, "VLC-01", 6)

    def act(index):
        if index % 4 == 0:
            return services.stock_move(sku=skus[index % 3], location="MAD-01", kind="sold", quantity=1, actor="till")
        # Lines in a different order per thread: locks are still taken in primary-key order.
        lines = [{"sku": sku, "quantity": 1} for sku in (skus if index % 2 else list(reversed(skus)))]
        return services.order_place(
            order_id=f"S-{index}",
            customer=customer_id,
            channel="app",
            lines=lines,
            fulfilment={"method": "ship"},
            actor="test",
        )

    results = _run_threads(32, act)

    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientStock)]
    assert unexpected == []
    for row in StockLevel.objects.all():
        assert 0 <= row.reserved <= row.on_hand, row
        events = store.read_stream(f"stock-{row.sku}@{row.location_code}")
        on_hand = sum(e.data["quantity"] for e in events if e.type == "stock.received") - sum(
            e.data["quantity"] for e in events if e.type == "stock.sold"
        )
        reserved = sum(e.data["quantity"] for e in events if e.type == "stock.reserved")
        assert (row.on_hand, row.reserved, row.version) == (on_hand, reserved, len(events))


def test_two_requests_with_the_same_order_id_at_once_reserve_once(chain, receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 5)

    def place(index):
        return services.order_place(
            order_id="SAME-1",
            customer=customer_id,
            channel="web",
            lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}],
            fulfilment={"method": "pickup", "location": "MAD-01"},
            actor="test",
        )[1]

    results = _run_threads(8, place)

    assert sorted(results) == [False] * 7 + [True], results
    assert StockLevel.objects.get(sku="CAM-ALG-BLA-M", location_code="MAD-01").reserved == 2
