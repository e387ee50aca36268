"""message_send: record that a message is to be sent, in the caller's transaction; the drain sends it after commit."""

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from backoffice.celery import task_send
from backoffice.eventstore import store
from backoffice.eventstore.sql import copy_rows, execute_pg
from backoffice.eventstore.vocabulary import Channel

from .. import channels, policy
from ..errors import ChannelRuleError
from ..events import MessageQueued
from ..models import OutboundMessage, Status

# Message ids derive from the idempotency key, so a retried call that raced the first one lands on the same stream
# and the same event id, and the event store's idempotency settles it.
MESSAGE_NAMESPACE: Final = uuid.UUID("6f1c2a7e-5d4b-4c1e-9a0f-3b8e2d7c6a51")


def message_id_for(idempotency_key: str) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, idempotency_key)


def event_id_for(message_id: uuid.UUID, what: str) -> uuid.UUID:
    return uuid.uuid5(message_id, what)


@dataclass(frozen=True)
class MessageRequest:
    """One message of a `messages_send` batch: the arguments of `message_send` but the actor."""

    customer_id: uuid.UUID
    channel: str
    purpose: str
    content: dict[str, Any]
    idempotency_key: str
    campaign_id: str | None = None
    case_id: str | None = None
    order_id: str | None = None
    variant: str | None = None


def message_send(
    *,
    customer_id: uuid.UUID,
    channel: str,
    purpose: str,
    content: dict[str, Any],
    idempotency_key: str,
    actor: str,
    campaign_id: str | None = None,
    case_id: str | None = None,
    order_id: str | None = None,
    variant: str | None = None,
) -> OutboundMessage:
    """Queue one message: `message.queued` and its outbox row, in the caller's transaction (or one of its own).

    The same idempotency key again returns the message already queued, and writes nothing. A message that breaks
    a channel rule raises ChannelRuleError(field, message, code) before anything is written. Consent, address and
    quiet hours are checked when it is sent, not here: they may change before then.
    """
    request = MessageRequest(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        content=content,
        idempotency_key=idempotency_key,
        campaign_id=campaign_id,
        case_id=case_id,
        order_id=order_id,
        variant=variant,
    )
    return messages_send(messages=[request], actor=actor)[0]


def messages_send(*, messages: Sequence[MessageRequest], actor: str) -> list[OutboundMessage]:
    """Queue many messages at once (a campaign's fan-out batch): the same rules and guarantees as `message_send`,
    in one append and one insert. A rule violation raises ChannelRuleError with `index` set to the message's
    position, and nothing of the batch is written. Returns the messages in the order asked."""
    for index, request in enumerate(messages):
        key = request.idempotency_key
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise ChannelRuleError("idempotency_key", "must be 1 to 200 characters", "invalid", index=index)
    keys = list({request.idempotency_key for request in messages})
    known = _messages_by_key(keys)
    now = timezone.now()
    limits: dict[str, int] = {}
    fresh: dict[str, tuple[OutboundMessage, store.NewEvent]] = {}
    for index, request in enumerate(messages):
        if request.idempotency_key in known or request.idempotency_key in fresh:
            continue
        try:
            fresh[request.idempotency_key] = _prepare(request, actor=actor, now=now, limits=limits)
        except ChannelRuleError as exc:
            exc.index = index
            raise
    if fresh:
        # No savepoint of our own (two round trips per call inside the caller's transaction): a failure here
        # fails the caller's transaction as a whole, which is what it would do with the exception anyway.
        with transaction.atomic(savepoint=False):
            results = store.append_batches([store.StreamAppend(row.stream, [event]) for row, event in fresh.values()])
            raced = [
                row.idempotency_key
                for (row, _), result in zip(fresh.values(), results, strict=True)
                if result.duplicate
            ]
            if raced:
                # Concurrent calls with the same keys committed first: their rows are the messages.
                known.update(_messages_by_key(raced))
            _insert([row for key, (row, _) in fresh.items() if key not in known])
            wake_drain_after_commit()
    return [known.get(r.idempotency_key) or fresh[r.idempotency_key][0] for r in messages]


