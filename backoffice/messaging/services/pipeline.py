"""The drain: take due messages from the outbox, check who may be contacted now, send, and record what happened.

One drain step is three short transactions, so a worker that dies never leaves a message both unsent and unseen:

1. take: lock due rows (`select_for_update(skip_locked=True)`: workers never share a row), decide each one (send,
   suppress, defer to the end of quiet hours) and move those to send to `sending` with the attempt counted; commit.
   The attempt is on disk BEFORE any provider is called.
2. send: call the channel's backend for each, outside any transaction, passing the idempotency key.
3. record: `message.sent` or `message.failed` and the row's new state, only for rows still held by this attempt
   (status `sending` and the same attempt number: a fencing token), so a slow worker overtaken by a recovery
   cannot record twice.

A row still `sending` after MESSAGING_SENDING_STALE_SECONDS belongs to a worker that died mid-send. If its backend
honours idempotency keys (webhook, file, memory) it is sent again with the same key, and the provider delivers it
once; otherwise (smtp, console) nobody can know whether it left, so it is held for review (status `review`,
`message.failed` terminal with reason `outcome_unknown`) rather than risk a double send.
"""

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.keys import ERASED
from backoffice.eventstore.schema import EventData
from backoffice.eventstore.sql import execute_pg
from backoffice.eventstore.upserts import upsert_objects
from backoffice.eventstore.vocabulary import SuppressionReason
from backoffice.process import collector_paused

from .. import channels, policy
from ..backends import Backend, OutgoingMessage, backend_for
from ..errors import DeliveryError
from ..events import MessageDeferred, MessageFailed, MessageSent, MessageSuppressed
from ..models import OutboundMessage, Status
from ..vocabulary import DeliveryStatus
from .send import event_id_for, wake_drain_after_commit
from .status import StatusCallbackData, status_consequences_apply

logger = logging.getLogger(__name__)


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    suppressed: int = 0
    deferred: int = 0
    review: int = 0
    batches: int = 0

    def add(self, other: "DrainResult") -> None:
        for name in ("sent", "failed", "retrying", "suppressed", "deferred", "review", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Taken:
    row: OutboundMessage
    backend: Backend
    outgoing: OutgoingMessage
    max_attempts: int
    provider_id: str = ""
    error: DeliveryError | None = None
    is_attempted: bool = False


@dataclass
class _Decisions:
    taken: list[_Taken] = field(default_factory=list)
    events: list[store.StreamAppend] = field(default_factory=list)
    result: DrainResult = field(default_factory=DrainResult)


def messages_drain(*, batch_size: int | None = None, max_seconds: float | None = None) -> DrainResult:
    """Send what is due, batch after batch, until nothing is due or `max_seconds` (MESSAGING_DRAIN_SECONDS) pass."""
    batch_size = batch_size or settings.MESSAGING_DRAIN_BATCH
    budget = settings.MESSAGING_DRAIN_SECONDS if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    total = DrainResult()
    while time.monotonic() < deadline:
        # A batch leaves no cycles behind (its objects go with their last reference), yet its allocations set off
        # the cycle collector's passes over the whole process heap: ~7% of a personalised email drain's CPU.
        with collector_paused():
            decisions = _take(batch_size)
            if decisions is None:
                break
            total.add(decisions.result)
            if decisions.taken:
                _send(decisions.taken, deadline=deadline)
                total.add(_record(decisions.taken))
        total.batches += 1
    return total


def _take(batch_size: int) -> _Decisions | None:
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.MESSAGING_SENDING_STALE_SECONDS)
    with transaction.atomic():
        locked = OutboundMessage.objects.select_for_update(skip_locked=True)
        stale = list(
            locked.filter(status=Status.SENDING, sending_since__lt=stale_before).order_by("sending_since")[:batch_size]
        )
        due = _due(now, batch_size - len(stale), paused=policy.paused_channels())
        if not stale and not due:
            return None
        decisions = _Decisions()
        to_update: list[OutboundMessage] = []
        resend = []
        for row in stale:
            # Sent again only through the backend it was sent through, and only if that one drops a repeated key: a
            # channel switched to another provider meanwhile would deliver the same message a second time.
            sent_through = row.backend or settings.MESSAGING_BACKENDS.get(row.channel, "file")
            current = backend_for(row.channel)
            if sent_through == (current.name or type(current).__name__) and current.honours_idempotency_key:
                resend.append(row)
            else:
                _hold_for_review(row, now, decisions)
                to_update.append(row)
        candidates = resend + due
        events = store.stored_events([row.queued_event_id for row in candidates])
        rules = policy.channel_rules_all(sorted({row.channel for row in candidates}))
        queries = []
        for row in candidates:
            content = events[row.queued_event_id][1].data["content"] if row.queued_event_id in events else ERASED
            queries.append(
                policy.RecipientQuery(
                    customer_id=row.customer_id,
                    channel=row.channel,
                    purpose=row.purpose,
                    needs_inbound_window=isinstance(content, dict)
                    and channels.needs_whatsapp_window(row.channel, content),
                )
            )
        answers = policy.recipients(queries, at=now) if queries else []
        for row, query, answer in zip(candidates, queries, answers, strict=True):
            stored = events.get(row.queued_event_id)
            content = stored[1].data["content"] if stored else ERASED
            _decide(
                row,
                content,
                answer,
                rules[row.channel],
                now,
                decisions,
                needs_window=query.needs_inbound_window,
                is_resend=row.status == Status.SENDING,
            )
            to_update.append(row)
        _update_rows(
            to_update, ["status", "reason", "attempts", "not_before", "sending_since", "backend", "updated_at"]
        )
        if decisions.events:
            store.append_batches(decisions.events)
    return decisions


