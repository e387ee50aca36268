"""message_send: record that a message is to be sent, in the caller's transaction; the drain sends it after commit."""

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from backoffice.eventstore import store

from .. import channels, policy
from ..errors import ChannelRuleError
from ..models import OutboundMessage, Status

# Message ids derive from the idempotency key, so a retried call that raced the first one lands on the same stream
# and the same event id, and the event store's idempotency settles it.
MESSAGE_NAMESPACE: Final = uuid.UUID("6f1c2a7e-5d4b-4c1e-9a0f-3b8e2d7c6a51")


def message_id_for(idempotency_key: str) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, idempotency_key)


def event_id_for(message_id: uuid.UUID, what: str) -> uuid.UUID:
    return uuid.uuid5(message_id, what)


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
    if not isinstance(idempotency_key, str) or not idempotency_key.strip() or len(idempotency_key) > 200:
        raise ChannelRuleError("idempotency_key", "must be 1 to 200 characters", "invalid")
    existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    row, event = _prepare(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        content=content,
        idempotency_key=idempotency_key,
        actor=actor,
        attribution={"campaign_id": campaign_id, "case_id": case_id, "order_id": order_id, "variant": variant},
        now=timezone.now(),
    )
    with transaction.atomic():
        result = store.append_batches([store.StreamAppend(row.stream, [event])])[0]
        if result.duplicate:
            # A concurrent call with the same key committed first: its row is the message.
            stored = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
            if stored is not None:
                return stored
        row.save(force_insert=True)
        wake_drain_after_commit()
    return row


def _prepare(
    *,
    customer_id: uuid.UUID,
    channel: str,
    purpose: str,
    content: dict[str, Any],
    idempotency_key: str,
    actor: str,
    attribution: dict[str, str | None],
    now: datetime,
    max_sms_segments: int | None = None,
) -> tuple[OutboundMessage, store.NewEvent]:
    """The outbox row and `message.queued` event of one message, or ChannelRuleError; writes nothing."""
    if channel not in channels.OUTBOUND_CHANNELS:
        raise ChannelRuleError("channel", f"messages cannot be sent on {channel!r}", "unknown_channel")
    last_inbound_at = None
    if channels.needs_whatsapp_window(channel, content if isinstance(content, dict) else {}):
        last_inbound_at = policy.recipient_policy().last_inbound_at(customer_id, channel)
    if channel != "sms":
        max_segments = 0
    elif max_sms_segments is None:
        max_segments = policy.channel_rules(channel).max_sms_segments
    else:
        max_segments = max_sms_segments
    cleaned = channels.check(
        channel=channel,
        purpose=purpose,
        content=content,
        max_sms_segments=max_segments,
        last_inbound_at=last_inbound_at,
        now=now,
    )
    for name, value in attribution.items():
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise ChannelRuleError(name, "must be a string of at most 64 characters", "invalid")

    message_id = message_id_for(idempotency_key)
    row = OutboundMessage(
        id=message_id,
        idempotency_key=idempotency_key,
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        status=Status.QUEUED,
        not_before=now,
        queued_event_id=event_id_for(message_id, "queued"),
        campaign_id=attribution.get("campaign_id") or "",
        case_id=attribution.get("case_id") or "",
        order_id=attribution.get("order_id") or "",
        variant=attribution.get("variant") or "",
        actor=actor[:100],
        created_at=now,
        updated_at=now,
    )
    event = store.NewEvent(
        id=row.queued_event_id,
        type="message.queued",
        data={**row.attribution(), "idempotency_key": idempotency_key, "content": cleaned},
        channel=channel,
        customer_id=customer_id,
        metadata={"actor": actor},
    )
    return row, event


@dataclass(frozen=True)
class MessageRequest:
    """One message for message_send_many: the arguments of message_send."""

    customer_id: uuid.UUID
    channel: str
    purpose: str
    content: dict[str, Any]
    idempotency_key: str
    actor: str
    campaign_id: str | None = None
    case_id: str | None = None
    order_id: str | None = None
    variant: str | None = None


def message_send_many(requests: Sequence[MessageRequest]) -> list[OutboundMessage]:
    """message_send for a batch (a campaign's fan-out): the same checks and the same idempotency, with one append,
    one bulk insert and one drain wake-up for the whole batch, in the caller's transaction (or one of its own).

    A request breaking a channel rule raises ChannelRuleError with its index in front of the field
    (`3.content.text`) before anything is written. Results follow the input order; a key already queued (or twice in
    the batch) answers the message queued first.
    """
    keys = [request.idempotency_key for request in requests]
    for index, key in enumerate(keys):
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise ChannelRuleError(f"{index}.idempotency_key", "must be 1 to 200 characters", "invalid")
    existing = {row.idempotency_key: row for row in OutboundMessage.objects.filter(idempotency_key__in=set(keys))}
    now = timezone.now()
    sms_segments = policy.channel_rules("sms").max_sms_segments if any(r.channel == "sms" for r in requests) else 0
    fresh: dict[str, tuple[OutboundMessage, store.NewEvent]] = {}
    for index, request in enumerate(requests):
        if request.idempotency_key in existing or request.idempotency_key in fresh:
            continue
        try:
            fresh[request.idempotency_key] = _prepare(
                customer_id=request.customer_id,
                channel=request.channel,
                purpose=request.purpose,
                content=request.content,
                idempotency_key=request.idempotency_key,
                actor=request.actor,
                attribution={
                    "campaign_id": request.campaign_id,
                    "case_id": request.case_id,
                    "order_id": request.order_id,
                    "variant": request.variant,
                },
                now=now,
                max_sms_segments=sms_segments,
            )
        except ChannelRuleError as exc:
            raise ChannelRuleError(f"{index}.{exc.field}", exc.message, exc.code) from None
    if fresh:
        with transaction.atomic():
            results = store.append_batches([store.StreamAppend(row.stream, [event]) for row, event in fresh.values()])
            raced = [key for key, result in zip(fresh, results, strict=True) if result.duplicate]
            new_rows = [row for key, (row, _event) in fresh.items() if key not in raced]
            OutboundMessage.objects.bulk_create(new_rows)
            existing.update({row.idempotency_key: row for row in new_rows})
            if raced:
                # Concurrent senders committed these first: their rows are the messages.
                existing.update(
                    {row.idempotency_key: row for row in OutboundMessage.objects.filter(idempotency_key__in=raced)}
                )
            wake_drain_after_commit()
    return [existing[key] for key in keys]


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
    def __init__(self):
        self.fired = False

    def __call__(self) -> None:
        if self.fired:
            return
        self.fired = True
        from ..tasks import messages_drain_task  # tasks import services; the hand-off goes the other way lazily

        messages_drain_task.delay()


_wake = threading.local()
