"""A failed event retried after the projection has read on: the cancellation or return of an order whose placement
had failed found no order and counted nothing, so the retry of the placement applies them after it, and the read
models end as a rebuild of the same log leaves them (customers.commerce, insights.rollups)."""

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionFailure
from backoffice.insights.models import OrderFact
from backoffice.insights.projections import InsightsRollups
from customers.models import Customer, CustomerOrder
from customers.projections import CustomerCommerce
from customers.services.ingestion import customer_register
from orders import services
from tests.orders.chain import chain_create

pytestmark = pytest.mark.django_db(transaction=True)


def _read_models(customer_id):
    return (
        Customer.objects.filter(id=customer_id).values_list("order_count", "lifetime_value").get(),
        sorted(CustomerOrder.objects.values_list("order_id", "is_cancelled", "refunded")),
        sorted(OrderFact.objects.values_list("order_id", "is_cancelled", "refunded", "net_cents")),
    )


@pytest.mark.parametrize("then", ["cancel", "return"])
@pytest.mark.parametrize("projection", [CustomerCommerce, InsightsRollups], ids=["commerce", "insights"])
def test_a_placement_retried_after_its_cancellation_or_return_ends_as_a_rebuild_does(
    monkeypatch, settings, projection, then
):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []  # the test drives the catch-ups
    chain_create()
    services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="received", quantity=5, actor="t")
    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="web", actor="t")
    projector.catch_up_all()
    services.order_place(
        order_id="A",
        customer=str(customer_id),
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment={"method": "pickup", "location": "MAD-01"},
        actor="t",
    )
    # A passing failure (a lock timeout) while the placement is applied: set aside, the checkpoint moves on.
    with monkeypatch.context() as patched:
        patched.setattr(projection, "apply", lambda self, events: (_ for _ in ()).throw(RuntimeError("lock timeout")))
        projector.catch_up(projection.name)
    (failure,) = ProjectionFailure.objects.filter(projection=projection.name)
    if then == "cancel":
        services.order_act(order_id="A", action="cancel", actor="t")
    else:
        for step in ("pay", "ready", "collect"):
            services.order_act(order_id="A", action=step, actor="t")
        services.order_act(order_id="A", action="return", location="MAD-01", actor="t")
    projector.catch_up_all()

    assert projector.failure_retry(failure_id=failure.pk)
    live = _read_models(customer_id)
    projector.rebuild([projection.name])

    assert _read_models(customer_id) == live