def _due(now: datetime, limit: int, *, paused: list[str]) -> list[OutboundMessage]:
    """Queued rows whose time has come, oldest first, locked; rows another worker holds are skipped."""
    if limit <= 0:
        return []
    if connection.vendor != "postgresql":
        due = OutboundMessage.objects.select_for_update(skip_locked=True).filter(
            status=Status.QUEUED, not_before__lte=now
        )
        return list(due.exclude(channel__in=paused).order_by("not_before")[:limit])
    # The same SELECT ... FOR UPDATE SKIP LOCKED, bound and read in binary (the ORM parsed three timestamps per row
    # from text), the rows built as the ORM builds them.
    # It must walk the due index in order and stop at the batch. Right after a large fan-out the statistics still
    # say the queue is nearly empty (until autoanalyze), and the planner picks a bitmap scan instead: it visits every
    # queued row and every dead version left by earlier batches, and sorts them all, for each batch of the drain
    # (a cost that grew with the campaign: ~8% of the drain's CPU at 60,000 messages). Only for this statement.
    ((was, _),) = execute_pg(
        "SELECT current_setting('enable_bitmapscan'), set_config('enable_bitmapscan', 'off', true)", []
    )
    fields = OutboundMessage._meta.concrete_fields
    rows = execute_pg(
        f"SELECT {', '.join(f.column for f in fields if f.column)} FROM messaging_outboundmessage "  # noqa: S608 - names
        "WHERE status = %b AND not_before <= %b AND NOT (channel = ANY(%b::varchar(16)[])) "
        "ORDER BY not_before LIMIT %b FOR UPDATE SKIP LOCKED",
        [Status.QUEUED, now, paused, limit],
    )
    execute_pg("SELECT set_config('enable_bitmapscan', %b, true)", [was])
    names = [f.attname for f in fields]
    return [OutboundMessage.from_db(connection.alias, names, row) for row in rows]


