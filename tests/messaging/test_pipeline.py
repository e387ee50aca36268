"""The drain at send time: consent, address, channel switch, quiet hours (deferred, never dropped), retries with
backoff up to a limit, and a worker that died mid-send."""

import gc
import uuid
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from django.db.models import F
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.backends.base import Backend
from backoffice.messaging.backends.local import MemoryBackend
from backoffice.messaging.errors import unreached
from backoffice.messaging.models import ChannelSetting, OutboundMessage, Status
from backoffice.messaging.services import message_requeue, message_send, messages_drain, messages_release_deferred
from backoffice.messaging.tasks import messages_release_deferred_task
from customers.models import Customer
from customers.services import customer_erase

from .conftest import event_types, message_events
from .provider import LoopbackProvider

pytestmark = pytest.mark.django_db


def _send(customer_id, channel="sms", purpose="marketing", content=None, key=None):
    return message_send(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        content=content or {"text": "Rebajas: 20% en todo"},
        idempotency_key=key or f"test-{uuid.uuid4()}",
        actor="test",
        campaign_id="c-1",
    )


@pytest.fixture
def provider(settings):
    running = LoopbackProvider().start()
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "sms": "webhook"}
    settings.MESSAGING_WEBHOOK_URLS = {**settings.MESSAGING_WEBHOOK_URLS, "sms": running.url}
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 0
    yield running
    running.stop()


def test_marketing_without_consent_is_suppressed_and_not_delivered(customer, outbox):
    message = _send(customer())

    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.SUPPRESSED, "no_consent")
    assert outbox == []
    assert event_types(message) == ["message.queued", "message.suppressed"]
    suppressed = message_events(message)[1]
    assert suppressed.data["reason"] == "no_consent"
    assert suppressed.data["campaign_id"] == "c-1"


def test_a_consent_withdrawn_after_queueing_is_honoured_at_send_time(customer, grant, outbox):
    customer_id = customer()
    grant(customer_id, "sms")
    message = _send(customer_id)

    grant(customer_id, "sms", granted=False)
    messages_drain()

    message.refresh_from_db()
    assert message.reason == "no_consent"
    assert outbox == []


def test_marketing_with_consent_is_delivered(customer, grant, outbox):
    customer_id = customer(phone="+34611000111")
    grant(customer_id, "sms")

    message = _send(customer_id)
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert [m.to for m in outbox] == ["+34611000111"]


def test_a_customer_without_an_address_on_the_channel_is_suppressed(customer, outbox):
    message = _send(customer(phone=None), purpose="service")

    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.SUPPRESSED, "no_address")
    assert outbox == []


def test_a_disabled_channel_suppresses_its_messages(customer, outbox):
    ChannelSetting.objects.create(channel="sms", is_enabled=False)

    message = _send(customer(), purpose="service")
    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.SUPPRESSED, "channel_disabled")
    assert outbox == []


def test_an_erased_customer_is_not_contacted(customer, outbox):
    customer_id = customer()
    message = _send(customer_id, purpose="service")

    customer_erase(customer_id=customer_id, actor="test")
    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.SUPPRESSED, "customer_erased")
    assert outbox == []


def _quiet_window_around_now(tz: str, *, ends_in: timedelta) -> tuple[str, datetime]:
    local_now = timezone.now().astimezone(ZoneInfo(tz))
    start = (local_now - timedelta(hours=1)).strftime("%H:%M:%S")
    end_at = (local_now + ends_in).replace(microsecond=0)
    return f"{start}-{end_at.strftime('%H:%M:%S')}", end_at


