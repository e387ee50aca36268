"""Segment-spec calls into the log: translate every message, then ingest the batch through the customers app's
`interactions_ingest` (identity resolution included) in one transaction, with the source's counters.

Idempotent on messageId: messages already stored are left out before ingestion, because a resend carries another
`sentAt`, so its clock-corrected time (and the digest the store compares) differs from the first send's.

A batch is not all or nothing: Segment's HTTP API answers 200 to everything but a body too large or not JSON, and
the SDKs drop a whole batch, without retrying, on a 400 (analytics-python: a 400 is final). So the messages of a
batch that translate and that the store takes are stored, and each one refused (by the mapping or by the store) is
left out, listed in the answer, logged without personal data, and kept in the dead-letter list (origin `tracking`),
from which a replay stores it after the fix. A single call (/v1/track...) is still refused whole with a 400.
"""

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backoffice import crypto
from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError, EventValidationError, IdempotencyConflict
from customers.events import CustomerAliased
from customers.selectors import customer_id_by_identifier_key, customer_resolve_id
from customers.services import MergeRefused, customer_merge, interactions_ingest

from ..mapping import segment
from ..models import DeadLetter, DeadLetterStatus, Origin, TrackingSource
from .dead_letters import dead_letter_subjects_record
from .sources import tracking_source_count
from .tracking_orders import TOPIC as ORDER_TOPIC
from .tracking_orders import tracking_orders_place

log = logging.getLogger(__name__)

ATTEMPTS = 3
_BATCH_PREFIX = re.compile(r"^batch\.\d+\.?")


