"""WhatsApp Cloud API, Messenger and Instagram messaging through Meta's Graph API, over plain HTTP (keep-alive
connections: backends.keepalive).

- whatsapp: POST {META_GRAPH_URL}/{META_GRAPH_VERSION}/{WHATSAPP_PHONE_NUMBER_ID}/messages, a `text` message inside
  the 24-hour customer service window, a `template` (name, language, body parameters) outside it, or an
  `interactive` button message when the content has `buttons`.
- facebook, instagram: POST {META_GRAPH_URL}/{META_GRAPH_VERSION}/me/messages with the page's token, to the
  person's page-scoped (or Instagram-scoped) id; `messaging_type` RESPONSE for service, UPDATE for marketing.
- META_ACCESS_TOKEN as a bearer token. The answer's message id (`wamid...`, `m_...`) is what status webhooks name.

The Graph API takes no idempotency key: a send interrupted by a dead worker is held for review, not resent.
Rate limits (codes 4, 80007, 130429, 131048, 131056), timeouts and 5xx are temporary; other refusals are final.
"""

import http.client

import orjson
from django.conf import settings

from ..errors import DeliveryError, unreached
from .base import Backend, OutgoingMessage
from .keepalive import KeepAlivePool

_TEMPORARY_CODES = frozenset({1, 2, 4, 17, 341, 80007, 130429, 131000, 131048, 131056, 133004})


class MetaBackend(Backend):
    name = "meta"
    concurrent_sends = 8  # thread-safe: a keep-alive connection per sending thread
    honours_idempotency_key = False

    def __init__(self):
        self.pool = KeepAlivePool()

    def request_for(self, message: OutgoingMessage) -> tuple[str, dict]:
        base = f"{settings.META_GRAPH_URL.rstrip('/')}/{settings.META_GRAPH_VERSION}"
        content = message.content
        if message.channel == "whatsapp":
            if not settings.WHATSAPP_PHONE_NUMBER_ID:
                raise DeliveryError("WHATSAPP_PHONE_NUMBER_ID is not configured", is_temporary=True)
            body: dict = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.to.lstrip("+")}
            if content.get("template"):
                template: dict = {"name": content["template"], "language": {"code": content.get("language") or "es"}}
                parameters = content.get("parameters") or []
                if parameters:
                    template["components"] = [
                        {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
                    ]
                body |= {"type": "template", "template": template}
            elif content.get("buttons"):
                buttons = [
                    {"type": "reply", "reply": {"id": f"b{n}", "title": title[:20]}}
                    for n, title in enumerate(content["buttons"][:3], start=1)
                ]
                body |= {
                    "type": "interactive",
                    "interactive": {
                        "type": "button",
                        "body": {"text": content["text"]},
                        "action": {"buttons": buttons},
                    },
                }
            else:
                body |= {"type": "text", "text": {"preview_url": False, "body": content["text"]}}
            return f"{base}/{settings.WHATSAPP_PHONE_NUMBER_ID}/messages", body
        if message.channel in ("facebook", "instagram"):
            body = {
                "recipient": {"id": message.to},
                "messaging_type": "RESPONSE" if message.purpose == "service" else "UPDATE",
                "message": {"text": content["text"]},
            }
            return f"{base}/me/messages", body
        raise DeliveryError(f"meta does not send {message.channel} messages", is_temporary=False)

    def send(self, message: OutgoingMessage) -> str:
        if not settings.META_ACCESS_TOKEN:
            raise DeliveryError("META_ACCESS_TOKEN is not configured", is_temporary=True)
        url, body = self.request_for(message)
        try:
            status, content, _headers = self.pool.request(
                "POST",
                url,
                body=orjson.dumps(body),
                headers={"Authorization": f"Bearer {settings.META_ACCESS_TOKEN}", "Content-Type": "application/json"},
                timeout=settings.MESSAGING_WEBHOOK_TIMEOUT,
            )
        except TimeoutError as exc:
            raise unreached("graph api timed out", exc) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise unreached(f"graph api unreachable: {type(exc).__name__}", exc) from None
        try:
            answer = orjson.loads(content) if content else {}
        except orjson.JSONDecodeError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status >= 300:
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            code = error.get("code")
            temporary = status >= 500 or status == 429 or code in _TEMPORARY_CODES
            raise DeliveryError(f"graph api answered {status} (code {code})", is_temporary=temporary)
        if message.channel == "whatsapp":
            messages = answer.get("messages") or [{}]
            provider_id = messages[0].get("id", "") if isinstance(messages[0], dict) else ""
        else:
            provider_id = answer.get("message_id", "")
        return str(provider_id)[:300]
