"""Delivery callbacks: a provider tells us a message was delivered, read, clicked, bounced or failed."""

import hashlib
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

from ..models import OutboundMessage, StatusCallback
from .send import event_id_for

STATUS_EVENTS: Final = {
    "delivered": "message.delivered",
    "read": "message.read",
    "clicked": "message.clicked",
    "bounced": "message.bounced",
    "failed": "message.failed",
    "unsubscribed": "message.unsubscribed",
}

_RANK: Final = {"delivered": 1, "read": 2, "clicked": 3, "unsubscribed": 3, "bounced": 4, "failed": 4}


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
) -> StatusResult:
    """Record one callback against the message with that provider id. The same callback again records nothing.

    Raises UnknownMessage when no message of the channel has that provider id, ValueError for an unknown status.
    """
    if status not in STATUS_EVENTS:
        raise ValueError(status)
    digest = hashlib.sha256(
        orjson.dumps(
            [channel, provider_message_id, status, occurred_at.isoformat() if occurred_at else None, url, reason]
        )
    ).hexdigest()
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .filter(channel=channel, provider_message_id=provider_message_id)
            .exclude(provider_message_id="")
            .first()
        )
        if message is None:
            raise UnknownMessage(channel, provider_message_id)
        known = StatusCallback.objects.filter(digest=digest).first()
        if known is not None:
            return StatusResult(message.id, known.event_id, duplicate=True)
        data = {**message.attribution(), "provider_message_id": provider_message_id}
        if status == "clicked":
            data["url"] = url
        elif status == "bounced":
            data["reason"] = reason
        elif status == "failed":
            data = {**message.attribution(), "reason": reason or "provider_failed", "terminal": True}
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
                    metadata={"actor": f"provider:{channel}", "source": "api.channels.status"},
                )
            ],
        )
        if status == "unsubscribed":
            # Consent belongs to customers (a layer above): the hook records the withdrawal in this transaction.
            import_string(settings.MESSAGING_UNSUBSCRIBE_HOOK)(
                customer_id=message.customer_id, channel=channel, occurred_at=occurred_at, cause_id=event_id
            )
        now = timezone.now()
        StatusCallback.objects.create(digest=digest, message=message, status=status, event_id=event_id, received_at=now)
        # Callbacks arrive out of order (a read before its delivered): the summary only moves forward.
        if _RANK[status] >= _RANK.get(message.delivery_status, 0):
            message.delivery_status = status
        message.updated_at = now
        message.save(update_fields=["delivery_status", "updated_at"])
    return StatusResult(message.id, event_id, duplicate=False)