def _decide(
    row: OutboundMessage,
    content: dict[str, Any] | str,
    recipient: policy.Recipient,
    rules: policy.ChannelRules,
    now: datetime,
    decisions: _Decisions,
    *,
    needs_window: bool,
    is_resend: bool,
) -> None:
    """Suppress, defer or take for sending. A resend after a dead worker was decided already (and may have left):
    it only needs an address and its content."""
    reason = None
    if is_resend:
        if content == ERASED or recipient.is_erased or not recipient.address:
            # It may have left before the worker died: not "suppressed", but for someone to look at.
            _hold_for_review(row, now, decisions)
            return
    elif not rules.is_enabled:
        reason = SuppressionReason.CHANNEL_DISABLED
    elif content == ERASED or recipient.is_erased:
        reason = SuppressionReason.CUSTOMER_ERASED
    elif not recipient.address:
        reason = SuppressionReason.NO_ADDRESS
    elif not recipient.is_allowed:
        reason = SuppressionReason.NO_CONSENT
    elif needs_window and not channels.whatsapp_window_open(recipient.last_inbound_at, now=now):
        reason = SuppressionReason.WHATSAPP_WINDOW_CLOSED
    if reason is not None:
        _set(row, now, status=Status.SUPPRESSED, reason=reason, sending_since=None)
        decisions.events.append(_event(row, MessageSuppressed, {"reason": reason}, what="suppressed"))
        decisions.result.suppressed += 1
        return
    if not is_resend:
        until = policy.held_until(now, purpose=row.purpose, time_zone=recipient.time_zone, rules=rules)
        if until is not None:
            _set(
                row,
                now,
                status=Status.DEFERRED,
                reason=SuppressionReason.QUIET_HOURS,
                not_before=until,
                sending_since=None,
            )
            data = {"until": until.isoformat(), "reason": SuppressionReason.QUIET_HOURS}
            decisions.events.append(_event(row, MessageDeferred, data))
            decisions.result.deferred += 1
            return
    # What the checks above guarantee past this point: an address, and content that was not erased.
    assert recipient.address
    assert isinstance(content, dict)
    backend = backend_for(row.channel)
    _set(row, now, status=Status.SENDING, reason="", sending_since=now, backend=backend.name or type(backend).__name__)
    row.attempts += 1
    tags = {k: v for k, v in row.attribution().items() if k in ("campaign_id", "case_id", "order_id", "variant")}
    outgoing = OutgoingMessage(
        message_id=str(row.id),
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        purpose=row.purpose,
        to=recipient.address,
        content=content,
        sender=rules.sender,
        reply_to=rules.reply_to,
        attempt=row.attempts,
        tags=tags,
    )
    decisions.taken.append(_Taken(row, backend, outgoing, rules.max_attempts))


def _hold_for_review(row: OutboundMessage, now: datetime, decisions: _Decisions) -> None:
    reason = "outcome_unknown"
    _set(row, now, status=Status.REVIEW, reason=reason, sending_since=None)
    data = {"reason": reason, "terminal": True, "attempt": row.attempts}
    decisions.events.append(_event(row, MessageFailed, data))
    decisions.result.review += 1
    logger.warning("message %s held for review: its %s send was interrupted", row.id, row.backend)


def _send(taken: list[_Taken], *, deadline: float) -> None:
    """Hand each taken message to its backend: one after the other, or, on a backend that allows it
    (`concurrent_sends`, at most MESSAGING_PROVIDER_CONCURRENCY), several at once from a thread pool, so the
    round trips to a remote provider overlap; on a backend that takes several messages per call (`batch_size`), in
    chunks of that size. Either way each outcome lands on its own item for _record."""
    by_backend: dict[int, list[_Taken]] = {}
    for item in taken:
        by_backend.setdefault(id(item.backend), []).append(item)
    for items in by_backend.values():
        backend = items[0].backend
        size = max(backend.batch_size, 1)
        chunks = [items[n : n + size] for n in range(0, len(items), size)]
        workers = min(backend.concurrent_sends, settings.MESSAGING_PROVIDER_CONCURRENCY, len(chunks))
        if workers <= 1:
            for chunk in chunks:
                _send_chunk(chunk, deadline)
            continue
        # `workers` lanes, each sending its share in order, on the process's long-lived send threads: a thread
        # keeps its keep-alive connections to the provider from one batch to the next.
        lanes = [chunks[n::workers] for n in range(workers)]
        list(_send_threads().map(lambda lane: _send_lane(lane, deadline), lanes))


_threads: tuple[int, ThreadPoolExecutor] | None = None
_threads_lock = threading.Lock()


def _send_threads() -> ThreadPoolExecutor:
    """The process's send threads, made on first use (after a worker forked: never shared with a parent)."""
    global _threads
    with _threads_lock:
        if _threads is None or _threads[0] != os.getpid():
            size = max(settings.MESSAGING_PROVIDER_CONCURRENCY, 1)
            _threads = (os.getpid(), ThreadPoolExecutor(max_workers=size, thread_name_prefix="messaging-send"))
        return _threads[1]