def test_quiet_hours_in_the_customers_zone_defer_the_message_to_the_window_end(customer, grant, outbox, settings):
    customer_id = customer()
    grant(customer_id, "sms")
    Customer.objects.filter(id=customer_id).update(time_zone="America/Mexico_City")
    settings.MESSAGING_QUIET_HOURS, end_at = _quiet_window_around_now("America/Mexico_City", ends_in=timedelta(hours=2))

    message = _send(customer_id)
    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.DEFERRED, "quiet_hours")
    assert message.not_before == end_at
    deferred = message_events(message)[-1]
    assert deferred.type == "message.deferred"
    assert datetime.fromisoformat(deferred.data["until"]) == end_at
    assert outbox == []

    assert messages_release_deferred() == 0  # not due yet: still held
    assert OutboundMessage.objects.get().status == Status.DEFERRED


def test_a_deferred_message_is_released_and_sent_when_quiet_hours_end(
    customer, grant, outbox, settings, monkeypatch, django_capture_on_commit_callbacks
):
    customer_id = customer()
    grant(customer_id, "sms")
    # Quiet hours end in an hour and the clock is moved past their end: a window ending 2-3 s ahead, slept through,
    # was over before the drain on a machine that stalled that long, and the message was sent, not deferred.
    settings.MESSAGING_QUIET_HOURS, end_at = _quiet_window_around_now(settings.TIME_ZONE, ends_in=timedelta(hours=1))
    message = _send(customer_id)
    messages_drain()
    assert OutboundMessage.objects.get().status == Status.DEFERRED
    assert messages_release_deferred() == 0  # not due yet: still held

    # A second past the end in UTC: arithmetic on the local time is wall-clock, and a second after a quiet-hours end
    # in the hour a DST change skips is an hour before it.
    past_the_end = end_at.astimezone(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: past_the_end)
    with django_capture_on_commit_callbacks(execute=True):
        messages_release_deferred_task.delay()

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(outbox) == 1
    assert event_types(message) == ["message.queued", "message.deferred", "message.sent"]


def test_service_messages_skip_quiet_hours_when_the_channel_says_so(customer, outbox, settings):
    settings.MESSAGING_QUIET_HOURS, _ = _quiet_window_around_now(settings.TIME_ZONE, ends_in=timedelta(hours=1))
    ChannelSetting.objects.create(channel="sms", quiet_hours_for_service=False)

    service = _send(customer(), purpose="service")
    messages_drain()

    service.refresh_from_db()
    assert service.status == Status.SENT


def test_the_deferred_release_runs_on_beat(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {"messaging.release_deferred", "messaging.drain"} <= tasks


def test_a_provider_outage_is_retried_with_backoff_then_fails_for_good(customer, provider, settings):
    settings.MESSAGING_MAX_ATTEMPTS = 3
    provider.status = 503

    message = _send(customer(), purpose="service")
    result = messages_drain()

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.FAILED, 3)
    assert result.retrying == 2
    assert result.failed == 1
    failures = [e for e in message_events(message) if e.type == "message.failed"]
    assert [(e.data["attempt"], e.data["terminal"]) for e in failures] == [(1, False), (2, False), (3, True)]
    assert {e.data["reason"] for e in failures} == {"provider answered 503"}
    assert len(provider.requests) == 3


def test_a_retry_waits_for_its_backoff(customer, provider, settings):
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 60
    provider.status = 503

    message = _send(customer(), purpose="service")
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.attempts == 1
    assert timedelta(seconds=55) < message.not_before - timezone.now() <= timedelta(seconds=60)
    assert len(provider.requests) == 1


def test_a_provider_refusal_is_terminal_at_once(customer, provider):
    provider.status = 400

    message = _send(customer(), purpose="service")
    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.FAILED, 1)
    assert message_events(message)[-1].data | {"case_id": None, "order_id": None, "variant": None} == {
        "message_id": str(message.id),
        "purpose": "service",
        "campaign_id": "c-1",
        "case_id": None,
        "order_id": None,
        "variant": None,
        "reason": "provider answered 400",
        "terminal": True,
        "attempt": 1,
    }


