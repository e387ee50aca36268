"""Delivery callbacks: a provider tells us a message was delivered, read, clicked, bounced, failed, complained
about, reacted to, or that the recipient unsubscribed.

The generic signed webhook (POST /api/v1/channels/{channel}/status) and the provider adapters (anymail, Twilio, Meta)
all record through `message_status_record`, so every callback is applied once whatever door it came through.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from backoffice.eventstore import store
from backoffice.eventstore.keys import ERASED

from ..models import OutboundMessage, StatusCallback
from .send import event_id_for

logger = logging.getLogger(__name__)

STATUS_EVENTS: Final = {
    "delivered": "message.delivered",
    "read": "message.read",
    "clicked": "message.clicked",
    "bounced": "message.bounced",
    "failed": "message.failed",
    "unsubscribed": "message.unsubscribed",
    "complained": "message.complained",
    "delayed": "message.delayed",
    "reacted": "message.reacted",
}
# What the generic signed webhook accepts (its public contract predates the provider adapters).
GENERIC_STATUSES: Final = ("bounced", "clicked", "delivered", "failed", "read", "unsubscribed")

_RANK: Final = {
    "delayed": 0,
    "delivered": 1,
    "read": 2,
    "reacted": 2,
    "clicked": 3,
    "unsubscribed": 3,
    "bounced": 4,
    "failed": 4,
    "complained": 4,
}


class UnknownMessage(LookupError):
    def __init__(self, channel: str, provider_message_id: str):
        self.channel = channel
        self.provider_message_id = provider_message_id
        super().__init__(f"no {channel} message has provider id {provider_message_id!r}")


@dataclass(frozen=True)
class StatusResult:
    message_id: uuid.UUID
    event_id: uuid.UUID
    duplicate: bool


def message_status_record(
    *,
    channel: str,
    provider_message_id: str,
    status: str,
    occurred_at: datetime | None = None,
    url: str = "",
    reason: str = "",
    message_id: uuid.UUID | None = None,
    emoji: str = "",
    is_undeliverable: bool = False,
    withdraws_marketing: bool = False,
    address: str = "",
    source: str = "api.channels.status",
) -> StatusResult:
    """Record one callback against the message (by our `message_id` when the provider echoes it back, else by the
    provider's id). The same callback again records nothing.

    `withdraws_marketing` (implied by unsubscribed and complained): customers withdraws marketing on the channel.
    `is_undeliverable`: the address is dead (hard bounce, unknown number): customers marks it so it is not tried
    again; `address` is the one the provider reports, else the one the message was sent to.
    Raises UnknownMessage when no message of the channel matches, ValueError for an unknown status.
    """
    if status not in STATUS_EVENTS:
        raise ValueError(status)
    digest = hashlib.sha256(
        orjson.dumps(
            [
                channel,
                str(message_id) if message_id else provider_message_id,
                status,
                occurred_at.isoformat() if occurred_at else None,
                url,
                reason,
                emoji,
            ]
        )
    ).hexdigest()
    with transaction.atomic():
        found = OutboundMessage.objects.select_for_update().filter(channel=channel)
        if message_id is not None:
            message = found.filter(id=message_id).first()
        else:
            message = found.filter(provider_message_id=provider_message_id).exclude(provider_message_id="").first()
        if message is None:
            raise UnknownMessage(channel, provider_message_id or str(message_id))
        known = StatusCallback.objects.filter(digest=digest).first()
        if known is not None:
            return StatusResult(message.id, known.event_id, duplicate=True)
        provider_message_id = provider_message_id or message.provider_message_id
        data = {**message.attribution(), "provider_message_id": provider_message_id[:300]}
        if status == "clicked":
            data["url"] = url[:2000]
        elif status in ("bounced", "delayed"):
            data["reason"] = reason[:500]
        elif status == "reacted":
            data["emoji"] = emoji[:32]
        elif status == "failed":
            data = {**message.attribution(), "reason": (reason or "provider_failed")[:500], "terminal": True}
        event_id = event_id_for(message.id, f"status-{digest}")
        store.append(
            message.stream,
            [
                store.NewEvent(
                    id=event_id,
                    type=STATUS_EVENTS[status],
                    data=data,
                    channel=channel,
                    customer_id=message.customer_id,
                    occurred_at=occurred_at,
                    metadata={"actor": f"provider:{channel}", "source": source},
                )
            ],
        )
        # A provider clock a little ahead must not postpone a withdrawal or a dead address: from now at the latest.
        effective_at = min(occurred_at, timezone.now()) if occurred_at else None
        if status in ("unsubscribed", "complained") or withdraws_marketing:
            # Consent belongs to customers (a layer above): the hook records the withdrawal in this transaction.
            import_string(settings.MESSAGING_UNSUBSCRIBE_HOOK)(
                customer_id=message.customer_id, channel=channel, occurred_at=effective_at, cause_id=event_id
            )
        if is_undeliverable:
            address = address or _sent_to(message)
            if address:
                import_string(settings.MESSAGING_UNDELIVERABLE_HOOK)(
                    customer_id=message.customer_id,
                    channel=channel,
                    address=address,
                    reason=(reason or status)[:200],
                    occurred_at=effective_at,
                    cause_id=event_id,
                )
            else:
                logger.warning("message %s: undeliverable, but its address is unknown (erased?)", message.id)
        now = timezone.now()
        StatusCallback.objects.create(digest=digest, message=message, status=status, event_id=event_id, received_at=now)
        # Callbacks arrive out of order (a read before its delivered): the summary only moves forward.
        if _RANK[status] >= _RANK.get(message.delivery_status, 0) and status != "delayed":
            message.delivery_status = status
        message.updated_at = now
        message.save(update_fields=["delivery_status", "updated_at"])
    return StatusResult(message.id, event_id, duplicate=False)


def _sent_to(message: OutboundMessage) -> str:
    """The address the message went to, from its sealed `message.sent` (empty once the customer is erased)."""
    for event in reversed(store.read_stream(message.stream)):
        if event.type == "message.sent":
            to = event.data.get("to")
            return to if isinstance(to, str) and to != ERASED else ""
    return ""