def _send_one(item: _Taken, deadline: float) -> None:
    if time.monotonic() >= deadline:
        return  # released unattempted by _record
    item.is_attempted = True
    try:
        item.provider_id = item.backend.send(item.outgoing) or ""
    except DeliveryError as exc:
        item.error = exc
    except Exception as exc:  # a backend bug (or the task's soft time limit) must not lose the batch; log ids only
        logger.exception("backend %s raised on message %s", item.backend.name, item.row.id)
        # Raised in the middle of the call: nobody knows whether the provider has the message.
        item.error = DeliveryError(f"backend error: {type(exc).__name__}", is_temporary=True, outcome_unknown=True)


def _send_lane(chunks: list[list[_Taken]], deadline: float) -> None:
    for chunk in chunks:
        _send_chunk(chunk, deadline)


def _send_chunk(items: list[_Taken], deadline: float) -> None:
    """Several messages in one `send_many`: all attempted, each with its own outcome."""
    if len(items) == 1:
        _send_one(items[0], deadline)
        return
    if time.monotonic() >= deadline:
        return  # released unattempted by _record
    for item in items:
        item.is_attempted = True
    try:
        outcomes = items[0].backend.send_many([item.outgoing for item in items])
    except Exception as exc:  # a backend bug (or the task's soft time limit) must not lose the batch; log ids only
        logger.exception("backend %s raised on messages %s", items[0].backend.name, [item.row.id for item in items])
        unknown = DeliveryError(f"backend error: {type(exc).__name__}", is_temporary=True, outcome_unknown=True)
        outcomes = [unknown] * len(items)
    for item, outcome in zip(items, outcomes, strict=True):
        if isinstance(outcome, DeliveryError):
            item.error = outcome
        else:
            item.provider_id = outcome or ""


def _record(taken: list[_Taken]) -> DrainResult:
    result = DrainResult()
    now = timezone.now()
    with transaction.atomic():
        # Who holds each row now (the fencing token): status and attempt, read under the row locks.
        ids = [t.row.id for t in taken]
        locked: Iterable[tuple[Any, ...]]
        if connection.vendor == "postgresql":
            locked = execute_pg(
                "SELECT id, status, attempts FROM messaging_outboundmessage WHERE id = ANY(%b) ORDER BY id FOR UPDATE",
                [ids],
            )
        else:
            locked = (
                OutboundMessage.objects.select_for_update()
                .filter(id__in=ids)
                .order_by("id")
                .values_list("id", "status", "attempts")
            )
        holders = {row_id: (status, attempts) for row_id, status, attempts in locked}
        changed, events = [], []
        refusals: list[tuple[_Taken, uuid.UUID]] = []
        for item in taken:
            row = item.row
            if holders.get(row.id) != (Status.SENDING, row.attempts):
                continue  # overtaken: a recovery took this row after us, and records its own outcome
            if not item.is_attempted:
                _set(row, now, status=Status.QUEUED, sending_since=None)
                row.attempts -= 1
            elif item.error is None:
                _set(row, now, status=Status.SENT, sending_since=None, reason="")
                row.provider_message_id = item.provider_id
                row.sent_at = now
                data = {"provider_message_id": item.provider_id, "to": item.outgoing.to, "attempt": row.attempts}
                data["backend"] = row.backend
                events.append(_event(row, MessageSent, data, what="sent"))
                result.sent += 1
            elif item.error.outcome_unknown and not item.backend.honours_idempotency_key:
                # The provider may have sent it (its answer timed out, the connection dropped): a second send could
                # deliver it twice, and a double send is worse than a delay. Held for a person to decide.
                _set(row, now, status=Status.REVIEW, reason="outcome_unknown", sending_since=None)
                data = {"reason": "outcome_unknown", "terminal": True, "attempt": row.attempts}
                events.append(_event(row, MessageFailed, data))
                result.review += 1
                logger.warning("message %s held for review: its %s send may have left", row.id, row.backend)
            else:
                terminal = not item.error.is_temporary or row.attempts >= item.max_attempts
                reason = item.error.reason[:500]
                if terminal:
                    _set(row, now, status=Status.FAILED, reason=reason, sending_since=None)
                    result.failed += 1
                else:
                    retry_at = now + _backoff(row.attempts)
                    _set(row, now, status=Status.QUEUED, reason=reason, sending_since=None, not_before=retry_at)
                    result.retrying += 1
                data = {"reason": reason, "terminal": terminal, "attempt": row.attempts}
                events.append(_event(row, MessageFailed, data))
                if item.error.is_undeliverable or item.error.withdraws_marketing:
                    refusals.append((item, events[-1].events[0].id))
            changed.append(row)
        _update_rows(
            changed,
            [
                "status",
                "reason",
                "attempts",
                "not_before",
                "sending_since",
                "provider_message_id",
                "sent_at",
                "updated_at",
            ],
        )
        for item, failed_id in refusals:
            _refusal_consequences(item, failed_id, now)
        if events:
            store.append_batches(events)
    return result