class TrackingRefused(Exception):
    """The call is refused as a whole (nothing written): `errors` [{field, message, code}] with Segment's names."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass(frozen=True)
class RefusedMessage:
    """A message of a batch left out: its index in the batch and its problems [{field, message, code}], the fields
    named `batch.<index>.<field>`."""

    index: int
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class TrackingResult:
    written: int
    duplicates: int
    refused: tuple[RefusedMessage, ...] = ()


class _StoreRefused(Exception):
    """interactions_ingest refused some of the items (EventValidationError), by their index in the items given."""

    def __init__(self, error: EventValidationError):
        self.error = error


def source_of(source: TrackingSource) -> segment.Source:
    return segment.Source(source.id, source.name, source.channel, source.user_id_system)


def tracking_call_receive(*, source: TrackingSource, kind: str, message: Any, received_at: datetime) -> TrackingResult:
    """One call (/v1/track, /v1/identify...): stored, or TrackingRefused naming every problem, nothing written."""
    items, refused = tracking_messages_translate(source=source, messages=[message], kind=kind, received_at=received_at)
    if refused:
        raise TrackingRefused(refused[0].errors)
    return tracking_messages_ingest(source=source, items=items, is_batch=False)


def tracking_batch_receive(
    *, source: TrackingSource, messages: list[Any], received_at: datetime, sent_at: Any = None, context: Any = None
) -> TrackingResult:
    """A /v1/batch: the messages that translate and that the store takes are stored; the others are left out,
    listed in `refused` (by their index in the batch), logged and dead-lettered (tracking_refused_record)."""
    items, refused = tracking_messages_translate(
        source=source, messages=messages, kind=None, received_at=received_at, sent_at=sent_at, context=context
    )
    result = tracking_messages_ingest(source=source, items=items, is_batch=True)
    refused = sorted([*refused, *result.refused], key=lambda r: r.index)
    if refused:
        # After the ingestion's commit, in a transaction of its own: not under the store's append lock. A crash in
        # between answers no 200, so the SDK sends the batch again: the stored messages are found stored then.
        tracking_refused_record(
            source=source,
            messages=messages,
            refused=refused,
            received_at=received_at,
            sent_at=sent_at,
            context=context,
        )
    return TrackingResult(written=result.written, duplicates=result.duplicates, refused=tuple(refused))


def tracking_messages_translate(
    *,
    source: TrackingSource,
    messages: list[Any],
    kind: str | None,
    received_at: datetime,
    sent_at: Any = None,
    context: Any = None,
) -> tuple[list[tuple[int, dict[str, Any]]], list[RefusedMessage]]:
    """Every message that translates as (its index, its interaction), and every one that does not with its
    problems. `kind` None: a batch (fields are named `batch.<n>.<field>`)."""
    seen: set[str] = set()
    items: list[tuple[int, dict[str, Any]]] = []
    refused: list[RefusedMessage] = []
    info = source_of(source)
    for index, message in enumerate(messages):
        prefix = f"batch.{index}" if kind is None else ""
        try:
            item = segment.translate(
                message, kind=kind, source=info, received_at=received_at, batch_sent_at=sent_at, batch_context=context
            )
        except segment.MessageRefused as exc:
            errors = [
                {
                    "field": ".".join(p for p in (prefix, problem.field) if p),
                    "message": problem.message,
                    "code": problem.code,
                }
                for problem in exc.problems
            ]
            refused.append(RefusedMessage(index, errors))
            continue
        if item["id"] not in seen:  # the same messageId twice in one batch is one event
            seen.add(item["id"])
            items.append((index, item))
    return items, refused


def _interaction(item: dict[str, Any]) -> dict[str, Any]:
    """The translated message without what only order placement reads."""
    if segment.ORDER_KEY not in item:
        return item
    return {key: value for key, value in item.items() if key != segment.ORDER_KEY}


def _alias_of_a_user_id(item: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """An alias whose previousId is a userId the source identified someone by (Segment's spec allows it as well as an
    anonymous id): the alias names that person by our id, so the new userId is added to them, and whoever holds the
    new userId already is merged with them (the alias says they are one person). Otherwise the item as translated:
    the previous id is stitched as an anonymous id."""
    if item["type"] != CustomerAliased.type_name:
        return item
    external_id = item["customer"]["external_id"]
    previous = customer_id_by_identifier_key(key=f"external:{external_id['system']}:{item['data']['previous_id']}")
    if previous is None:
        return item
    person = customer_resolve_id(customer_id=previous)
    holder = customer_id_by_identifier_key(key=f"external:{external_id['system']}:{external_id['id']}")
    if holder is not None and customer_resolve_id(customer_id=holder) != person:
        try:
            # The note names no id: user ids may be personal data, and a merge's evidence is not sealed.
            person = customer_merge(customer_ids=(person, holder), note="Segment alias", actor=actor).survivor
        except MergeRefused:
            pass  # one of them was erased: the alias stays with the previous userId's person
    return {**item, "customer": {"id": str(person), "external_id": external_id}}


def tracking_messages_ingest(
    *, source: TrackingSource, items: list[tuple[int, dict[str, Any]]], is_batch: bool = True
) -> TrackingResult:
    """Store translated messages (from tracking_messages_translate) once each. When the store refuses some (their
    data does not fit the type): in a batch, they are left out (`refused`) and the others stored; otherwise
    TrackingRefused, with nothing written."""
    actor = f"tracking:{source.name}"
    refused: list[RefusedMessage] = []
    conflicts = 0
    while True:
        fresh: list[tuple[int, dict[str, Any]]] = []
        try:
            with transaction.atomic():
                known = store.stored_events([uuid.UUID(item["id"]) for _, item in items])
                fresh = [(index, item) for index, item in items if uuid.UUID(item["id"]) not in known]
                if fresh:
                    try:
                        results = interactions_ingest(
                            raw_items=[_alias_of_a_user_id(_interaction(item), actor=actor) for _, item in fresh],
                            actor=actor,
                            source="integrations.tracking",
                            unstored=True,
                        )
                    except EventValidationError as exc:
                        raise _StoreRefused(exc) from None
                    orders = [item for _, item in fresh if segment.ORDER_KEY in item]
                    if orders and source.order_location:
                        customers = {str(result.id): result.customer_id for result in results}
                        tracking_orders_place(
                            source=source, orders=[(item, customers.get(item["id"])) for item in orders]
                        )
            # Counted after the commit, in a statement of its own: inside, it would lengthen the store's append
            # lock (held until commit) or, taken first, serialise a source's concurrent calls on its row. A crash
            # between the two loses a count, never an event.
            tracking_source_count(source_id=source.id, events=len(fresh))
            return TrackingResult(written=len(fresh), duplicates=len(items) - len(fresh), refused=tuple(refused))
        except (IdempotencyConflict, IntegrityError, ConcurrencyError):
            # A concurrent call committed between our reads and our append: a resend of the same messages (the
            # store's idempotency check), or the first visit of the same new person (the identifier's unique key:
            # identity resolution reads who holds an identifier before the store's append lock). Done again, the
            # messages are found stored, or the person found registered. (ConcurrencyError: that other call appended
            # to the person's stream after this transaction began, which the store refuses to order before it.)
            conflicts += 1
            if conflicts == ATTEMPTS:
                raise
        except _StoreRefused as exc:
            by_index = _store_problems(exc.error, fresh) if is_batch else None
            if by_index is None:
                raise TrackingRefused(
                    [{"field": e.field, "message": e.message, "code": e.code} for e in exc.error.errors]
                ) from None
            # Done again without them: each round leaves out at least one message, so it ends.
            refused.extend(RefusedMessage(index, errors) for index, errors in sorted(by_index.items()))
            items = [(index, item) for index, item in items if index not in by_index]


def _store_problems(
    error: EventValidationError, fresh: list[tuple[int, dict[str, Any]]]
) -> dict[int, list[dict[str, str]]] | None:
    """The store's problems by the batch index of the message they concern; None when one names no message."""
    by_index: dict[int, list[dict[str, str]]] = {}
    for e in error.errors:
        if not 0 <= e.index < len(fresh):
            return None
        index = fresh[e.index][0]
        field = ".".join(p for p in (f"batch.{index}", e.field) if p)
        by_index.setdefault(index, []).append({"field": field, "message": e.message, "code": e.code})
    return by_index or None


