"""POST /api/v1/channels/{channel}/status: signed delivery callbacks, recorded once, refused cleanly otherwise."""

import time
import uuid

import orjson
import pytest
from rest_framework.test import APIClient

from backoffice.eventstore.models import Event
from backoffice.messaging import signing
from backoffice.messaging.models import StatusCallback
from backoffice.messaging.services import message_send, messages_drain
from backoffice.messaging.services.status import StatusCallbackData, message_statuses_record

from .conftest import event_types

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_sms(customer, outbox):
    message = message_send(
        customer_id=customer(),
        channel="sms",
        purpose="service",
        content={"text": "Tu pedido está en camino"},
        idempotency_key=f"k-{uuid.uuid4()}",
        actor="test",
        order_id="o-5",
    )
    messages_drain()
    message.refresh_from_db()
    return message


def _post(channel: str, body: dict, *, secret: bytes | None = None, timestamp: int | None = None, client=None):
    raw = orjson.dumps(body)
    signature = signing.sign(
        secret or f"test-webhook-secret-{channel}".encode(), raw, int(time.time()) if timestamp is None else timestamp
    )
    return (client or APIClient()).post(
        f"/api/v1/channels/{channel}/status", raw, content_type="application/json", HTTP_X_SIGNATURE=signature
    )


def _message_events() -> int:
    return Event.objects.filter(type__startswith="message.").count()


def test_a_signed_delivery_callback_is_recorded_against_the_message(sent_sms):
    response = _post("sms", {"provider_message_id": sent_sms.provider_message_id, "status": "delivered"})

    assert response.status_code == 200
    assert response.json()["message_id"] == str(sent_sms.id)
    assert response.json()["duplicate"] is False
    assert event_types(sent_sms) == ["message.queued", "message.sent", "message.delivered"]
    delivered = Event.objects.get(type="message.delivered")
    assert delivered.data["order_id"] == "o-5"
    assert delivered.channel == "sms"
    sent_sms.refresh_from_db()
    assert sent_sms.delivery_status == "delivered"


def test_the_same_callback_twice_records_once(sent_sms):
    body = {
        "provider_message_id": sent_sms.provider_message_id,
        "status": "read",
        "occurred_at": "2026-11-20T10:00:00+01:00",
    }

    first = _post("sms", body)
    second = _post("sms", body)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {**first.json(), "duplicate": True}
    assert Event.objects.filter(type="message.read").count() == 1


@pytest.mark.parametrize(
    ("status", "extra", "event_type"),
    [
        ("clicked", {"url": "https://tienda.example/oferta"}, "message.clicked"),
        ("bounced", {"reason": "mailbox full"}, "message.bounced"),
        ("failed", {"reason": "carrier rejected"}, "message.failed"),
        ("unsubscribed", {}, "message.unsubscribed"),
    ],
)
def test_every_delivery_status_becomes_its_event(sent_sms, status, extra, event_type):
    response = _post("sms", {"provider_message_id": sent_sms.provider_message_id, "status": status, **extra})

    assert response.status_code == 200
    event = Event.objects.get(type=event_type, stream=f"message-{sent_sms.id}")
    for key, value in extra.items():
        assert event.data[key] == value


def test_a_read_does_not_go_back_to_delivered_when_callbacks_arrive_out_of_order(sent_sms):
    _post("sms", {"provider_message_id": sent_sms.provider_message_id, "status": "read"})
    _post("sms", {"provider_message_id": sent_sms.provider_message_id, "status": "delivered"})

    sent_sms.refresh_from_db()
    assert sent_sms.delivery_status == "read"


def test_a_second_open_of_a_message_is_marked_as_a_repeat_and_the_first_is_not(sent_sms):
    # given a read already recorded
    _post("sms", {"provider_message_id": sent_sms.provider_message_id, "status": "read"})

    # when the message is read again later, and a click arrives (its first)
    again = {
        "provider_message_id": sent_sms.provider_message_id,
        "status": "read",
        "occurred_at": "2026-11-20T10:05:00+01:00",
    }
    _post("sms", again)
    _post(
        "sms", {"provider_message_id": sent_sms.provider_message_id, "status": "clicked", "url": "https://t.example/a"}
    )

    # then only the second read is a repeat (reports count each reader once)
    reads = Event.objects.filter(type="message.read", stream=f"message-{sent_sms.id}").order_by("position")
    assert [bool(event.data.get("is_repeat")) for event in reads] == [False, True]
    assert not Event.objects.get(type="message.clicked").data.get("is_repeat")


