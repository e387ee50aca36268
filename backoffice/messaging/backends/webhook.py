"""One signed JSON-over-HTTP backend for the SMS, WhatsApp, push, Facebook and Instagram providers (or the relay in
front of them).

POST MESSAGING_WEBHOOK_URLS[channel] with the message as JSON, `X-Signature` (backoffice.messaging.signing, the
channel's secret) and `Idempotency-Key`; the provider answers 2xx with `{"id": "<provider message id>"}` and
answers a key it has seen with the same id, without sending again (as real providers do): so this backend honours
idempotency keys. Timeouts, connection errors, 408, 425, 429 and 5xx are temporary; other 4xx refuse for good.
"""

import urllib.error
import urllib.request

import orjson
from django.conf import settings

from .. import signing
from ..errors import DeliveryError, SignatureInvalid
from .base import Backend, OutgoingMessage

_TEMPORARY_STATUSES = frozenset({408, 425, 429})


class WebhookBackend(Backend):
    name = "webhook"
    honours_idempotency_key = True

    def send(self, message: OutgoingMessage) -> str:
        url = settings.MESSAGING_WEBHOOK_URLS.get(message.channel) or ""
        if not url:
            raise DeliveryError(f"no webhook URL is configured for {message.channel}", is_temporary=True)
        body = orjson.dumps(
            {
                "message_id": message.message_id,
                "channel": message.channel,
                "purpose": message.purpose,
                "to": message.to,
                "from": message.sender,
                "content": message.content,
                "tags": message.tags,
            }
        )
        try:
            signature = signing.sign_for(message.channel, body)
        except SignatureInvalid as exc:
            raise DeliveryError(exc.reason, is_temporary=True) from None
        request = urllib.request.Request(  # noqa: S310 - the URL comes from settings, http(s) only (checked below)
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                signing.HEADER: signature,
                "Idempotency-Key": message.idempotency_key,
                "User-Agent": "backoffice-messaging/1",
            },
        )
        if not url.startswith(("http://", "https://")):
            raise DeliveryError("the webhook URL must be http(s)", is_temporary=False)
        try:
            with urllib.request.urlopen(request, timeout=settings.MESSAGING_WEBHOOK_TIMEOUT) as response:  # noqa: S310
                raw = response.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            status = exc.code
            raise DeliveryError(
                f"provider answered {status}", is_temporary=status >= 500 or status in _TEMPORARY_STATUSES
            ) from None
        except TimeoutError:
            raise DeliveryError("provider timed out", is_temporary=True) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise DeliveryError("provider timed out", is_temporary=True) from None
            raise DeliveryError(f"provider unreachable: {type(reason).__name__}", is_temporary=True) from None
        try:
            answer = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            answer = {}
        provider_id = ""
        if isinstance(answer, dict):
            provider_id = str(answer.get("id") or answer.get("message_id") or answer.get("provider_message_id") or "")
        return provider_id[:300]
