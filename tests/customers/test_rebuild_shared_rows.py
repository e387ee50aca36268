"""Rebuilding the customer directory alone empties and writes the customers' rows again: the counters that the
activity and commerce projections keep on those rows are rebuilt with it, not left blank behind checkpoints that
stay at the end of the log."""

from decimal import Decimal

import pytest

from backoffice.eventstore import projector
from customers.models import Customer
from customers.services.ingestion import interactions_ingest
from orders import services
from tests.factories import interaction
from tests.orders.chain import chain_create

pytestmark = pytest.mark.django_db(transaction=True)


def _counters(customer_id):
    return (
        Customer.objects.filter(id=customer_id)
        .values_list("interaction_count", "channels_used", "order_count", "lifetime_value", "last_order_at")
        .get()
    )


def test_rebuilding_the_directory_alone_keeps_the_counters_other_projections_keep_on_its_rows():
    chain_create()
    services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="received", quantity=5, actor="test")
    (result,) = interactions_ingest(
        raw_items=[interaction(type="page.viewed", data={"url": "https://x.es/"})], actor="t"
    )
    services.order_place(
        customer=str(result.customer_id),
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment={"method": "pickup", "location": "MAD-01"},
        actor="t",
    )
    projector.catch_up_all()
    live = _counters(result.customer_id)
    assert live[0] >= 1
    assert live[2] == 1
    assert live[3] > Decimal(0)

    replayed = projector.rebuild(["customers.directory"])
    projector.catch_up_all()  # what a worker does next

    assert {"customers.directory", "customers.activity", "customers.commerce"} <= set(replayed)
    assert _counters(result.customer_id) == live
