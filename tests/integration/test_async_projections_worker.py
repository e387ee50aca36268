"""After commit, the append hands off to Celery; a real worker on Redis catches the async projections up."""

import uuid

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionCheckpoint
from customers.models import ChannelActivityDaily, Customer
from tests.factories import interaction

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_ingested_events_reach_the_async_projections_through_the_worker(api_client_for, tasks_go_to_the_broker):
    client = api_client_for("integration")
    items = [interaction(id=str(uuid.uuid4()), channel=channel) for channel in ("web", "app", "whatsapp")]

    response = client.post("/api/v1/events", {"events": items}, format="json")
    assert response.status_code == 201
    assert len(response.json()["results"]) == len(items)

    def caught_up():
        """the worker moved every async checkpoint to the last position"""
        checkpoints = ProjectionCheckpoint.objects.filter(name__in=["customers.activity", "customers.channel_daily"])
        # In the store's commit order: the last event a checkpoint holds need not be the highest position.
        return checkpoints.count() == 2 and all(projector.lag(c.name) == 0 for c in checkpoints)

    wait_for(caught_up)
    customer = Customer.objects.get()
    assert customer.interaction_count == 4  # registration + three interactions
    assert customer.channels_used == ["app", "web", "whatsapp"]
    assert sum(ChannelActivityDaily.objects.filter(type="cart.item_added").values_list("count", flat=True)) == 3
