"""Status callbacks received one per request (Twilio's) are committed as received and applied in batches: with a
broker the request only stores the callback and wakes the applying task; nothing accepted is lost, each callback is
recorded once whenever and however often it arrives, and one bad row does not hold the others back."""

import threading
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from backoffice.eventstore.models import Event
from backoffice.messaging.models import ReceivedCallback, StatusCallback, UnmatchedCallback
from backoffice.messaging.services import received
from backoffice.messaging.services.received import received_callbacks_apply, status_callback_receive
from backoffice.messaging.services.status import StatusCallbackData
from backoffice.messaging.tasks import received_callbacks_apply_task
from backoffice.messaging.vocabulary import DeliveryStatus

from .conftest import twilio_post
from .helpers import send_and_drain
from .test_twilio import PHONE, status_params


@pytest.fixture
def with_broker(settings, monkeypatch):
    """As in production: tasks go to a broker (here: the publishing is recorded, nothing runs)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MESSAGING_CALLBACK_APPLY_DELAY = 30  # one wake per process within the test
    published: list[tuple[float, str]] = []
    monkeypatch.setattr(received, "task_send_in", lambda seconds, name: published.append((seconds, name)))
    monkeypatch.setattr(received, "_next_wake", 0.0)
    return published


def delivered(row) -> int:
    return Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count()


@pytest.mark.django_db
def test_eagerly_a_callback_is_applied_before_the_answer(providers, customer, client):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})

    response = twilio_post(client, "status", status_params("twilio_status_delivered.json", row.provider_message_id))

    assert response.status_code == 204
    assert delivered(row) == 1
    assert not ReceivedCallback.objects.exists()


@pytest.mark.django_db
def test_with_a_broker_the_request_stores_the_callback_and_wakes_the_task_once(
    providers, customer, client, with_broker, django_capture_on_commit_callbacks
):
    person = customer(phone=PHONE)
    rows = [send_and_drain(person, "sms", {"text": f"Aviso {n}"}) for n in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            twilio_post(client, "status", status_params("twilio_status_delivered.json", row.provider_message_id))
            for row in rows
        ]

    assert [a.status_code for a in answers] == [204, 204, 204]
    assert ReceivedCallback.objects.count() == 3
    assert [delivered(row) for row in rows] == [0, 0, 0]  # stored, not applied yet
    assert with_broker == [(30, "messaging.callbacks_apply")]  # one wake for the three, due after their commits
    stored = ReceivedCallback.objects.first().data_encrypted
    assert PHONE not in stored  # the address is personal: sealed
    assert "+34" not in stored

    assert received_callbacks_apply_task.apply().result == 3

    assert [delivered(row) for row in rows] == [1, 1, 1]
    assert not ReceivedCallback.objects.exists()


@pytest.mark.django_db
def test_a_resend_after_the_first_copy_was_applied_records_nothing(providers, customer, client, with_broker):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    params = status_params("twilio_status_delivered.json", row.provider_message_id)

    twilio_post(client, "status", params)
    twilio_post(client, "status", params)  # resent before anything was applied
    assert received_callbacks_apply() == 2
    twilio_post(client, "status", params)  # and after
    assert received_callbacks_apply() == 1

    assert delivered(row) == 1
    assert StatusCallback.objects.filter(message_id=row.id).count() == 1


@pytest.mark.django_db
def test_a_callback_about_no_message_yet_is_kept_for_a_retry(providers, client, with_broker):
    status_callback_receive(
        source="twilio.status",
        callback=StatusCallbackData(channel="sms", provider_message_id="SMnotours", status="delivered", address=PHONE),
    )

    assert received_callbacks_apply() == 1

    assert not ReceivedCallback.objects.exists()
    kept = UnmatchedCallback.objects.get()
    assert (kept.source, kept.provider_message_id, kept.status) == ("twilio.status", "SMnotours", "delivered")


@pytest.mark.django_db
def test_one_bad_row_stays_alone_and_the_others_are_applied(providers, customer, with_broker, caplog):
    person = customer(phone=PHONE)
    rows = [send_and_drain(person, "sms", {"text": f"Aviso {n}"}) for n in range(2)]
    for row in rows[:1]:
        status_callback_receive(
            source="twilio.status",
            callback=StatusCallbackData(channel="sms", provider_message_id=row.provider_message_id, status="delivered"),
        )
    bad = ReceivedCallback.objects.create(source="twilio.status", received_at=rows[0].created_at, data_encrypted="x")
    status_callback_receive(
        source="twilio.status",
        callback=StatusCallbackData(channel="sms", provider_message_id=rows[1].provider_message_id, status="read"),
    )

    assert received_callbacks_apply() == 2

    assert list(ReceivedCallback.objects.values_list("id", flat=True)) == [bad.id]  # kept, not lost
    assert delivered(rows[0]) == 1
    assert Event.objects.filter(type="message.read", stream=f"message-{rows[1].id}").count() == 1
    assert f"received callback {bad.id} from twilio.status not applied" in caplog.text


def test_an_unknown_status_is_refused_before_anything_is_stored(db):
    with pytest.raises(ValueError, match="teleported"):
        status_callback_receive(source="t", callback=StatusCallbackData(channel="sms", status="teleported"))
    assert not ReceivedCallback.objects.exists()


@pytest.mark.postgres  # SQLite has one writer: one applier at a time
@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_at_once_record_each_callback_once(providers, customer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MESSAGING_CALLBACK_BATCH = 7
    received._next_wake = float("inf")  # no broker here: the workers below are the appliers
    person = customer(phone=PHONE)
    rows = [send_and_drain(person, "sms", {"text": f"Aviso {n}"}) for n in range(40)]
    for row in rows:
        for status in ("delivered", "delivered", "read"):  # a resend in the middle
            status_callback_receive(
                source="twilio.status",
                callback=StatusCallbackData(channel="sms", provider_message_id=row.provider_message_id, status=status),
            )
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            while received_callbacks_apply():
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    try:
        workers = [threading.Thread(target=work) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    finally:
        received._next_wake = 0.0

    assert errors == []
    assert not ReceivedCallback.objects.exists()
    assert [delivered(row) for row in rows] == [1] * 40
    assert Event.objects.filter(type="message.read").count() == 40
    assert StatusCallback.objects.count() == 80


def test_a_sealed_callback_unseals_to_the_same_callback_with_every_kind_of_field():
    callback = StatusCallbackData(
        channel="sms",
        status=DeliveryStatus.FAILED,
        provider_message_id="SM0123",
        message_id=uuid.uuid4(),
        occurred_at=datetime(2026, 12, 7, 4, 58, 1, 123456, tzinfo=UTC),
        url="https://example.es/a",
        reason="twilio undelivered (error 30006)",
        emoji="👍",
        is_undeliverable=True,
        withdraws_marketing=False,
        address="+34610000000",
    )

    sealed = callback.sealed()

    assert "+34610000000" not in sealed
    assert StatusCallbackData.unsealed(sealed) == callback
    assert StatusCallbackData.unsealed(sealed).digest == callback.digest
