"""SMS and WhatsApp through Twilio's Messages API, with the `twilio` library.

- SMS from TWILIO_FROM_SMS, WhatsApp from TWILIO_FROM_WHATSAPP (`whatsapp:+34...`); the WhatsApp address is the
  customer's phone as `whatsapp:<E.164>`.
- Free text inside WhatsApp's 24-hour window; outside it a template, which Twilio names by a Content API SID: the
  message's `template` is that SID (HX...) or a name TWILIO_CONTENT_SIDS maps to one, and its `parameters` become the
  content variables {"1": ..., "2": ...}.
- Status callbacks go to TWILIO_STATUS_CALLBACK_URL (our /api/v1/providers/twilio/status) when set, else to what
  the number or Messaging Service is configured with.
- Every create carries the message's idempotency key as `I-Twilio-Idempotency-Token`. Twilio does not document
  that its Messages API dedupes by it, so the backend claims to honour keys (a send interrupted by a dead worker is
  resent) only when TWILIO_IDEMPOTENCY_HONOURED says the endpoint dedupes (a relay in front of Twilio, or the
  loopback provider of the tests); otherwise such a send is held for review, as smtp's is.

TWILIO_BASE_URL points the client at another host (tests, benchmarks): our HTTP client (the library's extension
point for transport, see KeepAliveHttpClient) replaces the scheme and host of each request; the library itself is
not patched.
"""

import base64
import contextvars
import http.client
import logging
import threading
import urllib.parse

import orjson
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from ..errors import DeliveryError, unreached
from .base import Backend, OutgoingMessage
from .keepalive import KeepAlivePool

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# Twilio error codes meaning the number itself cannot receive: unknown handset, landline or unreachable carrier,
# invalid 'To', not a mobile number, WhatsApp user not found / not on WhatsApp. They come in a status callback
# (providers.twilio) or, for 21211 and 21614, as the create's synchronous refusal (here).
UNREACHABLE_CODES = frozenset({"30005", "30006", "21211", "21614", "63003", "63024"})
# The recipient opted out at Twilio (replied STOP): sending to them is refused, in a callback or at the create.
OPTED_OUT_CODES = frozenset({"21610"})
_TEMPORARY_STATUSES = frozenset({408, 425, 429})
_idempotency_key: contextvars.ContextVar[str] = contextvars.ContextVar("twilio_idempotency_key", default="")


class KeepAliveHttpClient(HttpClient):
    """The transport of the Twilio client: `twilio.http.HttpClient`, the library's documented extension point for a
    custom HTTP client, over keep-alive connections (backends.keepalive) instead of `requests`.

    Why: per message the default TwilioHttpClient cost ~0.6 ms of CPU in requests, more than the rest of the drain.
    This one also logs nothing (the default logs the parameters: phone numbers and texts), sends the current
    message's idempotency token, and, with `base_url` (TWILIO_BASE_URL), replaces the scheme and host of every
    request (tests, benchmarks).
    """

    def __init__(self, *, base_url: str = "", timeout: float | None = None):
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self.base = urllib.parse.urlsplit(base_url) if base_url else None
        self.pool = KeepAlivePool()

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kwargs):
        parts = urllib.parse.urlsplit(url)
        if self.base is not None:
            path = self.base.path.rstrip("/") + parts.path
            parts = parts._replace(scheme=self.base.scheme, netloc=self.base.netloc, path=path)
        query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params or {}, doseq=True)) if q)
        headers = dict(headers or {})
        body = None
        if data is not None:
            if headers.get("Content-Type") == "application/json":
                body = orjson.dumps(data)
            else:
                body = urllib.parse.urlencode(data, doseq=True).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        key = _idempotency_key.get()
        if key:
            headers[IDEMPOTENCY_HEADER] = key
        status, content, answer_headers = self.pool.request(
            method.upper(),
            urllib.parse.urlunsplit(parts._replace(query=query, fragment="")),
            body=body,
            headers=headers,
            timeout=timeout or self.timeout,
        )
        return Response(status, content.decode("utf-8", "replace"), dict(answer_headers))


class TwilioBackend(Backend):
    name = "twilio"
    concurrent_sends = 8  # thread-safe: a keep-alive connection per sending thread

    def __init__(self):
        self._client: Client | None = None
        self._lock = threading.Lock()

    @property
    def honours_idempotency_key(self) -> bool:  # type: ignore[override]
        return settings.TWILIO_IDEMPOTENCY_HONOURED

    @property
    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                http_client = KeepAliveHttpClient(
                    base_url=settings.TWILIO_BASE_URL, timeout=settings.MESSAGING_WEBHOOK_TIMEOUT
                )
                self._client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http_client)
        return self._client

    def arguments(self, message: OutgoingMessage) -> dict:
        """The Messages API parameters of one message."""
        if message.channel == "whatsapp":
            sender = message.sender or settings.TWILIO_FROM_WHATSAPP
            arguments = {"to": f"whatsapp:{message.to.removeprefix('whatsapp:')}", "from_": _whatsapp(sender)}
            template = message.content.get("template")
            if template:
                content_sid = template if template.startswith("HX") else settings.TWILIO_CONTENT_SIDS.get(template, "")
                if not content_sid:
                    raise DeliveryError(
                        f"no Twilio content SID for template {template!r} (TWILIO_CONTENT_SIDS)", is_temporary=False
                    )
                arguments["content_sid"] = content_sid
                parameters = message.content.get("parameters") or []
                arguments["content_variables"] = orjson.dumps(
                    {str(n): value for n, value in enumerate(parameters, start=1)}
                ).decode()
            else:
                arguments["body"] = message.content["text"]
        elif message.channel == "sms":
            arguments = {
                "to": message.to,
                "from_": message.sender or settings.TWILIO_FROM_SMS,
                "body": message.content["text"],
            }
        else:
            raise DeliveryError(f"twilio does not send {message.channel} messages", is_temporary=False)
        if settings.TWILIO_STATUS_CALLBACK_URL:
            arguments["status_callback"] = settings.TWILIO_STATUS_CALLBACK_URL
        return arguments

    def send(self, message: OutgoingMessage) -> str:
        if not settings.TWILIO_ACCOUNT_SID or not settings.TWILIO_AUTH_TOKEN:
            raise DeliveryError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not configured", is_temporary=True)
        arguments = self.arguments(message)
        token = _idempotency_key.set(message.idempotency_key)
        try:
            created = self.client.messages.create(**arguments)
        except TwilioRestException as exc:
            temporary = exc.status >= 500 or exc.status in _TEMPORARY_STATUSES
            code = str(exc.code or "")
            raise DeliveryError(
                f"twilio answered {exc.status} (error {exc.code})",
                is_temporary=temporary,
                code=code,
                is_undeliverable=not temporary and code in UNREACHABLE_CODES,
                withdraws_marketing=not temporary and code in OPTED_OUT_CODES,
            ) from None
        except TimeoutError as exc:
            raise unreached("twilio timed out", exc) from None
        except (http.client.HTTPException, TwilioException, OSError) as exc:
            raise unreached(f"twilio unreachable: {type(exc).__name__}", exc) from None
        finally:
            _idempotency_key.reset(token)
        return str(created.sid or "")[:300]


def _whatsapp(sender: str) -> str:
    return sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