def _worker_died_while_sending(message, backend: str) -> None:
    """What a worker killed between the attempt's commit and the provider's answer leaves behind."""
    OutboundMessage.objects.filter(id=message.id).update(
        status=Status.SENDING, attempts=1, backend=backend, sending_since=timezone.now() - timedelta(hours=1)
    )


def test_a_send_interrupted_by_a_dead_worker_is_resent_with_the_same_key_when_the_backend_honours_keys(
    customer, provider
):
    message = _send(customer(), purpose="service", key="order-9-ready")
    _worker_died_while_sending(message, "webhook")
    provider.accepted["order-9-ready"] = "prov-already"  # it had reached the provider before the worker died

    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.attempts) == (Status.SENT, "prov-already", 2)
    assert [r.idempotency_key for r in provider.requests] == ["order-9-ready"]
    assert event_types(message) == ["message.queued", "message.sent"]


def test_a_send_interrupted_on_a_backend_without_keys_is_held_for_review_not_resent(customer, settings, outbox):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "email": "smtp"}
    message = _send(customer(), channel="email", purpose="service", content={"subject": "Hola", "body": "x"})
    _worker_died_while_sending(message, "smtp")

    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.REVIEW, "outcome_unknown")
    failed = message_events(message)[-1]
    assert (failed.type, failed.data["terminal"]) == ("message.failed", True)

    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "email": "memory"}
    message_requeue(message_id=message.id, actor="user:1")
    messages_drain()
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(outbox) == 1


def test_a_row_still_sending_recently_is_left_to_its_worker(customer, provider):
    message = _send(customer(), purpose="service")
    OutboundMessage.objects.filter(id=message.id).update(
        status=Status.SENDING, attempts=1, backend="webhook", sending_since=timezone.now()
    )

    messages_drain()

    assert OutboundMessage.objects.get().status == Status.SENDING
    assert provider.requests == []


def test_the_drain_sends_each_message_once_however_often_it_runs(customer, outbox):
    ids = [customer() for _ in range(3)]
    for customer_id in ids:
        _send(customer_id, purpose="service")

    messages_drain(batch_size=2)
    messages_drain()

    assert len(outbox) == 3
    assert Event.objects.filter(type="message.sent").count() == 3


def test_a_paused_channel_keeps_its_messages_queued_until_resumed(customer, outbox):
    setting = ChannelSetting.objects.create(channel="sms", is_paused=True)
    message = _send(customer(), purpose="service")

    messages_drain()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.QUEUED, 0)
    assert outbox == []

    setting.is_paused = False
    setting.save()
    messages_drain()
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_one_drain_batch_suppresses_the_revoked_customer_and_sends_every_other_message_once(customer, grant, outbox):
    people = [customer() for _ in range(8)]
    for customer_id in people:
        grant(customer_id, "sms")
    messages = [_send(customer_id) for customer_id in people]
    grant(people[3], "sms", granted=False)

    first = messages_drain(batch_size=500)
    again = messages_drain(batch_size=500)

    assert (first.sent, first.suppressed, first.batches) == (7, 1, 1)
    assert (again.sent, again.suppressed) == (0, 0)
    assert sorted(m.idempotency_key for m in outbox) == sorted(
        m.idempotency_key for m in messages if m.customer_id != people[3]
    )
    by_id = {row.id: row for row in OutboundMessage.objects.all()}
    assert by_id[messages[3].id].status == Status.SUPPRESSED
    assert {by_id[m.id].status for m in messages if m.customer_id != people[3]} == {Status.SENT}
    assert all(by_id[m.id].attempts == 1 and by_id[m.id].sent_at for m in messages if m.customer_id != people[3])
    assert Event.objects.filter(type="message.sent").count() == 7
    assert event_types(messages[3]) == ["message.queued", "message.suppressed"]


