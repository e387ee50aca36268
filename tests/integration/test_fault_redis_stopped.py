"""Redis (the broker) stopped for a while under traffic: requests still succeed (the work is in the database), and
when Redis returns the outbox is drained and the async projections catch up: every message sent once, every event
applied once, nothing lost or doubled.

A redis-server of this test's own on 127.0.0.1:6380 (never the shared 6379) behind a gunicorn, a Celery worker and a
Celery beat, on the test database; a loopback SMS provider counts what it is asked to send."""

import os
import time
import uuid

import pytest
import requests

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from benchmarks.support.faults import ROOT, Server, ThrowawayRedis, manage
from customers.models import ChannelActivityDaily
from tests.messaging.provider import LoopbackProvider

from .conftest import _database_url, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PORT = 18602
DOWN_SECONDS = float(os.environ.get("FAULT_REDIS_DOWN_SECONDS", "12"))
EVENTS = 40
REPLIES = 10
ASYNC = ("customers.activity", "customers.channel_daily")


@pytest.fixture
def stack(tmp_path):
    import subprocess
    import sys

    provider = LoopbackProvider().start()
    redis = ThrowawayRedis(port=6380).start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.local",
        "DEBUG": "false",
        "SECRET_KEY": "fault-test-secret-key-long-enough-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": redis.url,
        "MESSAGING_BACKEND_SMS": "webhook",
        "MESSAGING_WEBHOOK_URL_SMS": provider.url,
        "MESSAGING_WEBHOOK_SECRET_SMS": "fault-test-webhook-secret",
        "MESSAGING_QUIET_HOURS": "off",
    }
    token = manage(env, "api_token", "faults", "--create", "--role", "admin").strip().splitlines()[-1]
    commands = {
        "worker": ["worker", "--pool=solo", "-l", "INFO", "--without-gossip", "--without-mingle", "-n", "faults@%h"],
        "beat": ["--quiet", "beat", "-l", "INFO", "-s", str(tmp_path / "schedule")],
    }
    processes: dict = {}
    restarts: list[str] = []

    def start(name: str) -> None:
        with open(tmp_path / f"{name}.log", "a") as log:
            processes[name] = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "celery", "-A", "backoffice", *commands[name]],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def supervise() -> None:
        """What deploy/systemd's Restart=always does: a Celery process that exited is started again. (A worker with
        unacknowledged messages when the broker drops exits with kombu's "Unrecoverable error: 'NoneType' object has
        no attribute 'hostname'" while restoring them; its messages are redelivered.)"""
        for name, process in processes.items():
            if process.poll() is not None:
                restarts.append(name)
                start(name)

    for name in commands:
        start(name)
    server = Server(env, PORT, tmp_path / "gunicorn.log").start()
    yield {
        "server": server,
        "redis": redis,
        "provider": provider,
        "token": token,
        "logs": tmp_path,
        "supervise": supervise,
        "restarts": restarts,
    }
    server.stop()
    for process in processes.values():
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    redis.cleanup()
    provider.stop()


def test_with_redis_stopped_requests_succeed_and_everything_catches_up_once_it_returns(stack):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {stack['token']}"
    api = f"{stack['server'].url}/api/v1"
    provider, redis = stack["provider"], stack["redis"]
    case = session.post(
        f"{api}/cases", json={"customer": {"phone": "+34600111222"}, "channel": "sms", "subject": "Pedido"}
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    first = session.post(f"{api}/cases/{case_id}/messages", json={"channel": "sms", "text": "Hola"})
    assert first.status_code == 201, first.text
    wait_for(lambda: len(provider.accepted) == 1, timeout=60)  # the pipeline works with Redis up

    redis.stop()
    down_since = time.monotonic()
    event_ids = [str(uuid.uuid4()) for _ in range(EVENTS)]
    statuses = []
    for event_id in event_ids:
        event = {
            "id": event_id,
            "type": "product.viewed",
            "channel": "app",
            "occurred_at": "2026-11-20T10:00:00+01:00",
            "customer": {"phone": "+34600111222"},
            "data": {"sku": "TEE-1"},
        }
        statuses.append(session.post(f"{api}/events", json=event).status_code)
    reply_ids = [str(uuid.uuid4()) for _ in range(REPLIES)]
    for n, reply_id in enumerate(reply_ids):
        body = {"id": reply_id, "channel": "sms", "text": f"Respuesta {n}"}
        statuses.append(session.post(f"{api}/cases/{case_id}/messages", json=body).status_code)
    time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))
    assert len(provider.accepted) == 1  # nothing could be sent meanwhile...
    redis.start()

    def caught_up():
        """every reply sent and every async projection at the head"""
        stack["supervise"]()
        sent = OutboundMessage.objects.filter(status=Status.SENT).count()
        # At the head in the store's commit order (the last event applied need not hold the highest position).
        return sent == REPLIES + 1 and all(projector.lag(n) == 0 for n in ASYNC)

    wait_for(caught_up, timeout=180, interval=1.0)

    assert statuses == [201] * (EVENTS + REPLIES)  # ...but every request was taken
    assert Event.objects.filter(id__in=event_ids).count() == EVENTS
    assert sum(ChannelActivityDaily.objects.filter(type="product.viewed").values_list("count", flat=True)) == EVENTS
    assert OutboundMessage.objects.count() == REPLIES + 1
    assert len(provider.accepted) == REPLIES + 1
    assert set(provider.acceptances.values()) == {1}  # none sent twice
    print(
        f"\nRedis down {DOWN_SECONDS:.0f} s: {EVENTS} events and {REPLIES} replies taken meanwhile; after it came back "
        f"{len(provider.accepted)} messages sent once each, projections at the head; Celery processes restarted by "
        f"the supervisor: {stack['restarts'] or 'none'}"
    )
