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
from typing import Final, cast

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string

from backoffice import crypto
from backoffice.eventstore import store
from backoffice.eventstore.keys import ERASED
from backoffice.eventstore.schema import EventData
from backoffice.eventstore.sql import execute_pg

from ..events import (
    MessageBounced,
    MessageClicked,
    MessageComplained,
    MessageDelayed,
    MessageDelivered,
    MessageFailed,
    MessageReacted,
    MessageRead,
    MessageSent,
    MessageUnsubscribed,
)
from ..models import OutboundMessage, StatusCallback
from ..vocabulary import DeliveryStatus
from .send import event_id_for
from .unmatched import unmatched_callbacks_keep

logger = logging.getLogger(__name__)

STATUS_EVENTS: Final[dict[str, type[EventData]]] = {
    DeliveryStatus.DELIVERED: MessageDelivered,
    DeliveryStatus.READ: MessageRead,
    DeliveryStatus.CLICKED: MessageClicked,
    DeliveryStatus.BOUNCED: MessageBounced,
    DeliveryStatus.FAILED: MessageFailed,
    DeliveryStatus.UNSUBSCRIBED: MessageUnsubscribed,
    DeliveryStatus.COMPLAINED: MessageComplained,
    DeliveryStatus.DELAYED: MessageDelayed,
    DeliveryStatus.REACTED: MessageReacted,
}
# What the generic signed webhook accepts (its public contract predates the provider adapters).
GENERIC_STATUSES: Final = (
    DeliveryStatus.BOUNCED,
    DeliveryStatus.CLICKED,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.READ,
    DeliveryStatus.UNSUBSCRIBED,
)