def test_two_opens_of_one_message_in_one_batch_record_the_second_as_a_repeat(sent_sms):
    callbacks = [
        StatusCallbackData(channel="sms", status="read", provider_message_id=sent_sms.provider_message_id, url=url)
        for url in ("a", "b")
    ]

    results = message_statuses_record(callbacks=callbacks, source="test")

    assert [r.duplicate for r in results] == [False, False]
    reads = Event.objects.filter(type="message.read", stream=f"message-{sent_sms.id}").order_by("position")
    assert [bool(event.data.get("is_repeat")) for event in reads] == [False, True]


@pytest.mark.parametrize(
    ("secret", "timestamp"),
    [(b"not-the-secret", None), (None, int(time.time()) - 3600)],
    ids=["wrong secret", "replayed an hour later"],
)
def test_a_bad_signature_is_a_401_and_writes_nothing(sent_sms, secret, timestamp):
    before = _message_events()

    response = _post(
        "sms",
        {"provider_message_id": sent_sms.provider_message_id, "status": "delivered"},
        secret=secret,
        timestamp=timestamp,
    )

    assert response.status_code == 401
    assert response.json()["type"].endswith("/authentication_failed")
    assert _message_events() == before
    assert StatusCallback.objects.count() == 0


def test_an_unsigned_callback_is_refused_even_with_an_integration_token(sent_sms, api_client_for):
    before = _message_events()

    response = api_client_for("integration").post(
        "/api/v1/channels/sms/status",
        {"provider_message_id": sent_sms.provider_message_id, "status": "delivered"},
        format="json",
    )

    assert response.status_code == 401
    assert _message_events() == before


def test_an_unknown_channel_is_a_404_problem_naming_the_channel(sent_sms):
    before = _message_events()

    response = _post("telegram", {"provider_message_id": sent_sms.provider_message_id, "status": "delivered"})

    assert response.status_code == 404
    assert response.json()["type"].endswith("/unknown_channel")
    assert response.json()["errors"][0]["field"] == "channel"
    assert _message_events() == before


def test_a_callback_for_an_unknown_message_is_a_404_naming_the_field(sent_sms):
    response = _post("sms", {"provider_message_id": "nope", "status": "delivered"})

    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "provider_message_id"
    assert StatusCallback.objects.count() == 0


def test_a_callback_signed_for_another_channel_is_refused(sent_sms):
    raw = orjson.dumps({"provider_message_id": sent_sms.provider_message_id, "status": "delivered"})
    signature = signing.sign(b"test-webhook-secret-email", raw, int(time.time()))

    response = APIClient().post(
        "/api/v1/channels/sms/status", raw, content_type="application/json", HTTP_X_SIGNATURE=signature
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "delivered"}, "provider_message_id"),
        ({"provider_message_id": "x", "status": "teleported"}, "status"),
        ({"provider_message_id": "x", "status": "read", "occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),
    ],
)
def test_an_invalid_callback_is_a_400_naming_the_field_and_writes_nothing(sent_sms, body, field):
    before = _message_events()

    response = _post("sms", body)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert _message_events() == before


def test_an_unsubscribe_callback_withdraws_marketing_on_that_channel_once(sent_sms):
    from customers.selectors import consent_allows, consent_history

    body = {"provider_message_id": sent_sms.provider_message_id, "status": "unsubscribed"}

    first = _post("sms", body)
    again = _post("sms", body)

    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert not consent_allows(customer_id=sent_sms.customer_id, channel="sms", purpose="marketing")
    assert consent_allows(customer_id=sent_sms.customer_id, channel="sms", purpose="service")
    history = consent_history(customer_id=sent_sms.customer_id)
    assert [(e.type, e.channel, e.metadata["actor"]) for e in history] == [("consent.revoked", "sms", "provider:sms")]
