"""Email through django-anymail: any ESP anymail supports (Postmark, Mailgun, SendGrid, Brevo, Amazon SES...), chosen
by ANYMAIL_ESP_BACKEND (anymail's EmailBackend of that ESP) and configured in ANYMAIL (keys, API URL).

Our message id travels as anymail `metadata` (`message_id`, and the campaign, case or order it belongs to), so the
ESP's tracking webhooks find the message whatever the ESP's own id is; the purpose is the message's `tag`. Marketing
mail carries List-Unsubscribe with a one-click URL (RFC 8058, `List-Unsubscribe-Post: List-Unsubscribe=One-Click`)
and/or a mailto.

Idempotency: none of the send APIs anymail drives takes an idempotency key, and anymail has no way to pass one. The
Message-ID is derived from our message id (as the smtp backend does), but an ESP that accepted a message sends a
second copy of it: so this backend does not claim to honour keys, and a send interrupted by a dead worker is held
for review instead of risking a double send (see services.pipeline).
"""

import logging
import threading
import urllib.request

from anymail.exceptions import (
    AnymailAPIError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailRequestsAPIError,
)
from anymail.message import AnymailMessage
from django.conf import settings
from django.core.mail import get_connection

from ..errors import DeliveryError
from ..unsubscribe import one_click_url
from .base import Backend, OutgoingMessage
from .keepalive import KeepAliveSession

logger = logging.getLogger(__name__)

_TEMPORARY_STATUSES = frozenset({408, 425, 429})


class AnymailBackend(Backend):
    name = "anymail"
    concurrent_sends = 8  # thread-safe: a keep-alive connection per sending thread
    honours_idempotency_key = False

    def __init__(self):
        self._connection = None
        self._lock = threading.Lock()

    @property
    def connection(self):
        # One ESP connection per process, shared by the drain's send threads: anymail's requests session keeps
        # its HTTP connections alive between sends.
        with self._lock:
            if self._connection is None:
                connection = get_connection(settings.ANYMAIL_ESP_BACKEND, fail_silently=False)
                if hasattr(connection, "create_session") and not urllib.request.getproxies():
                    # anymail's requests-based ESP backends: their plain JSON calls over keep-alive connections
                    # (a third of a send's CPU was requests' own); anything else still goes through requests.
                    session = KeepAliveSession()
                    session.headers.update(connection.create_session().headers)  # anymail's User-Agent
                    connection.session = session
                connection.open()
                self._connection = connection
        return self._connection

    def build(self, message: OutgoingMessage) -> AnymailMessage:
        headers = {"Message-ID": f"<{message.message_id}@{settings.MESSAGING_EMAIL_MESSAGE_ID_DOMAIN}>"}
        if message.purpose == "marketing":
            headers.update(list_unsubscribe_headers(message.message_id))
        email = AnymailMessage(
            subject=message.content["subject"],
            body=message.content.get("body", ""),
            from_email=message.sender or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers=headers,
        )
        if message.content.get("html"):
            email.attach_alternative(message.content["html"], "text/html")
        email.metadata = {"message_id": message.message_id, **message.tags}
        # One tag: several ESPs (Postmark) take only one.
        email.tags = [message.purpose]
        return email

    def send(self, message: OutgoingMessage) -> str:
        email = self.build(message)
        try:
            self.connection.send_messages([email])
        except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
            raise DeliveryError(f"esp refused the recipient: {type(exc).__name__}", is_temporary=False) from None
        except AnymailRequestsAPIError as exc:
            status = exc.status_code
            if status is None:  # no answer: connection refused, timeout
                raise DeliveryError("esp unreachable", is_temporary=True) from None
            temporary = status >= 500 or status in _TEMPORARY_STATUSES
            raise DeliveryError(f"esp answered {status}", is_temporary=temporary) from None
        except AnymailAPIError as exc:
            raise DeliveryError(f"esp error: {type(exc).__name__}", is_temporary=True) from None
        except AnymailError as exc:
            raise DeliveryError(f"esp refused the message: {type(exc).__name__}", is_temporary=False) from None
        status = email.anymail_status
        if status.status and status.status <= {"rejected", "invalid"}:
            raise DeliveryError(f"esp rejected the recipient ({', '.join(sorted(status.status))})", is_temporary=False)
        return str(status.message_id or "")[:300]


def list_unsubscribe_headers(message_id: str) -> dict[str, str]:
    """List-Unsubscribe (and List-Unsubscribe-Post for one click, RFC 8058) for a marketing message."""
    targets = []
    url = one_click_url(message_id)
    if url:
        targets.append(f"<{url}>")
    if settings.MESSAGING_EMAIL_LIST_UNSUBSCRIBE_MAILTO:
        targets.append(f"<mailto:{settings.MESSAGING_EMAIL_LIST_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>")
    if not targets:
        return {}
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers
