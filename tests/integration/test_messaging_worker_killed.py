"""A real worker on Redis is killed (SIGKILL) in the middle of sending 2,000 messages, then restarted: every message
reaches the loopback provider exactly once, none is lost, and none is recorded as sent twice."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest
from django.db import transaction
from django.db.models import Count

from backoffice.celery import app as celery_app
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.services import message_send
from backoffice.messaging.tasks import messages_drain_task
from customers.services.ingestion import customer_register
from tests.messaging.provider import LoopbackProvider

from .conftest import ROOT, _database_url, reset_task_router, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MESSAGES = 2000
CUSTOMERS = 50
QUEUE = f"messaging-kill-{os.getpid()}"


class Worker:
    """`celery worker` (solo pool: one process, so SIGKILL stops everything it was doing) on its own queue."""

    def __init__(self, env: dict, log_path):
        self.env, self.log_path, self.process = env, log_path, None
        self.name = f"kill-{os.getpid()}@{socket.gethostname()}"

    def start(self) -> None:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "backoffice",
                    "worker",
                    "--pool=solo",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-Q",
                    QUEUE,
                    "-n",
                    self.name,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited at start:\n{self.log_path.read_text()}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"the worker did not answer within 60 s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def provider():
    running = LoopbackProvider(hold_at=MESSAGES // 3).start()
    yield running
    running.release.set()
    running.stop()


@pytest.fixture
def worker(provider, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "MESSAGING_BACKEND_SMS": "webhook",
        "MESSAGING_WEBHOOK_URL_SMS": provider.url,
        "MESSAGING_SENDING_STALE_SECONDS": "2",
        "MESSAGING_DRAIN_BATCH": "50",
        # A transient failure on a loaded machine is retried in a second, not in half a minute.
        "MESSAGING_RETRY_BACKOFF_SECONDS": "1",
        "MESSAGING_RETRY_BACKOFF_MAX_SECONDS": "2",
    }
    running = Worker(env, tmp_path / "worker.log")
    celery_app.control.purge()
    routes, eager = celery_app.conf.task_routes, celery_app.conf.task_always_eager
    # Only this worker may send them (not the session's worker).
    celery_app.conf.task_routes = {"messaging.*": {"queue": QUEUE}}
    celery_app.conf.task_always_eager = False
    reset_task_router()
    running.start()
    yield running
    running.stop()
    celery_app.conf.task_routes, celery_app.conf.task_always_eager = routes, eager
    reset_task_router()


def test_a_worker_killed_mid_send_and_restarted_delivers_every_message_exactly_once(provider, worker):
    customers = [
        customer_register(customer={"phone": f"+3460{n:07d}"}, channel="web", actor="test")[0] for n in range(CUSTOMERS)
    ]
    with transaction.atomic():  # one commit, one wake-up: the worker drains batch after batch
        for n in range(MESSAGES):
            message_send(
                customer_id=customers[n % CUSTOMERS],
                channel="sms",
                purpose="service",
                content={"text": f"Aviso {n}"},
                idempotency_key=f"kill-test-{n}-{uuid.uuid4()}",
                actor="test",
            )

    assert provider.holding.wait(timeout=60), "the worker never reached the provider"
    worker.kill()  # while the provider holds a message it has accepted and the worker has not heard back
    provider.release.set()
    in_flight = OutboundMessage.objects.filter(status=Status.SENDING).count()
    delivered_before_kill = len(provider.accepted)
    worker.start()

    def all_sent():
        """every message is recorded as sent"""
        messages_drain_task.delay()  # what beat does every few seconds
        return OutboundMessage.objects.filter(status=Status.SENT).count() == MESSAGES

    try:
        wait_for(all_sent, timeout=90, interval=1.0)
    except AssertionError:
        states = list(OutboundMessage.objects.values_list("status", "reason").annotate(n=Count("id")).order_by())
        log = worker.log_path.read_text()[-4000:]
        raise AssertionError(f"not all sent: {states}; {len(provider.requests)} requests\n{log}") from None

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
