"""The kill test again with a real provider backend: 2,000 SMS through the Twilio backend (the `twilio` library,
pointed at a loopback Messages API by TWILIO_BASE_URL), a worker SIGKILLed while the provider holds a message it
accepted, then restarted: every message reaches the provider exactly once, none is lost or recorded as sent twice.

The loopback API dedupes creates by I-Twilio-Idempotency-Token, and the worker runs with TWILIO_IDEMPOTENCY_HONOURED
(the backend's documented switch for an endpoint that does), so interrupted sends are resent with their keys."""

import os
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
from tests.messaging.providers.loopback import LoopbackProviders

from .conftest import _database_url, reset_task_router, wait_for
from .test_messaging_worker_killed import CUSTOMERS, MESSAGES, QUEUE, Worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SID, TOKEN = "AC" + "1" * 32, "kill-test-token"


@pytest.fixture
def twilio_api():
    running = LoopbackProviders(twilio_sid=SID, twilio_token=TOKEN, hold_at=MESSAGES // 3).start()
    yield running
    running.release.set()
    running.stop()


@pytest.fixture
def worker(twilio_api, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "MESSAGING_BACKEND_SMS": "twilio",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_SMS": "+34911000000",
        "TWILIO_BASE_URL": twilio_api.url,
        "TWILIO_IDEMPOTENCY_HONOURED": "true",
        "MESSAGING_SENDING_STALE_SECONDS": "2",
        "MESSAGING_DRAIN_BATCH": "50",
        "MESSAGING_RETRY_BACKOFF_SECONDS": "1",
        "MESSAGING_RETRY_BACKOFF_MAX_SECONDS": "2",
    }
    running = Worker(env, tmp_path / "worker.log")
    celery_app.control.purge()
    routes, eager = celery_app.conf.task_routes, celery_app.conf.task_always_eager
    celery_app.conf.task_routes = {"messaging.*": {"queue": QUEUE}}
    celery_app.conf.task_always_eager = False
    reset_task_router()
    running.start()
    yield running
    running.stop()
    celery_app.conf.task_routes, celery_app.conf.task_always_eager = routes, eager
    reset_task_router()


def test_a_worker_killed_mid_send_through_twilio_delivers_every_message_once(twilio_api, worker):
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
                idempotency_key=f"kill-twilio-{n}-{uuid.uuid4()}",
                actor="test",
            )

    assert twilio_api.holding.wait(timeout=60), "the worker never reached the provider"
    worker.kill()
    twilio_api.release.set()
    in_flight = OutboundMessage.objects.filter(status=Status.SENDING).count()
    delivered_before_kill = len(twilio_api.answered)
    worker.start()

    def all_sent():
        """every message is recorded as sent"""
        messages_drain_task.delay()
        return OutboundMessage.objects.filter(status=Status.SENT).count() == MESSAGES

    try:
        wait_for(all_sent, timeout=120, interval=1.0)
    except AssertionError:
        states = list(OutboundMessage.objects.values_list("status", "reason").annotate(n=Count("id")).order_by())
        raise AssertionError(f"not all sent: {states}\n{worker.log_path.read_text()[-4000:]}") from None

    keys = set(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert 0 < delivered_before_kill < MESSAGES
    assert in_flight > 0, "the kill happened with messages in flight"
    assert set(twilio_api.answered) == keys  # every message reached Twilio: none lost
    assert set(twilio_api.deliveries.values()) == {1}  # and each was delivered once
    assert len(twilio_api.by("twilio")) > MESSAGES  # the interrupted sends were resent, with their tokens
    assert Event.objects.filter(type="message.sent").count() == MESSAGES
    stored = dict(OutboundMessage.objects.values_list("idempotency_key", "provider_message_id"))
    assert stored == twilio_api.answered
