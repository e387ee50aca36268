"""Email through django-anymail: any ESP anymail supports (Postmark, Mailgun, SendGrid, Brevo, Amazon SES...), chosen
by ANYMAIL_ESP_BACKEND (anymail's EmailBackend of that ESP) and configured in ANYMAIL (keys, API URL).

Our message id travels as anymail `metadata` (`message_id`, and the campaign, case or order it belongs to), so the
ESP's tracking webhooks find the message whatever the ESP's own id is; the purpose is the message's `tag`. Marketing
mail carries List-Unsubscribe with a one-click URL (RFC 8058, `List-Unsubscribe-Post: List-Unsubscribe=One-Click`)
and/or a mailto.

Batches: a drain's messages with the same content (a campaign's) leave in one API call, as anymail's batch send
(`merge_metadata`, `merge_headers`: each message keeps its own metadata, Message-ID and List-Unsubscribe), up to
MESSAGING_EMAIL_BATCH_SIZE per call; 1 sends each alone (an ESP whose batch sends need a template: Amazon SES).

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

from ..errors import DeliveryError, unreached
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

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        return max(settings.MESSAGING_EMAIL_BATCH_SIZE, 1)

    def build(self, message: OutgoingMessage) -> AnymailMessage:
        email = self._email(message, to=[message.to], headers=message_headers(message))
        email.metadata = message_metadata(message)
        return email

    def send(self, message: OutgoingMessage) -> str:
        email = self.build(message)
        self._deliver(email)
        return _provider_id(email.anymail_status)

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | DeliveryError]:
        """Messages with the same content (a campaign's) leave as one batch send of the ESP: one API call, anymail's
        `merge_metadata` and `merge_headers` giving each its own metadata (our id), Message-ID and List-Unsubscribe.
        Anything else, one call each."""
        outcomes: dict[int, str | DeliveryError] = {}
        for group in _batches(messages, self.batch_size):
            if len(group) > 1:
                try:
                    outcomes.update(zip(group, self._send_batch([messages[n] for n in group]), strict=True))
                    continue
                except AnymailInvalidAddress:
                    pass  # refused while building the request, before anything left: one by one, so only it fails
                except DeliveryError as exc:
                    outcomes.update(dict.fromkeys(group, exc))
                    continue
            for n in group:
                try:
                    outcomes[n] = self.send(messages[n])
                except DeliveryError as exc:
                    outcomes[n] = exc
        return [outcomes[n] for n in range(len(messages))]

    def _send_batch(self, messages: list[OutgoingMessage]) -> list[str | DeliveryError]:
        email = self._email(messages[0], to=[message.to for message in messages], headers={})
        email.merge_metadata = {message.to: message_metadata(message) for message in messages}
        email.merge_headers = {message.to: message_headers(message) for message in messages}
        self._deliver(email, batch=True)
        recipients = email.anymail_status.recipients
        outcomes: list[str | DeliveryError] = []
        for message in messages:
            status = recipients.get(message.to)
            if status is None:  # the ESP said nothing of it: accepted, its id unknown (as a lone send without one)
                outcomes.append("")
            elif status.status in ("rejected", "invalid"):
                outcomes.append(DeliveryError(f"esp rejected the recipient ({status.status})", is_temporary=False))
            else:
                outcomes.append(str(status.message_id or "")[:300])
        return outcomes

    def _email(self, message: OutgoingMessage, *, to: list[str], headers: dict[str, str]) -> AnymailMessage:
        """The message's content, from and reply-to, for these recipients."""
        email = AnymailMessage(
            subject=message.content["subject"],
            body=message.content.get("body", ""),
            from_email=message.sender or settings.DEFAULT_FROM_EMAIL,
            to=to,
            reply_to=[message.reply_to] if message.reply_to else None,
            headers=headers,
        )
        if message.content.get("html"):
            email.attach_alternative(message.content["html"], "text/html")
        # One tag: several ESPs (Postmark) take only one.
        email.tags = [message.purpose]
        return email

    def _deliver(self, email: AnymailMessage, *, batch: bool = False) -> None:
        """Send through anymail; its errors as DeliveryError. In a batch, AnymailInvalidAddress raised before anything
        was sent (anymail parses every address while building the request) is left to the caller."""
        try:
            self.connection.send_messages([email])
        except AnymailInvalidAddress:
            if batch and email.anymail_status.esp_response is None:
                raise  # nothing left yet: the caller sends the batch's messages one by one
            # A lone message's address; or the ESP's answer to a batch, unreadable: it may have sent them, never again.
            raise DeliveryError("esp refused the recipient: AnymailInvalidAddress", is_temporary=False) from None
        except AnymailRecipientsRefused as exc:
            raise DeliveryError(f"esp refused the recipient: {type(exc).__name__}", is_temporary=False) from None
        except AnymailRequestsAPIError as exc:
            status = exc.status_code
            if status is None:  # no answer: connection refused (never sent), or a timeout (perhaps sent)
                raise unreached("esp unreachable", exc) from None
            temporary = status >= 500 or status in _TEMPORARY_STATUSES
            raise DeliveryError(f"esp answered {status}", is_temporary=temporary) from None
        except AnymailAPIError as exc:
            raise unreached(f"esp error: {type(exc).__name__}", exc) from None
        except AnymailError as exc:
            raise DeliveryError(f"esp refused the message: {type(exc).__name__}", is_temporary=False) from None
        status = email.anymail_status
        if not batch and status.status and status.status <= {"rejected", "invalid"}:
            raise DeliveryError(f"esp rejected the recipient ({', '.join(sorted(status.status))})", is_temporary=False)


def _provider_id(status) -> str:
    return str(status.message_id or "")[:300]


def _batches(messages: list[OutgoingMessage], size: int) -> list[list[int]]:
    """Positions of the messages that may share one batch send, at most `size` each: the same content, sender,
    reply-to and purpose, each recipient once (the ESP's answer is per address), plain addresses only (anymail keys
    the merge data by address). Others alone."""
    open_batches: dict[tuple, list[int]] = {}
    addresses: dict[tuple, set[str]] = {}
    batches: list[list[int]] = []
    for n, message in enumerate(messages):
        content = message.content
        key = (
            message.purpose,
            message.sender,
            message.reply_to,
            content["subject"],
            content.get("body", ""),
            content.get("html") or "",
        )
        address = message.to.lower()
        plain = size > 1 and "<" not in address and "," not in address
        batch = open_batches.get(key) if plain else None
        if batch is None or address in addresses[key] or len(batch) >= size:
            batch = [n]
            batches.append(batch)
            if plain:
                open_batches[key], addresses[key] = batch, {address}
            continue
        batch.append(n)
        addresses[key].add(address)
    return batches


def message_headers(message: OutgoingMessage) -> dict[str, str]:
    """The message's own headers: a Message-ID from our id (as the smtp backend's), List-Unsubscribe on marketing."""
    headers = {"Message-ID": f"<{message.message_id}@{settings.MESSAGING_EMAIL_MESSAGE_ID_DOMAIN}>"}
    if message.purpose == "marketing":
        headers.update(list_unsubscribe_headers(message.message_id))
    return headers


def message_metadata(message: OutgoingMessage) -> dict[str, str]:
    """Our id (callbacks find the message by it) and the campaign, case or order the message belongs to."""
    return {"message_id": message.message_id, **message.tags}


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