# How far along a status is: the summary only moves forward (a member is its string, so a stored status finds it).
_RANK: Final[dict[str, int]] = {
    DeliveryStatus.DELAYED: 0,
    DeliveryStatus.DELIVERED: 1,
    DeliveryStatus.READ: 2,
    DeliveryStatus.REACTED: 2,
    DeliveryStatus.CLICKED: 3,
    DeliveryStatus.UNSUBSCRIBED: 3,
    DeliveryStatus.BOUNCED: 4,
    DeliveryStatus.FAILED: 4,
    DeliveryStatus.COMPLAINED: 4,
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

    def sealed(self) -> str:
        """The callback as encrypted JSON, for the tables that keep callbacks (the address is personal)."""
        # orjson writes the dataclass, its UUID, datetime and StrEnum fields itself: dataclasses.asdict deep-copied
        # every field first, two fifths of the sealing's CPU on the Twilio receipt's path.
        return crypto.encrypt(orjson.dumps(self, default=str))

    @classmethod
    def unsealed(cls, token: str) -> "StatusCallbackData":
        fields = orjson.loads(crypto.decrypt(token))
        fields["message_id"] = uuid.UUID(fields["message_id"]) if fields.get("message_id") else None
        fields["occurred_at"] = parse_datetime(fields["occurred_at"]) if fields.get("occurred_at") else None
        return cls(**fields)


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
    keep_unmatched: bool = False,
) -> StatusResult:
    """Record one callback against the message (by our `message_id` when the provider echoes it back, else by the
    provider's id). The same callback again records nothing.

    `withdraws_marketing` (implied by unsubscribed and complained): customers withdraws marketing on the channel.
    `is_undeliverable`: the address is dead (hard bounce, unknown number): customers marks it so it is not tried
    again; `address` is the one the provider reports, else the one the message was sent to.
    Raises UnknownMessage when no message of the channel matches (kept for a retry first with `keep_unmatched`:
    services.unmatched), ValueError for an unknown status.
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
    (result,) = message_statuses_record(callbacks=[callback], source=source, keep_unmatched=keep_unmatched)
    if isinstance(result, UnknownMessage):
        raise result
    return result


def message_statuses_record(
    *, callbacks: list[StatusCallbackData], source: str, keep_unmatched: bool = False
) -> list[StatusResult | UnknownMessage]:
    """Record many callbacks in one transaction (a Meta webhook carries dozens of statuses). Each result is a
    StatusResult, or the UnknownMessage for a callback about no message of ours (the others are recorded all the
    same; with `keep_unmatched`, the provider doors', it is kept in the same transaction and tried again later:
    services.unmatched). Raises ValueError for an unknown status before anything is written.

    Statements, whatever the batch: lock the messages; claim the callbacks in the ledger (INSERT ... ON CONFLICT DO
    NOTHING RETURNING: the ones already there are replays, and their event ids derive from the digest, so nothing
    needs reading back); move the messages' summary; then, last before the commit, append the events, so the event
    store's append lock is held for the append and the commit only (DESIGN 9)."""
    for callback in callbacks:
        if callback.status not in STATUS_EVENTS:
            raise ValueError(callback.status)
    with transaction.atomic():
        messages = _messages_for(callbacks)
        now = timezone.now()
        claims: dict[str, tuple[OutboundMessage, StatusCallbackData, uuid.UUID]] = {}
        results: list[StatusResult | UnknownMessage] = []
        unmatched: list[StatusCallbackData] = []
        for callback in callbacks:
            message = messages.get(callback.message_id or (callback.channel, callback.provider_message_id))
            if message is None:
                results.append(
                    UnknownMessage(callback.channel, callback.provider_message_id or str(callback.message_id))
                )
                unmatched.append(callback)
                continue
            digest = callback.digest
            event_id = event_id_for(message.id, f"status-{digest}")
            claims.setdefault(digest, (message, callback, event_id))  # the same callback twice in a batch: once
            results.append(StatusResult(message.id, event_id, duplicate=False))
        if unmatched and keep_unmatched:
            unmatched_callbacks_keep(callbacks=unmatched, source=source, now=now)
        fresh, had = _claim(claims, now)
        results = [
            r if isinstance(r, UnknownMessage) or r.event_id in fresh else StatusResult(r.message_id, r.event_id, True)
            for r in results
        ]
        seen: set[uuid.UUID] = set()
        for index, result in enumerate(results):
            # Only the first of two identical callbacks in one batch is the new one.
            if isinstance(result, StatusResult) and not result.duplicate:
                if result.event_id in seen:
                    results[index] = StatusResult(result.message_id, result.event_id, True)
                seen.add(result.event_id)
        if not fresh:
            return results
        changed: dict[uuid.UUID, OutboundMessage] = {}
        appends = []
        for message, callback, event_id in (claim for claim in claims.values() if claim[2] in fresh):
            event = _status_event(message, callback, event_id, source, is_repeat=(message.id, callback.status) in had)
            had.add((message.id, callback.status))  # a batch with two opens of one message: the second repeats
            appends.append(store.StreamAppend(message.stream, [event]))
            # Callbacks arrive out of order (a read before its delivered): the summary only moves forward.
            if callback.status != DeliveryStatus.DELAYED and _RANK[callback.status] >= _RANK.get(
                message.delivery_status, 0
            ):
                message.delivery_status = callback.status
            changed[message.id] = message
        if connection.vendor == "postgresql":
            # One statement text whatever the batch, bound in binary (the ORM compiled an UPDATE per request).
            execute_pg(
                "UPDATE messaging_outboundmessage AS t SET delivery_status = v.status, updated_at = %b "
                "FROM unnest(%b::uuid[], %b::varchar(16)[]) AS v(id, status) WHERE t.id = v.id",
                [now, list(changed), [m.delivery_status for m in changed.values()]],
            )
        elif len(changed) == 1:
            (message,) = changed.values()
            OutboundMessage.objects.filter(id=message.id).update(
                delivery_status=message.delivery_status, updated_at=now
            )
        else:
            for message in changed.values():
                message.updated_at = now
            OutboundMessage.objects.bulk_update(list(changed.values()), ["delivery_status", "updated_at"])
        for message, callback, event_id in (claim for claim in claims.values() if claim[2] in fresh):
            if (
                callback.status in (DeliveryStatus.UNSUBSCRIBED, DeliveryStatus.COMPLAINED)
                or callback.withdraws_marketing
                or callback.is_undeliverable
            ):
                status_consequences_apply(message=message, callback=callback, cause_id=event_id, now=now)
        store.append_batches(appends, savepoint=False)
    return results


