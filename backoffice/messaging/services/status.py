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
from django.db.models import Q
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


@dataclass(frozen=True)
class StatusCallbackData:
    """One provider callback about one message (the arguments of `message_status_record`)."""

    channel: str
    status: str
    provider_message_id: str = ""
    message_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
    url: str = ""
    reason: str = ""
    emoji: str = ""
    is_undeliverable: bool = False
    withdraws_marketing: bool = False
    address: str = ""

    @property
    def digest(self) -> str:
        key = str(self.message_id) if self.message_id else self.provider_message_id
        when = self.occurred_at.isoformat() if self.occurred_at else None
        fields = [self.channel, key, self.status, when, self.url, self.reason, self.emoji]
        return hashlib.sha256(orjson.dumps(fields)).hexdigest()


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
    callback = StatusCallbackData(
        channel=channel,
        status=status,
        provider_message_id=provider_message_id,
        message_id=message_id,
        occurred_at=occurred_at,
        url=url,
        reason=reason,
        emoji=emoji,
        is_undeliverable=is_undeliverable,
        withdraws_marketing=withdraws_marketing,
        address=address,
    )
    (result,) = message_statuses_record(callbacks=[callback], source=source)
    if isinstance(result, UnknownMessage):
        raise result
    return result


def message_statuses_record(*, callbacks: list[StatusCallbackData], source: str) -> list[StatusResult | UnknownMessage]:
    """Record many callbacks in one transaction (a Meta webhook carries dozens of statuses): one lookup of their
    messages, one append, one insert of the ledger rows. Each result is a StatusResult, or the UnknownMessage for a
    callback about no message of ours (the others are recorded all the same). Raises ValueError for an unknown
    status before anything is written."""
    for callback in callbacks:
        if callback.status not in STATUS_EVENTS:
            raise ValueError(callback.status)
    digests = [callback.digest for callback in callbacks]
    with transaction.atomic():
        messages = _messages_for(callbacks)
        known = dict(StatusCallback.objects.filter(digest__in=set(digests)).values_list("digest", "event_id"))
        now = timezone.now()
        results: list[StatusResult | UnknownMessage] = []
        appends, ledger, changed, hooks = [], [], {}, []
        for callback, digest in zip(callbacks, digests, strict=True):
            message = messages.get(callback.message_id or (callback.channel, callback.provider_message_id))
            if message is None:
                results.append(
                    UnknownMessage(callback.channel, callback.provider_message_id or str(callback.message_id))
                )
                continue
            if digest in known:
                results.append(StatusResult(message.id, known[digest], duplicate=True))
                continue
            event_id = event_id_for(message.id, f"status-{digest}")
            known[digest] = event_id  # the same callback twice in one batch records once
            appends.append(store.StreamAppend(message.stream, [_status_event(message, callback, event_id, source)]))
            ledger.append(
                StatusCallback(
                    digest=digest, message=message, status=callback.status, event_id=event_id, received_at=now
                )
            )
            if (
                callback.status in ("unsubscribed", "complained")
                or callback.withdraws_marketing
                or callback.is_undeliverable
            ):
                hooks.append((message, callback, event_id))
            # Callbacks arrive out of order (a read before its delivered): the summary only moves forward.
            if callback.status != "delayed" and _RANK[callback.status] >= _RANK.get(message.delivery_status, 0):
                message.delivery_status = callback.status
            message.updated_at = now
            changed[message.id] = message
            results.append(StatusResult(message.id, event_id, duplicate=False))
        if appends:
            store.append_batches(appends, savepoint=False)
            StatusCallback.objects.bulk_create(ledger)
            OutboundMessage.objects.bulk_update(list(changed.values()), ["delivery_status", "updated_at"])
        for message, callback, event_id in hooks:
            _consequences(message, callback, event_id, now)
    return results


def _messages_for(callbacks: list[StatusCallbackData]) -> dict:
    """The messages the callbacks name, locked (in id order), keyed by our id and by (channel, provider id)."""
    ours = {c.message_id for c in callbacks if c.message_id}
    theirs = {(c.channel, c.provider_message_id) for c in callbacks if not c.message_id and c.provider_message_id}
    match = Q(id__in=ours) if ours else Q(pk__in=[])
    if theirs:
        match |= Q(provider_message_id__in={p for _, p in theirs}, channel__in={c for c, _ in theirs})
    found = {}
    for message in OutboundMessage.objects.select_for_update().filter(match).order_by("id"):
        if message.id in ours:
            found[message.id] = message
        if message.provider_message_id and (message.channel, message.provider_message_id) in theirs:
            found[(message.channel, message.provider_message_id)] = message
    # A message named by our id must be on the callback's channel.
    for callback in callbacks:
        if (
            callback.message_id
            and callback.message_id in found
            and found[callback.message_id].channel != callback.channel
        ):
            del found[callback.message_id]
    return found


def _status_event(message: OutboundMessage, callback: StatusCallbackData, event_id: uuid.UUID, source: str):
    provider_message_id = callback.provider_message_id or message.provider_message_id
    data = {**message.attribution(), "provider_message_id": provider_message_id[:300]}
    if callback.status == "clicked":
        data["url"] = callback.url[:2000]
    elif callback.status in ("bounced", "delayed"):
        data["reason"] = callback.reason[:500]
    elif callback.status == "reacted":
        data["emoji"] = callback.emoji[:32]
    elif callback.status == "failed":
        data = {**message.attribution(), "reason": (callback.reason or "provider_failed")[:500], "terminal": True}
    return store.NewEvent(
        id=event_id,
        type=STATUS_EVENTS[callback.status],
        data=data,
        channel=message.channel,
        customer_id=message.customer_id,
        occurred_at=callback.occurred_at,
        metadata={"actor": f"provider:{message.channel}", "source": source},
    )


def _consequences(message: OutboundMessage, callback: StatusCallbackData, event_id: uuid.UUID, now) -> None:
    """What customers does about it (a layer above, through its hooks, in this transaction): withdraw marketing on
    the channel, mark the address dead. A provider clock a little ahead must not postpone either: from now at the
    latest."""
    effective_at = min(callback.occurred_at, now) if callback.occurred_at else None
    if callback.status in ("unsubscribed", "complained") or callback.withdraws_marketing:
        import_string(settings.MESSAGING_UNSUBSCRIBE_HOOK)(
            customer_id=message.customer_id, channel=message.channel, occurred_at=effective_at, cause_id=event_id
        )
    if callback.is_undeliverable:
        address = callback.address or _sent_to(message)
        if address:
            import_string(settings.MESSAGING_UNDELIVERABLE_HOOK)(
                customer_id=message.customer_id,
                channel=message.channel,
                address=address,
                reason=(callback.reason or callback.status)[:200],
                occurred_at=effective_at,
                cause_id=event_id,
            )
        else:
            logger.warning("message %s: undeliverable, but its address is unknown (erased?)", message.id)


def _sent_to(message: OutboundMessage) -> str:
    """The address the message went to, from its sealed `message.sent` (empty once the customer is erased)."""
    for event in reversed(store.read_stream(message.stream)):
        if event.type == "message.sent":
            to = event.data.get("to")
            return to if isinstance(to, str) and to != ERASED else ""
    return ""
