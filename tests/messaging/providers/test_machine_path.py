"""Machines' signed requests go through backoffice.wsgi's lean handler (request id, security headers, replica
routing; no session, login, CSRF or language), everything else through the full middleware: both through the real
WSGI application, as gunicorn calls it."""

import json
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from backoffice.eventstore.models import Event
from backoffice.integrations.services import tracking_source_create
from tests.integrations.test_tracking_api import basic

from .conftest import TWILIO_TOKEN
from .helpers import send_and_drain
from .test_twilio import PHONE, status_params

pytestmark = pytest.mark.django_db


def test_a_twilio_callback_takes_the_lean_path_and_is_recorded(providers, customer, call):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    params = status_params("twilio_status_delivered.json", row.provider_message_id)
    url = "http://testserver/api/v1/providers/twilio/status"

    status, headers, _ = call(
        "POST",
        "/api/v1/providers/twilio/status",
        urllib.parse.urlencode(params).encode(),
        content_type="application/x-www-form-urlencoded",
        x_twilio_signature=RequestValidator(TWILIO_TOKEN).compute_signature(url, params),
    )

    assert status.startswith("204")
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert headers["x-request-id"]  # request ids and security headers still
    assert headers["x-content-type-options"] == "nosniff"
    assert "content-language" not in headers  # no language negotiated...
    assert "cookie" not in headers.get("vary", "").lower()  # ...and no session looked at


def test_a_forged_callback_on_the_lean_path_is_still_refused(providers, call):
    status, headers, content = call(
        "POST",
        "/api/v1/providers/twilio/status",
        b"MessageSid=SM1&MessageStatus=delivered",
        content_type="application/x-www-form-urlencoded",
        x_twilio_signature="forged",
    )

    assert status.startswith("401")
    assert b"invalid_signature" in content


def test_the_tracking_api_takes_the_lean_path_with_its_write_key(call):
    key = tracking_source_create(name="web-shop", channel="web").write_key
    message = {"type": "track", "event": "Product Viewed", "anonymousId": "anon-1", "messageId": "m-1"}
    body = json.dumps({**message, "properties": {"product_id": "p1"}}).encode()

    status, _, content = call("POST", "/v1/track", body, content_type="application/json", authorization=basic(key))
    refused, _, _ = call("POST", "/v1/track", body, content_type="application/json", authorization=basic("nope"))

    assert status.startswith("200")
    assert json.loads(content) == {"success": True}
    assert Event.objects.filter(type="product.viewed").count() == 1
    assert refused.startswith("401")


def test_pages_and_the_unsubscribe_link_keep_the_full_middleware(call):
    login_status, login, _ = call("GET", "/admin/login/")
    unsubscribe_status, unsubscribe, _ = call("GET", "/api/v1/providers/email/unsubscribe/not-a-token")

    assert login_status.startswith("200")
    assert "content-security-policy" in login
    assert "content-language" in login
    assert "content-language" in unsubscribe  # a person's browser: their language
    assert not unsubscribe_status.startswith("5")
