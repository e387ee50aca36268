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

TWILIO_BASE_URL points the client at another host (tests, benchmarks): a TwilioHttpClient subclass (the library's
extension point for transport) rewrites the scheme and host of each request; the library itself is not patched.
"""

import contextvars
import urllib.parse

import orjson
import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ..errors import DeliveryError
from .base import Backend, OutgoingMessage

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
_TEMPORARY_STATUSES = frozenset({408, 425, 429})
_idempotency_key: contextvars.ContextVar[str] = contextvars.ContextVar("twilio_idempotency_key", default="")


class BaseUrlHttpClient(TwilioHttpClient):
    """Sends every request to `base_url` (scheme and host replaced, path kept) with the current message's
    idempotency token."""

    def __init__(self, *, base_url: str = "", timeout: float | None = None):
        super().__init__(timeout=timeout)
        self.base = urllib.parse.urlsplit(base_url) if base_url else None
        if self.session is not None:
            self.session.trust_env = False  # no proxy lookups from the environment on every request

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, **kwargs):
        if self.base is not None:
            parts = urllib.parse.urlsplit(url)
            url = urllib.parse.urlunsplit(
                (self.base.scheme, self.base.netloc, self.base.path.rstrip("/") + parts.path, parts.query, "")
            )
        key = _idempotency_key.get()
        if key:
            headers = {**(headers or {}), IDEMPOTENCY_HEADER: key}
        return super().request(
            method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout, **kwargs
        )


class TwilioBackend(Backend):
    name = "twilio"

    def __init__(self):
        self._client: Client | None = None

    @property
    def honours_idempotency_key(self) -> bool:  # type: ignore[override]
        return settings.TWILIO_IDEMPOTENCY_HONOURED

    @property
    def client(self) -> Client:
        if self._client is None:
            http_client = BaseUrlHttpClient(
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
            raise DeliveryError(f"twilio answered {exc.status} (error {exc.code})", is_temporary=temporary) from None
        except requests.Timeout:
            raise DeliveryError("twilio timed out", is_temporary=True) from None
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise DeliveryError(f"twilio unreachable: {type(exc).__name__}", is_temporary=True) from None
        finally:
            _idempotency_key.reset(token)
        return str(created.sid or "")[:300]


def _whatsapp(sender: str) -> str:
    return sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"
