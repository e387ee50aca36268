"""A real worker on Redis is killed (SIGKILL) in the middle of sending 2,000 messages, then restarted: every message
reaches the loopback provider exactly once, none is lost, and none is recorded as sent twice."""

import os
import uuid

import pytest
from django.db import transaction
from django.db.models import Count

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.services import message_send
from backoffice.messaging.tasks import messages_drain_task
from customers.services.ingestion import customer_register
from tests.messaging.provider import LoopbackProvider

from .conftest import wait_for
from .workers import sms_through, worker_on_own_queue

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MESSAGES = 2000
CUSTOMERS = 50
QUEUE = f"messaging-kill-{os.getpid()}"


@pytest.fixture
def provider():
    running = LoopbackProvider(hold_at=MESSAGES // 3).start()
    yield running
    running.release.set()
    running.stop()


def messaging_worker(log_path, **settings: str):
    """A worker that alone takes the messaging tasks (not the session's worker), draining 50 messages a batch."""
    return worker_on_own_queue(
        log_path,
        queue=QUEUE,
        routes={"messaging.*": {"queue": QUEUE}},
        MESSAGING_DRAIN_BATCH="50",
        # A transient failure on a loaded machine is retried in a second, not in half a minute.
        MESSAGING_RETRY_BACKOFF_SECONDS="1",
        MESSAGING_RETRY_BACKOFF_MAX_SECONDS="2",
        **settings,
    )


@pytest.fixture
def worker(provider, tmp_path):
    with messaging_worker(tmp_path / "worker.log", **sms_through(provider)) as running:
        yield running


def send_killing_the_worker_mid_way(worker, provider, *, key_prefix: str, delivered: dict) -> tuple[int, int]:
    """MESSAGES service SMS in one commit (one wake-up: the worker drains batch after batch); the worker is killed
    while the provider holds a message it has accepted and the worker has not heard back, then started again.
    Returns (messages in flight at the kill, messages the provider had delivered by then)."""
    customers = [
        customer_register(customer={"phone": f"+3460{n:07d}"}, channel="web", actor="test")[0] for n in range(CUSTOMERS)
    ]
    with transaction.atomic():
        for n in range(MESSAGES):
            message_send(
                customer_id=customers[n % CUSTOMERS],
                channel="sms",
                purpose="service",
                content={"text": f"Aviso {n}"},
                idempotency_key=f"{key_prefix}-{n}-{uuid.uuid4()}",
                actor="test",
            )

    assert provider.holding.wait(timeout=60), "the worker never reached the provider"
    worker.kill()
    provider.release.set()
    in_flight = OutboundMessage.objects.filter(status=Status.SENDING).count()
    delivered_before_kill = len(delivered)
    worker.start()
    return in_flight, delivered_before_kill


def wait_until_all_sent(worker, *, timeout: float, detail: str = "") -> None:
    def all_sent():
        """every message is recorded as sent"""
        messages_drain_task.delay()  # what beat does every few seconds
        return OutboundMessage.objects.filter(status=Status.SENT).count() == MESSAGES

    try:
        wait_for(all_sent, timeout=timeout, interval=1.0)
    except AssertionError:
        states = list(OutboundMessage.objects.values_list("status", "reason").annotate(n=Count("id")).order_by())
        log = worker.log_path.read_text()[-4000:]
        raise AssertionError(f"not all sent: {states}{detail}\n{log}") from None


def test_a_worker_killed_mid_send_and_restarted_delivers_every_message_exactly_once(provider, worker):
    in_flight, delivered_before_kill = send_killing_the_worker_mid_way(
        worker, provider, key_prefix="kill-test", delivered=provider.accepted
    )
    wait_until_all_sent(worker, timeout=90, detail=f"; {len(provider.requests)} requests")

    keys = set(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert 0 < delivered_before_kill < MESSAGES
    assert in_flight > 0, "the kill happened with messages in flight"
    assert set(provider.accepted) == keys  # every message reached the provider: none lost
    assert set(provider.acceptances.values()) == {1}  # no key was accepted twice
    assert len(provider.requests) > MESSAGES  # the interrupted sends were retried, with their keys
    sent_events = Event.objects.filter(type="message.sent")
    assert sent_events.count() == MESSAGES
    assert len(set(sent_events.values_list("stream", flat=True))) == MESSAGES
    stored = dict(OutboundMessage.objects.values_list("idempotency_key", "provider_message_id"))
    assert stored == provider.accepted