def _refusal_consequences(item: _Taken, failed_id: uuid.UUID, now: datetime) -> None:
    """A provider that refused the send for a reason about the recipient (Twilio's 21610: they replied STOP; 21211:
    not a valid number) says what its status callback would have said of a sent message: the same consequences,
    through the same code, caused by our `message.failed`."""
    error = item.error
    assert error is not None
    callback = StatusCallbackData(
        channel=item.row.channel,
        status=DeliveryStatus.FAILED,
        occurred_at=now,
        reason=error.reason[:500],
        address=item.outgoing.to,
        is_undeliverable=error.is_undeliverable,
        withdraws_marketing=error.withdraws_marketing,
    )
    try:
        with transaction.atomic():
            status_consequences_apply(message=item.row, callback=callback, cause_id=failed_id, now=now)
    except Exception:
        # The outcomes of the whole drained batch are recorded in this transaction: a consequence that cannot be
        # applied must not leave them all `sending` (to be held for review as possibly sent). Logged, not retried.
        logger.exception("message %s: the consequences of %s's refusal were not applied", item.row.id, item.row.backend)


def _update_rows(rows: list[OutboundMessage], fields: list[str]) -> None:
    """Save these fields of many rows at once, in one statement through the store's read-model writer (bulk_update's
    CASE WHEN cost ~6 ms of Python per row; a statement per row, a round trip each)."""
    upsert_objects(rows, key=("id",), fields=["id", *fields], merge=dict.fromkeys(fields, "replace"), update_only=True)


def _backoff(attempt: int) -> timedelta:
    seconds = settings.MESSAGING_RETRY_BACKOFF_SECONDS * 2 ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, settings.MESSAGING_RETRY_BACKOFF_MAX_SECONDS))


def _set(row: OutboundMessage, now: datetime, **values: Any) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = now


def _event(
    row: OutboundMessage, event_type: type[EventData], data: dict[str, Any], *, what: str | None = None
) -> store.StreamAppend:
    """One event of the message. Outcomes that happen once (sent, suppressed) have ids derived from the message, so
    even a bug that recorded one twice would be refused by the store's idempotency."""
    event = store.NewEvent.of(
        event_type.from_data({**row.attribution(), **data}),
        id=event_id_for(row.id, what) if what else None,
        channel=row.channel,
        customer_id=row.customer_id,
        metadata={"actor": "messaging"},
    )
    return store.StreamAppend(row.stream, [event])


def messages_release_deferred() -> int:
    """Deferred messages whose time has come go back to the queue (beat runs this every minute)."""
    now = timezone.now()
    with transaction.atomic():
        released = OutboundMessage.objects.filter(status=Status.DEFERRED, not_before__lte=now).update(
            status=Status.QUEUED, reason="", updated_at=now
        )
        if released:
            wake_drain_after_commit()
    return released


def message_requeue(*, message_id: uuid.UUID, actor: str) -> OutboundMessage:
    """Send a failed or held-for-review message again, with the same idempotency key (staff decided the risk)."""
    with transaction.atomic():
        row = OutboundMessage.objects.select_for_update().get(id=message_id)
        if row.status not in (Status.FAILED, Status.REVIEW):
            raise ValueError(f"a {row.status} message cannot be requeued")
        now = timezone.now()
        _set(row, now, status=Status.QUEUED, reason=f"requeued by {actor}"[:500], not_before=now, sending_since=None)
        row.attempts = 0
        row.save(update_fields=["status", "reason", "not_before", "sending_since", "attempts", "updated_at"])
        wake_drain_after_commit()
    return row