# A callback claimed by its digest: the message it names, the callback, and the id its status event will have.
_Claims = dict[str, tuple[OutboundMessage, StatusCallbackData, uuid.UUID]]


def _claim(claims: _Claims, now: datetime) -> tuple[set[uuid.UUID], set[tuple[uuid.UUID, str]]]:
    """Insert the ledger rows of these callbacks. Return the event ids of those not there before, and the (message,
    status) pairs these messages had from earlier callbacks (to mark a second open as a repeat)."""
    if not claims:
        return set(), set()
    if connection.vendor == "postgresql":
        return _claim_pg(claims, now)
    meta = StatusCallback._meta
    fields = [
        cast("Field[object, object]", meta.get_field(name))
        for name in ("digest", "message", "status", "event_id", "received_at")
    ]
    rows = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, (digest, message.id, callback.status, event_id, now), strict=True)
        ]
        for digest, (message, callback, event_id) in claims.items()
    ]
    quote = connection.ops.quote_name
    marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    columns = [quote(cast(str, field.column)) for field in fields]
    digest_column = columns[0]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names
        f"VALUES {marks} ON CONFLICT ({digest_column}) DO NOTHING RETURNING {digest_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
        inserted = {digest for (digest,) in cursor.fetchall()}
    fresh = {claims[digest][2] for digest in inserted}
    message_ids = {message.id for message, _callback, event_id in claims.values() if event_id in fresh}
    earlier = StatusCallback.objects.filter(message_id__in=message_ids).exclude(event_id__in=fresh)
    return fresh, set(earlier.values_list("message_id", "status"))


# The claim and the messages' earlier statuses in one round trip: the SELECT of a statement sees the table as it was
# before the statement's own INSERT, so `earlier` is exactly the ledger less this batch's new rows.
_CLAIM_PG: Final = (
    "WITH fresh AS (INSERT INTO messaging_statuscallback (digest, message_id, status, event_id, received_at) "
    "SELECT d, m, s, e, %b FROM unnest(%b::varchar(64)[], %b::uuid[], %b::varchar(16)[], %b::uuid[]) AS v(d, m, s, e) "
    "ON CONFLICT (digest) DO NOTHING RETURNING digest, message_id), "
    "earlier AS (SELECT message_id, status FROM messaging_statuscallback WHERE message_id = ANY(%b::uuid[])) "
    "SELECT digest, NULL::uuid, NULL::varchar FROM fresh "
    "UNION ALL SELECT NULL, message_id, status FROM earlier WHERE message_id IN (SELECT message_id FROM fresh)"
)


def _claim_pg(claims: _Claims, now: datetime) -> tuple[set[uuid.UUID], set[tuple[uuid.UUID, str]]]:
    items = list(claims.items())
    rows = execute_pg(
        _CLAIM_PG,
        [
            now,
            [digest for digest, _claim in items],
            [message.id for _digest, (message, _c, _e) in items],
            [callback.status for _digest, (_m, callback, _e) in items],
            [event_id for _digest, (_m, _c, event_id) in items],
            list({message.id for _digest, (message, _c, _e) in items}),
        ],
    )
    fresh = {claims[digest][2] for digest, _message, _status in rows if digest is not None}
    return fresh, {(message_id, status) for digest, message_id, status in rows if digest is None}


def _messages_for(callbacks: list[StatusCallbackData]) -> dict[uuid.UUID | tuple[str, str], OutboundMessage]:
    """The messages the callbacks name, locked, keyed by our id and by (channel, provider id)."""
    ours = {c.message_id for c in callbacks if c.message_id}
    theirs = {(c.channel, c.provider_message_id) for c in callbacks if not c.message_id and c.provider_message_id}
    found: dict[uuid.UUID | tuple[str, str], OutboundMessage] = {}
    if ours:
        for message in _locked("id", ours):
            found[message.id] = message
    if theirs:
        # By the provider id alone (its index), the channel checked here: one plan whatever the batch holds.
        for message in _locked("provider_message_id", {p for _, p in theirs}):
            if (message.channel, message.provider_message_id) in theirs:
                found[(message.channel, message.provider_message_id)] = message
    # A message named by our id must be on the callback's channel.
    for callback in callbacks:
        if callback.message_id is None:
            continue
        named = found.get(callback.message_id)
        if named is not None and named.channel != callback.channel:
            del found[callback.message_id]
    return found


