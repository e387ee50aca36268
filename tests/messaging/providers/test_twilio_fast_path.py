"""Twilio status callbacks through backoffice.wsgi's fast path (TWILIO_STATUS_FAST_PATH): a well-formed signed
callback is received without Django's handler, and anything else falls through to the view. Each input is sent
with the fast path on and off, through the real WSGI application: the answers and what is written are the same."""

import urllib.parse

import pytest
from django.core import signals
from twilio.request_validator import RequestValidator

from backoffice.eventstore.models import Event
from backoffice.messaging.models import ReceivedCallback, StatusCallback
from backoffice.messaging.services.received import received_callbacks_apply

from .conftest import TWILIO_TOKEN
from .helpers import send_and_drain
from .test_twilio import PHONE, status_params

pytestmark = pytest.mark.django_db

PATH = "/api/v1/providers/twilio/status"
URL = f"http://testserver{PATH}"
FORM = "application/x-www-form-urlencoded"


def signed(params: dict, *, url: str = URL) -> tuple[bytes, str]:
    return urllib.parse.urlencode(params).encode(), RequestValidator(TWILIO_TOKEN).compute_signature(url, params)


@pytest.fixture
def handled_by_django():
    """How many requests went through Django's handler (which sends request_started; the fast path does not)."""
    started: list[object] = []

    def count(**kwargs):
        started.append(kwargs)

    signals.request_started.connect(count, dispatch_uid="test-fast-path-count")
    yield started
    signals.request_started.disconnect(dispatch_uid="test-fast-path-count")


def written() -> tuple[int, int, int]:
    return ReceivedCallback.objects.count(), StatusCallback.objects.count(), Event.objects.count()


def answer(call, body: bytes, *, method: str = "POST", **headers) -> tuple[str, str, object]:
    status, response_headers, content = call(method, PATH, body, **headers)
    kind = response_headers.get("content-type", "")
    return status, kind, content


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "view"])
def test_a_signed_callback_is_recorded_once_and_resent_records_nothing(
    providers, customer, call, settings, handled_by_django, fast_path
):
    settings.TWILIO_STATUS_FAST_PATH = fast_path
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    body, signature = signed(status_params("twilio_status_delivered.json", row.provider_message_id))

    first, headers, content = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature)
    again, _, _ = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature)

    assert (first[:3], again[:3], content) == ("204", "204", b"")
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert headers["x-request-id"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert len(handled_by_django) == (0 if fast_path else 2)


def test_the_fast_path_keeps_a_request_id_given_by_the_proxy(providers, customer, call):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    body, signature = signed(status_params("twilio_status_delivered.json", row.provider_message_id))

    _, headers, _ = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature, x_request_id="req-42")

    assert headers["x-request-id"] == "req-42"
    assert headers["x-correlation-id"] == "req-42"


def test_a_status_that_adds_nothing_is_answered_on_the_fast_path_and_writes_nothing(
    providers, customer, call, handled_by_django
):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    before = written()
    body, signature = signed(
        status_params("twilio_status_delivered.json", row.provider_message_id, MessageStatus="sent")
    )

    status, _, _ = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature)

    assert status.startswith("204")
    assert written() == before
    assert handled_by_django == []


def test_with_a_broker_the_fast_path_stores_the_callback_and_the_applier_records_it(
    providers, customer, call, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from backoffice.messaging.services import received

    settings.CELERY_TASK_ALWAYS_EAGER = False
    woken: list[str] = []
    monkeypatch.setattr(received, "task_send_in", lambda seconds, name: woken.append(name))
    monkeypatch.setattr(received, "_next_wake", 0.0)
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    body, signature = signed(status_params("twilio_status_delivered.json", row.provider_message_id))

    with django_capture_on_commit_callbacks(execute=True):
        status, _, _ = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature)
        again, _, _ = call("POST", PATH, body, content_type=FORM, x_twilio_signature=signature)

    assert (status[:3], again[:3]) == ("204", "204")
    assert ReceivedCallback.objects.count() == 2  # both copies kept as received...
    assert woken == ["messaging.callbacks_apply"]
    assert PHONE not in ReceivedCallback.objects.first().data_encrypted
    assert received_callbacks_apply() == 2
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1  # ...recorded once
    assert not ReceivedCallback.objects.exists()


def _bad_inputs(sid: str) -> dict[str, tuple[bytes, dict]]:
    good = status_params("twilio_status_delivered.json", sid)
    body, signature = signed(good)
    other_account, other_signature = signed({**good, "AccountSid": "AC" + "9" * 32})
    no_sid = {k: v for k, v in good.items() if k not in ("MessageSid", "SmsSid")}
    no_sid_body, no_sid_signature = signed(no_sid)
    many = {f"f{n}": "x" for n in range(1_100)}  # over DATA_UPLOAD_MAX_NUMBER_FIELDS
    many_body, many_signature = signed(many)
    return {
        "json instead of a form": (b'{"MessageSid": "SM1"}', {"content_type": "application/json"}),
        "a form with a charset parameter, bad signature": (body, {"content_type": f"{FORM}; charset=utf-8"}),
        "no signature": (body, {"content_type": FORM}),
        "a forged signature": (body, {"content_type": FORM, "x_twilio_signature": "forged"}),
        "signed for another URL": (
            body,
            {"content_type": FORM, "x_twilio_signature": signed(good, url="http://x/")[1]},
        ),
        "a body changed after signing": (
            body.replace(b"delivered", b"failed"),
            {"content_type": FORM, "x_twilio_signature": signature},
        ),
        "another account": (other_account, {"content_type": FORM, "x_twilio_signature": other_signature}),
        "no MessageSid": (no_sid_body, {"content_type": FORM, "x_twilio_signature": no_sid_signature}),
        "too many fields": (many_body, {"content_type": FORM, "x_twilio_signature": many_signature}),
        "undecodable": (
            b"MessageSid=%ff%fe&MessageStatus=delivered",
            {"content_type": FORM, "x_twilio_signature": "x"},
        ),
        "empty": (b"", {"content_type": FORM, "x_twilio_signature": signature}),
        "a disallowed host": (body, {"content_type": FORM, "x_twilio_signature": signature, "host": "evil.example"}),
    }


BAD_INPUTS = list(_bad_inputs("SM" + "0" * 32))


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_the_views_answer_whether_the_fast_path_is_on_or_off(providers, customer, call, settings, case):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    body, headers = _bad_inputs(row.provider_message_id)[case]
    before = written()
    answers = []
    for fast_path in (True, False):
        settings.TWILIO_STATUS_FAST_PATH = fast_path
        answers.append(answer(call, body, **headers))

    assert answers[0] == answers[1]
    status = answers[0][0]
    assert status[:1] == "4", status  # never a 500
    assert written() == before


def test_an_oversized_body_is_refused_unread_on_both_paths(providers, call, settings):
    settings.MESSAGING_PROVIDER_MAX_BODY = 100
    body, signature = signed({"MessageSid": "SM1", "MessageStatus": "delivered", "Body": "x" * 200})
    answers = []
    for fast_path in (True, False):
        settings.TWILIO_STATUS_FAST_PATH = fast_path
        answers.append(answer(call, body, content_type=FORM, x_twilio_signature=signature))

    assert answers[0] == answers[1]
    assert answers[0][0].startswith("413")
    assert not ReceivedCallback.objects.exists()


def test_a_get_falls_through_to_the_views_405(providers, call, handled_by_django):
    status, _, _ = answer(call, b"", method="GET")

    assert status.startswith("405")
    assert len(handled_by_django) == 1
