"""A real worker on Redis is killed (SIGKILL) between a journey's steps, twice: while the first step's batches are
being taken, and while everybody waits; restarted each time. Every person gets each step's message exactly once (one
key, one queued event, one acceptance at the provider), nobody is skipped, and the waits survive the restarts."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.celery import app as celery_app
from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.tasks import messages_drain_task
from campaigns import services
from campaigns.journeys.models import JourneyRun
from campaigns.tasks import journeys_tick_task
from customers.services.ingestion import customer_register
from tests.factories import ConsentFactory

from .conftest import wait_for
from .workers import sms_through, worker_taking_every_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PEOPLE = 300
QUEUE = f"journeys-kill-{os.getpid()}"
SMS = {"sms": {"text": "Tu carrito te espera"}}


@pytest.fixture
def worker(provider, tmp_path):
    with worker_taking_every_task(
        tmp_path / "worker.log", queue=QUEUE, **sms_through(provider), JOURNEYS_BATCH_SIZE="10"
    ) as running:
        yield running


def _purge() -> None:
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(QUEUE)


def test_a_worker_killed_between_steps_sends_nothing_twice_and_skips_nothing(provider, worker):
    celery_app.conf.task_always_eager = True  # the people and the journey are made in process
    people = []
    for n in range(PEOPLE):
        customer_id, _ = customer_register(customer={"phone": f"+3467{n:07d}"}, channel="web", actor="test")
        ConsentFactory(customer_id=customer_id, channel="sms", wording="Acepto")
        people.append(customer_id)
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [
            {"id": "first", "kind": "send", "channel": "sms", "variants": SMS, "next": "wait"},
            {"id": "wait", "kind": "wait", "minutes": 1, "next": "second"},
            {"id": "second", "kind": "send", "channel": "sms", "variants": SMS},
        ],
    }
    journey = services.journey_save(
        journey_id=None, values={"name": "Kill", "definition": definition, "holdout_share": "0"}, actor="user:1"
    )
    services.journey_publish(journey_id=journey.id, actor="user:1")
    celery_app.conf.task_always_eager = False
    store.append_batches(  # one commit: the process manager enters everybody, the step workers take batches of 10
        [
            store.StreamAppend(
                f"customer-{cid}",
                [store.NewEvent("page.viewed", {"url": "https://shop.example/"}, customer_id=cid, channel="web")],
            )
            for cid in people
        ]
    )
    runs = JourneyRun.objects.filter(journey=journey)

    def some_at_the_wait():
        """part of the people took the first step"""
        return runs.filter(step="wait").count() >= 40

    wait_for(some_at_the_wait, timeout=90, interval=0.02)
    worker.kill()
    _purge()  # the queued tasks are lost with the worker: the runs' rows and beat's tick are all it has
    first_before_kill = runs.filter(step="wait").count()
    worker.start()

    def everybody_waits():
        """everybody entered and took the first step"""
        journeys_tick_task.delay()  # what beat does
        return runs.count() == PEOPLE and runs.filter(step="wait").count() == PEOPLE

    wait_for(everybody_waits, timeout=120, interval=1.0)
    worker.kill()  # dead while the waits come due
    _purge()
    due = max(runs.values_list("due_at", flat=True))
    time.sleep(max((due - timezone.now()).total_seconds(), 0) + 1)
    worker.start()

    def everybody_done():
        """every run finished and every message sent"""
        journeys_tick_task.delay()
        messages_drain_task.delay()
        finished = runs.filter(status="done").count() == PEOPLE
        return finished and OutboundMessage.objects.filter(status=Status.SENT).count() == 2 * PEOPLE

    wait_for(everybody_done, timeout=180, interval=1.0)

    assert 0 < first_before_kill < PEOPLE
    keys = set(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    expected = {f"journey:{journey.id}:v1:{cid}:1:{step}" for cid in people for step in ("first", "second")}
    assert keys == expected  # nobody skipped, nothing extra
    assert Event.objects.filter(type="message.queued").count() == 2 * PEOPLE
    assert set(provider.accepted) == keys
    assert set(provider.acceptances.values()) == {1}  # no message reached the provider twice
    assert Event.objects.filter(type="journey.entered").count() == PEOPLE
    assert Event.objects.filter(type="journey.exited", data__reason="completed").count() == PEOPLE
    for run in runs:
        assert [step for step, _outcome, _at in run.path] == ["first", "wait", "second"]
        assert run.due_at is None
    assert timezone.now() - max(runs.values_list("finished_at", flat=True)) < timedelta(minutes=5)
