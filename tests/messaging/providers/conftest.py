import base64
import hashlib
import hmac
import io
import json
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest
from django.core import signals
from django.db import close_old_connections
from twilio.request_validator import RequestValidator

from backoffice import wsgi
from backoffice.messaging.backends import _backend

from .loopback import LoopbackProviders

FIXTURES = Path(__file__).parent / "fixtures"
ANYMAIL_SECRET = "anymail-user:anymail-secret"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-test-token"
META_SECRET = "meta-app-secret"
META_VERIFY = "meta-verify-token"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def loopback():
    running = LoopbackProviders(twilio_sid=TWILIO_SID, twilio_token=TWILIO_TOKEN).start()
    yield running
    running.release.set()
    running.stop()


@pytest.fixture
def providers(settings, loopback):
    """Every real backend configured against the loopback providers; email via anymail (Postmark), SMS via Twilio,
    WhatsApp via Twilio (tests of Meta switch it), Facebook and Instagram via Meta."""
    settings.MESSAGING_BACKENDS = {
        **settings.MESSAGING_BACKENDS,
        "email": "anymail",
        "sms": "twilio",
        "whatsapp": "twilio",
        "facebook": "meta",
        "instagram": "meta",
    }
    settings.ANYMAIL_ESP_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": ANYMAIL_SECRET,
        "POSTMARK_SERVER_TOKEN": loopback.postmark_token,
        "POSTMARK_API_URL": loopback.url + "/",
    }
    settings.MESSAGING_PUBLIC_URL = "https://backoffice.example.es"
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM_SMS = "+34911000000"
    settings.TWILIO_FROM_WHATSAPP = "whatsapp:+34911000001"
    settings.TWILIO_BASE_URL = loopback.url
    settings.TWILIO_CONTENT_SIDS = {"case_update": "HX" + "1" * 32}
    settings.META_APP_SECRET = META_SECRET
    settings.META_VERIFY_TOKEN = META_VERIFY
    settings.META_ACCESS_TOKEN = loopback.meta_token
    settings.WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
    settings.META_GRAPH_URL = loopback.url
    settings.META_GRAPH_VERSION = "v21.0"
    _backend.cache_clear()  # backends hold their clients (base URLs) for the process
    yield loopback
    _backend.cache_clear()


def basic_auth(credentials: str = ANYMAIL_SECRET) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def anymail_post(
    client,
    esp_event: dict | list | bytes,
    *,
    esp: str = "postmark",
    kind: str = "tracking",
    auth: str = ANYMAIL_SECRET,
    **extra,
):
    body = esp_event if isinstance(esp_event, bytes) else json.dumps(esp_event).encode()
    headers = basic_auth(auth) if auth else {}
    return client.post(f"/anymail/{esp}/{kind}/", data=body, content_type="application/json", **headers, **extra)


def twilio_post(client, path: str, params: dict, *, token: str = TWILIO_TOKEN, signature: str | None = None):
    url = f"http://testserver/api/v1/providers/twilio/{path}"
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, params)
    return client.post(
        url,
        data=urllib.parse.urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


def meta_post(client, payload: dict | bytes, *, secret: str = META_SECRET, signature: str | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature is None:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/api/v1/providers/meta/webhook", data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
    )


def unique_key(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4()}"


@pytest.fixture
def call():
    """Call backoffice.wsgi.application in process, keeping the test's connection (as Django's test client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    def call(method: str, path: str, body: bytes = b"", **headers) -> tuple[str, dict[str, str], bytes]:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            **{f"HTTP_{k.upper()}" if k != "content_type" else "CONTENT_TYPE": v for k, v in headers.items()},
        }
        started: list = []
        result = wsgi.application(environ, lambda status, response_headers: started.append((status, response_headers)))
        content = b"".join(result)
        if hasattr(result, "close"):  # Django's response; the fast path's answer is a list
            result.close()
        status, response_headers = started[0]
        return status, {k.lower(): v for k, v in response_headers}, content

    yield call
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
