"""The facts the steps read (campaigns.journeys.services.facts): a branch on the customer 360 reads it once the
asynchronous projections the segment rules read have caught up with the run."""

import pytest

from backoffice.eventstore import projector

from .conftest import publish, run_of, settle

pytestmark = pytest.mark.django_db


def _vip_branch():
    return {
        "trigger": {"kind": "event", "event": "order.placed"},
        "steps": [
            {
                "id": "vip",
                "kind": "branch",
                "condition": {
                    "source": "profile",
                    "rules": {"op": "and", "rules": [{"field": "lifetime_value", "cmp": "gte", "value": "50"}]},
                },
                "yes": "tag-vip",
                "no": "tag-other",
            },
            {"id": "tag-vip", "kind": "tag", "tag": "vip"},
            {"id": "tag-other", "kind": "tag", "tag": "other"},
        ],
    }


def _order(customer):
    from orders import services as order_services

    order_services.order_place(
        customer=str(customer),
        channel="store",
        lines=[{"sku": "ZAP-RUN", "quantity": 1}],
        fulfilment={"method": "pickup", "location": "MAD-01"},
        actor="test",
    )


def test_a_branch_on_the_profile_right_after_the_triggering_order_sees_that_order(person, shop):
    """A journey started by order.placed whose first step branches on the customer 360 (lifetime_value >= 50). The
    order figures the segment rules read are an asynchronous projection (customers.commerce); the process manager and
    the step worker did not wait for it, so the branch read the profile as it was before the triggering order of
    69.90 and took "no". (The test places the order as the API does and leaves the projection to its worker.)"""
    customer = person(consents=("email",))
    journey = publish(_vip_branch())
    _order(customer)
    settle()

    assert run_of(journey, customer).path[0][:2] == ["vip", "yes"]


def test_a_run_of_a_profile_branch_waits_while_the_profile_is_behind_it(person, shop):
    """When the projections cannot be caught up from the step worker (another worker holds them), the run is not
    taken: it waits where it is until they have read everything recorded before it came due."""
    from unittest import mock

    customer = person(consents=("email",))
    journey = publish(_vip_branch())
    _order(customer)
    with mock.patch.object(projector, "catch_up_all", return_value={}):
        settle()
        assert run_of(journey, customer).path == []

    settle()
    assert run_of(journey, customer).path[0][:2] == ["vip", "yes"]