def _messages_by_key(keys: list[str]) -> dict[str, OutboundMessage]:
    """The messages already queued under these keys (usually none: only a batch redone finds any)."""
    if connection.vendor == "postgresql":
        # Which keys exist, in one statement bound by the server; the rows themselves only for those.
        found = [
            key
            for (key,) in execute_pg(
                "SELECT idempotency_key FROM messaging_outboundmessage WHERE idempotency_key = ANY(%b)", [keys]
            )
        ]
        if not found:
            return {}
        keys = found
    return {row.idempotency_key: row for row in OutboundMessage.objects.filter(idempotency_key__in=keys)}


def _insert(rows: list[OutboundMessage]) -> None:
    """The outbox rows of a batch: COPY on PostgreSQL (the ORM's INSERT compiled every value of every row, a third of
    a fan-out batch), bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        OutboundMessage.objects.bulk_create(rows)
        return
    fields = OutboundMessage._meta.concrete_fields
    copy_rows(
        OutboundMessage._meta.db_table,
        [field.column or field.attname for field in fields],  # a concrete field always has its column
        [tuple(getattr(row, field.attname) for field in fields) for row in rows],
    )


def _prepare(
    request: MessageRequest, *, actor: str, now: datetime, limits: dict[str, int]
) -> tuple[OutboundMessage, store.NewEvent]:
    channel, content = request.channel, request.content
    if channel not in channels.OUTBOUND_CHANNELS:
        raise ChannelRuleError("channel", f"messages cannot be sent on {channel!r}", "unknown_channel")
    last_inbound_at = None
    if channels.needs_whatsapp_window(channel, content if isinstance(content, dict) else {}):
        last_inbound_at = policy.recipient_policy().last_inbound_at(request.customer_id, channel)
    max_segments = 0
    if channel == Channel.SMS and isinstance(content, dict) and isinstance(content.get("text"), str):
        # One segment is always allowed: the channel's limit is only read for longer texts.
        if channels.sms_length(content["text"]).segments > 1:
            if channel not in limits:
                limits[channel] = policy.channel_rules(channel).max_sms_segments
            max_segments = limits[channel]
        else:
            max_segments = 1
    cleaned = channels.check(
        channel=channel,
        purpose=request.purpose,
        content=content,
        max_sms_segments=max_segments,
        last_inbound_at=last_inbound_at,
        now=now,
    )
    for name in ("campaign_id", "case_id", "order_id", "variant"):
        value = getattr(request, name)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise ChannelRuleError(name, "must be a string of at most 64 characters", "invalid")

    message_id = message_id_for(request.idempotency_key)
    row = OutboundMessage(
        id=message_id,
        idempotency_key=request.idempotency_key,
        customer_id=request.customer_id,
        channel=channel,
        purpose=request.purpose,
        status=Status.QUEUED,
        not_before=now,
        queued_event_id=event_id_for(message_id, "queued"),
        campaign_id=request.campaign_id or "",
        case_id=request.case_id or "",
        order_id=request.order_id or "",
        variant=request.variant or "",
        actor=actor[:100],
        created_at=now,
        updated_at=now,
    )
    queued = MessageQueued.from_data(
        {**row.attribution(), "idempotency_key": request.idempotency_key, "content": cleaned}
    )
    event = store.NewEvent.of(
        queued,
        id=row.queued_event_id,
        channel=channel,
        customer_id=request.customer_id,
        metadata={"actor": actor},
    )
    return row, event


def wake_drain_after_commit() -> None:
    """Ask for a drain once the transaction commits: one task per commit, however many messages it queued.

    Every call registers a callback (cheap), and the callbacks of one transaction share a token, so only the first
    to run publishes the task. A token whose callback never ran (rolled back) is reused by the next transaction.
    """
    token = getattr(_wake, "token", None)
    if token is None or token.fired or not connection.in_atomic_block:
        token = _wake.token = _DrainWake()
    transaction.on_commit(token, robust=True)


class _DrainWake:
    def __init__(self) -> None:
        self.fired = False
        # Django names a robust callback that failed (the broker down at commit) by its __qualname__, which an
        # instance lacks: without it the logging of the failure raised, and the committed request answered 500.
        self.__qualname__ = "wake_drain_after_commit"

    def __call__(self) -> None:
        if self.fired:
            return
        self.fired = True
        # By the task's name: tasks import services, never the other way (an import-linter contract).
        task_send("messaging.drain")


_wake = threading.local()