# The fields a callback needs, in the model's order (Model.from_db pairs a partial row with them in that order).
_LOCKED_FIELDS: Final = tuple(
    f.attname
    for f in OutboundMessage._meta.concrete_fields
    if f.attname
    in {"id", "customer_id", "channel", "purpose", "provider_message_id", "delivery_status", "campaign_id", "case_id"}
    | {"order_id", "variant"}
)


def _locked(column: str, values: set[uuid.UUID] | set[str]) -> list[OutboundMessage]:
    """The messages whose `column` is one of `values`, locked in id order, with only the fields a callback needs
    (on PostgreSQL bound in binary with one statement text: the ORM compiled this query for every request)."""
    if connection.vendor != "postgresql":
        locked = OutboundMessage.objects.select_for_update().only(*_LOCKED_FIELDS)
        return list(locked.filter(**{f"{column}__in": values}).order_by("id"))
    cast = "uuid[]" if column == "id" else "varchar(300)[]"
    rows = execute_pg(
        f"SELECT {', '.join(_LOCKED_FIELDS)} FROM messaging_outboundmessage "  # noqa: S608 - fixed names
        f"WHERE {column} = ANY(%b::{cast}) ORDER BY id FOR UPDATE",
        [list(values)],
    )
    return [OutboundMessage.from_db(connection.alias, _LOCKED_FIELDS, row) for row in rows]


def _status_event(
    message: OutboundMessage, callback: StatusCallbackData, event_id: uuid.UUID, source: str, *, is_repeat: bool = False
) -> store.NewEvent:
    provider_message_id = callback.provider_message_id or message.provider_message_id
    data = {**message.attribution(), "provider_message_id": provider_message_id[:300]}
    if is_repeat and callback.status not in (DeliveryStatus.FAILED, DeliveryStatus.REACTED):
        data["is_repeat"] = True
    if callback.status == DeliveryStatus.CLICKED:
        data["url"] = callback.url[:2000]
    elif callback.status in (DeliveryStatus.BOUNCED, DeliveryStatus.DELAYED):
        data["reason"] = callback.reason[:500]
    elif callback.status == DeliveryStatus.REACTED:
        data["emoji"] = callback.emoji[:32]
    elif callback.status == DeliveryStatus.FAILED:
        data = {**message.attribution(), "reason": (callback.reason or "provider_failed")[:500], "terminal": True}
    return store.NewEvent.of(
        STATUS_EVENTS[callback.status].from_data(data),
        id=event_id,
        channel=message.channel,
        customer_id=message.customer_id,
        occurred_at=callback.occurred_at,
        metadata={"actor": f"provider:{message.channel}", "source": source},
    )


def status_consequences_apply(
    *, message: OutboundMessage, callback: StatusCallbackData, cause_id: uuid.UUID, now: datetime
) -> None:
    """What customers does about it (a layer above, through its hooks, in the caller's transaction): withdraw
    marketing on the channel, mark the address dead. A provider clock a little ahead must not postpone either: from
    now at the latest. `cause_id`: the id of the event saying it (the callback's status event, or the drain's
    `message.failed` for a provider's synchronous refusal), from which the consequences' event ids derive."""
    effective_at = min(callback.occurred_at, now) if callback.occurred_at else None
    if callback.status in (DeliveryStatus.UNSUBSCRIBED, DeliveryStatus.COMPLAINED) or callback.withdraws_marketing:
        import_string(settings.MESSAGING_UNSUBSCRIBE_HOOK)(
            customer_id=message.customer_id, channel=message.channel, occurred_at=effective_at, cause_id=cause_id
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
                cause_id=cause_id,
            )
        else:
            logger.warning("message %s: undeliverable, but its address is unknown (erased?)", message.id)


def _sent_to(message: OutboundMessage) -> str:
    """The address the message went to, from its sealed `message.sent` (empty once the customer is erased)."""
    for event in reversed(store.read_stream(message.stream)):
        if event.type == MessageSent.type_name:
            to = event.data.get("to")
            return to if isinstance(to, str) and to != ERASED else ""
    return ""
