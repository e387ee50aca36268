"""A real worker on Redis is killed (SIGKILL) in the middle of catching the asynchronous projections up, then
restarted: every event is applied exactly once (no event skipped, none counted twice), because each batch and its
checkpoint commit together and a killed transaction leaves neither."""

import os

import pytest

from backoffice.celery import app as celery_app
from backoffice.eventstore.models import Event, ProjectionCheckpoint
from backoffice.eventstore.tasks import catch_up_projections_task
from customers.models import ChannelActivityDaily, Customer
from tests.factories import interaction

from .conftest import reset_task_router, wait_for
from .workers import worker_taking_every_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = f"projections-kill-{os.getpid()}"
PEOPLE = 40
EVENTS_EACH = 150  # 6,000 interactions: several batches of BATCH per projection
BATCH = 2000
ASYNC = ("customers.activity", "customers.channel_daily")


@pytest.fixture
def worker(tmp_path):
    with worker_taking_every_task(
        tmp_path / "worker.log",
        queue=QUEUE,
        start=False,
        EVENTSTORE_CATCH_UP_BATCH=str(BATCH),  # the kill must land between two batches' commits
    ) as running:
        yield running


def test_a_worker_killed_mid_catch_up_and_restarted_applies_every_event_once(api_client_for, worker):
    client = api_client_for("integration")
    worker.start()
    # The appends' own wake-ups go to a queue nobody reads (then emptied): the catch-up starts when the test says.
    parked = f"{QUEUE}-parked"
    celery_app.conf.task_routes = {"*": {"queue": parked}}
    reset_task_router()
    for person in range(PEOPLE):
        batch = [
            interaction(
                channel=("web", "app", "whatsapp")[n % 3],
                customer={"email": f"persona{person}@example.es"},
                occurred_at=f"2026-11-{1 + n % 28:02d}T10:00:00+01:00",
            )
            for n in range(EVENTS_EACH)
        ]
        assert client.post("/api/v1/events", {"events": batch}, format="json").status_code == 201
    head = Event.objects.order_by("-position").values_list("position", flat=True).first()
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(parked)
    celery_app.conf.task_routes = {"*": {"queue": QUEUE}}
    reset_task_router()
    assert not ProjectionCheckpoint.objects.filter(name__in=ASYNC, position__gt=0).exists()
    catch_up_projections_task.delay()

    def under_way():
        """an async projection has moved, and not all the way"""
        positions = dict(ProjectionCheckpoint.objects.filter(name__in=ASYNC).values_list("name", "position"))
        return any(p > 0 for p in positions.values()) and not all(positions.get(n, 0) >= head for n in ASYNC)

    wait_for(under_way, timeout=120, interval=0.01)
    worker.kill()
    positions_at_kill = dict(ProjectionCheckpoint.objects.filter(name__in=ASYNC).values_list("name", "position"))
    worker.start()

    def caught_up():
        """every async projection reached the head"""
        catch_up_projections_task.delay()  # what beat does every 5 s
        positions = dict(ProjectionCheckpoint.objects.filter(name__in=ASYNC).values_list("name", "position"))
        return all(positions.get(n, 0) >= head for n in ASYNC)

    wait_for(caught_up, timeout=240, interval=1.0)

    assert not all(positions_at_kill.get(n, 0) >= head for n in ASYNC)  # the kill did interrupt the catch-up
    total = PEOPLE * EVENTS_EACH
    counted = sum(ChannelActivityDaily.objects.filter(type="cart.item_added").values_list("count", flat=True))
    assert counted == total
    # Each person: registration plus their interactions, none missing and none twice.
    assert sorted(Customer.objects.values_list("interaction_count", flat=True)) == [EVENTS_EACH + 1] * PEOPLE