# --- Refused messages of a batch: logged and dead-lettered ------------------------------------------------------


def tracking_refused_record(
    *,
    source: TrackingSource,
    messages: list[Any],
    refused: list[RefusedMessage],
    received_at: datetime,
    sent_at: Any = None,
    context: Any = None,
) -> int:
    """Log the refused messages of a batch (indexes and codes: no value, no field of the sender's own) and keep each
    in the dead-letter list, encrypted, with the batch's sentAt and context so a replay translates it as it came.
    A message already pending there (a resend) is not kept twice. Returns how many letters were added."""
    log.warning(
        "tracking source %s: %d of %d messages of a batch refused: %s",
        source.id,
        len(refused),
        len(messages),
        ", ".join(f"#{r.index} {'/'.join(sorted({e['code'] for e in r.errors}))}" for r in refused),
    )
    info = source_of(source)
    keys = {r.index: segment.message_key(messages[r.index], source=info) for r in refused}
    with transaction.atomic():
        pending = set(
            DeadLetter.objects.filter(
                platform=Origin.TRACKING, delivery_id__in=keys.values(), status=DeadLetterStatus.PENDING
            )
            .exclude(topic=ORDER_TOPIC)
            .values_list("delivery_id", flat=True)
        )
        added = 0
        for r in refused:
            if keys[r.index] in pending:
                continue
            pending.add(keys[r.index])
            message = messages[r.index]
            body = _letter_body(source, message, received_at=received_at, sent_at=sent_at, context=context)
            letter = DeadLetter.objects.create(
                platform=Origin.TRACKING,
                shop_domain=source.name[:255],
                topic=_topic(message),
                delivery_id=keys[r.index],
                body_encrypted=crypto.encrypt(body),
                reason=_reason(r.errors),
                code=r.errors[0]["code"][:40] if r.errors else "refused",
            )
            dead_letter_subjects_record(
                dead_letter=letter, body=body, identifier_keys=_identifier_keys(source, message)
            )
            added += 1
    return added


def tracking_message_replay(*, body: dict[str, Any]) -> tuple[bool, str, str]:
    """Translate and store a dead-lettered message of a batch (its letter's body, decrypted) again, after the fix.
    (applied, code, reason)."""
    source = TrackingSource.objects.filter(id=body["source_id"]).first()
    if source is None:
        return False, "unknown_source", "the tracking source was deleted"
    if body.get("message") is None:
        return False, "too_deep", "the message was nested too deeply to be kept"
    items, refused = tracking_messages_translate(
        source=source,
        messages=[body["message"]],
        kind=None,
        received_at=parse_datetime(body["received_at"]) or timezone.now(),
        sent_at=body.get("sent_at"),
        context=body.get("context"),
    )
    if refused:
        return False, refused[0].errors[0]["code"], _reason(refused[0].errors)
    try:
        tracking_messages_ingest(source=source, items=items, is_batch=False)
    except TrackingRefused as exc:
        return False, exc.errors[0]["code"] if exc.errors else "refused", _reason(exc.errors)
    return True, "", ""


def _letter_body(source: TrackingSource, message: Any, *, received_at: datetime, sent_at: Any, context: Any) -> bytes:
    body = {
        "source_id": str(source.id),
        "message": message,
        "received_at": received_at.isoformat(),
        "sent_at": sent_at,
        "context": context,
    }
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        # Nested deeper than orjson writes (it reads deeper): the letter says so, and a replay cannot apply it.
        return orjson.dumps({**body, "message": None, "context": None})


def _topic(message: Any) -> str:
    """What the letter list shows: the call type, and a track's event name ("track: Product Reviewed")."""
    if not isinstance(message, dict):
        return "message"
    kind = message.get("type") if message.get("type") in segment.KINDS else "message"
    event = message.get("event")
    topic = f"{kind}: {event}" if kind == "track" and isinstance(event, str) and event.strip() else str(kind)
    return "".join(ch for ch in topic if ch.isprintable())[:100]


def _reason(errors: list[dict[str, str]]) -> str:
    """The problems, with fields named inside the message (its index in the batch means nothing in the list)."""
    text = "; ".join(f"{_BATCH_PREFIX.sub('', e['field']) or '(message)'}: {e['message']}" for e in errors)
    return "".join(ch for ch in text if ch.isprintable())[:2000] or "refused"


def _identifier_keys(source: TrackingSource, message: Any) -> list[str]:
    """The identifier keys a message names by its ids (its emails and phones are found in the body): an erasure of
    that person drops the letter."""
    if not isinstance(message, dict):
        return []
    keys = []
    for field, key in (("userId", f"external:{source.user_id_system}:"), ("anonymousId", "anonymous_id:")):
        value = message.get(field)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            keys.append(key + str(value).strip())
    return keys