class OvertakenBackend(MemoryBackend):
    """A provider so slow that a recovery takes the row meanwhile (its own attempt counted) before the send returns."""

    def send(self, message):
        OutboundMessage.objects.filter(id=message.message_id).update(attempts=F("attempts") + 1)
        return super().send(message)


def test_a_worker_overtaken_by_a_recovery_records_nothing_for_that_message(customer, settings, outbox):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "email": f"{__name__}.OvertakenBackend"}
    overtaken = _send(customer(), channel="email", purpose="service", content={"subject": "Pedido", "body": "Listo"})
    kept = _send(customer(), purpose="service")

    result = messages_drain(batch_size=500)

    assert result.sent == 1
    overtaken.refresh_from_db()
    assert (overtaken.status, overtaken.attempts) == (Status.SENDING, 2)
    assert event_types(overtaken) == ["message.queued"]
    assert event_types(kept) == ["message.queued", "message.sent"]


class CollectorWatchingBackend(MemoryBackend):
    """Notes whether Python's cycle collector was on while each message was sent."""

    collector_on_during_send: ClassVar[list[bool]] = []

    def send(self, message):
        self.collector_on_during_send.append(gc.isenabled())
        return super().send(message)


def test_the_cycle_collector_is_paused_while_a_batch_is_sent_and_on_again_after_the_drain(customer, settings, outbox):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "sms": f"{__name__}.CollectorWatchingBackend"}
    CollectorWatchingBackend.collector_on_during_send.clear()
    for _ in range(3):
        _send(customer(), purpose="service")
    assert gc.isenabled()

    result = messages_drain(batch_size=2)

    assert (result.sent, result.batches) == (3, 2)
    assert CollectorWatchingBackend.collector_on_during_send == [False, False, False]
    assert gc.isenabled()


class InterruptedBackend(MemoryBackend):
    """The worker is told to stop (Ctrl-C, a hard shutdown) in the middle of a send."""

    def send(self, message):
        raise KeyboardInterrupt


def test_the_cycle_collector_is_on_again_after_a_drain_that_was_interrupted(customer, settings):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "sms": f"{__name__}.InterruptedBackend"}
    _send(customer(), purpose="service")

    with pytest.raises(KeyboardInterrupt):
        messages_drain()

    assert gc.isenabled()


def test_a_send_interrupted_on_a_backend_with_keys_is_held_for_review_when_the_channel_moved_to_one_without(
    customer, settings
):
    """Resent only through the backend it was sent through: a channel switched meanwhile to a provider that cannot
    drop a repeated key would deliver a second copy."""
    message = _send(customer(), purpose="service")
    _worker_died_while_sending(message, "webhook")
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "sms": "console"}

    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.REVIEW, "outcome_unknown")


class _UnreachedBackend(Backend):
    """A provider without idempotency keys whose call fails with `failure`, counting the calls."""

    failure: ClassVar[BaseException]
    calls: ClassVar[int] = 0

    def send(self, message):
        type(self).calls += 1
        raise unreached("provider unreachable", self.failure)


class TimedOutBackend(_UnreachedBackend):
    name = "timed-out"
    failure = TimeoutError("the answer did not come in time")  # the request was written: perhaps sent


class RefusedBackend(_UnreachedBackend):
    name = "refused"
    failure = ConnectionRefusedError(111, "Connection refused")  # never connected: certainly not sent


@pytest.mark.parametrize(
    ("backend", "status", "reason"),
    [(TimedOutBackend, Status.REVIEW, "outcome_unknown"), (RefusedBackend, Status.QUEUED, "provider unreachable")],
)
def test_a_send_that_may_have_left_is_held_for_review_and_one_that_never_left_is_retried(
    customer, settings, backend, status, reason
):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "sms": f"{__name__}.{backend.__name__}"}
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 60
    backend.calls = 0
    message = _send(customer(), purpose="service")

    messages_drain()
    messages_drain()

    message.refresh_from_db()
    assert (message.status, message.reason, backend.calls) == (status, reason, 1)
