"""Append to and read from the event log (DESIGN.md section 3).

`append` / `append_batches` are the only way events are written. In one transaction they: validate every event
against its type's schema; take the append lock; return the stored result for ids already stored with the same
content (idempotency) and refuse ids reused for other content; check each stream's expected version (optimistic
concurrency); assign versions and global positions; seal personal fields with the customer's key; write the rows
through the driver (COPY on PostgreSQL, executemany on SQLite: the ORM is too slow for the hot path); apply the
inline projections; and register the after-commit hooks (async projections, Celery hand-off).

Positions are assigned while holding a lock that is kept until commit (an advisory lock on PostgreSQL, the
IMMEDIATE write lock on SQLite), so events become visible in position order: a catch-up reader that has seen
position N will never later find a committed event below N.
"""

import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson
import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.module_loading import import_string
from psycopg.types.json import set_json_loads
from pydantic import ValidationError

from backoffice.replica import read_connection

from . import keys, projector, schema, times
from .errors import ConcurrencyError, EventValidationError, FieldError, IdempotencyConflict
from .locks import APPEND_LOCK_KEY

ANY: Final = "any"
NO_STREAM: Final = 0
ExpectedVersion = int | Literal["any"]

_COLUMNS: Final = (
    "position, id, stream, version, type, schema_version, channel, customer_id, "
    "occurred_at, recorded_at, data, metadata, digest"
)
_SELECT: Final = (
    "SELECT position, id, stream, version, type, schema_version, channel, customer_id, "
    "occurred_at, recorded_at, data, metadata FROM eventstore_event"
)


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    channel: str | None = None
    customer_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # The sender's own content digest, when the content it re-sends differs in form from what is stored
    # (ingestion digests the raw item). Computed from the event otherwise.
    digest: str | None = None
    # Set by validated() only: the store's own validation of `data` against the type's schema, so an append need
    # not run it again (rule 9 holds: what is written is what the store validated; the other checks run again).
    checked: "_CheckedData | None" = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _CheckedData:
    type: str
    source: dict[str, Any]  # the data object that was validated: an event given other data is validated anew
    data: dict[str, Any]


@dataclass(frozen=True)
class StreamAppend:
    stream: str
    events: Sequence[NewEvent]
    expected_version: ExpectedVersion = ANY


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    id: uuid.UUID
    stream: str
    version: int
    type: str
    schema_version: int
    channel: str | None
    customer_id: uuid.UUID | None
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class AppendResult:
    event: RecordedEvent
    duplicate: bool


@dataclass
class _Prepared:
    new: NewEvent
    stream: str
    data: dict[str, Any]
    occurred_at: datetime
    digest: str
    personal: dict[str, Any]


def content_digest(payload: Any) -> str:
    """HMAC-SHA256 of the canonical JSON of what the sender sent (see keys.digest_key for why keyed)."""
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    return hmac.new(keys.digest_key(), canonical, hashlib.sha256).hexdigest()


def validate_event(new: NewEvent, *, index: int = 0, now: datetime | None = None) -> tuple[dict, list[FieldError]]:
    """The event's data normalised by its schema, or the reasons it is refused (field paths inside the event)."""
    errors: list[FieldError] = []
    now = now or timezone.now()
    try:
        event_schema = schema.event_type(new.type)
    except LookupError:
        return {}, [FieldError(index, "type", f"unknown event type {new.type!r}", "unknown_type")]
    if new.channel is not None and new.channel not in schema.CHANNELS:
        errors.append(FieldError(index, "channel", f"unknown channel {new.channel!r}", "unknown_channel"))
    if new.occurred_at is not None:
        if timezone.is_naive(new.occurred_at):
            errors.append(FieldError(index, "occurred_at", "a time zone offset is required", "naive_datetime"))
        elif new.occurred_at > now + settings.EVENTSTORE_MAX_FUTURE_SKEW:
            errors.append(FieldError(index, "occurred_at", "is in the future", "future_datetime"))
        elif (reason := times.out_of_range(new.occurred_at)) is not None:
            errors.append(FieldError(index, "occurred_at", reason, "out_of_range"))
    checked = new.checked
    if checked is not None and checked.type == new.type and checked.source is new.data:
        data = dict(checked.data)  # the caller keeps its copy; personal fields are popped from this one
    else:
        try:
            data = event_schema.model_validate(new.data).model_dump(mode="json")
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                path = ".".join(["data", *(str(part) for part in err["loc"])])
                errors.append(FieldError(index, path, err["msg"], err["type"]))
            return {}, errors
    if event_schema.personal_fields and new.customer_id is None:
        if any(data.get(name) not in (None, "", [], {}) for name in event_schema.personal_fields):
            errors.append(FieldError(index, "customer", "personal data must concern a customer", "customer_required"))
    blob = orjson.dumps(data)
    size = len(blob)
    # PostgreSQL cannot store U+0000 in text or jsonb, and no channel sends one on purpose: refused on both databases.
    if b"\\u0000" in blob or (new.metadata and b"\\u0000" in orjson.dumps(new.metadata)):
        for where, value in (("data", data), ("metadata", new.metadata)):
            path = nul_character_path(value, where)
            if path is not None:
                errors.append(FieldError(index, path, "contains a NUL character", "null_character"))
    if size > settings.EVENTSTORE_MAX_EVENT_BYTES:
        errors.append(
            FieldError(index, "data", f"is {size} bytes, over {settings.EVENTSTORE_MAX_EVENT_BYTES}", "too_large")
        )
    return data, errors


def nul_character_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding U+0000 in a JSON-like value, or None. Iterative: the
    value may come from a body nested as deep as the parser allows."""
    pending = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    return where
                pending.append((child, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list | tuple):
            pending.extend((child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item))
    return None


def validated(new: NewEvent, *, index: int = 0, now: datetime | None = None) -> tuple[NewEvent, list[FieldError]]:
    """validate_event(), keeping the normalised data with the event: a caller that must list every bad event
    before it appends (ingestion's one 400 for a batch) spares the append a second schema validation. The event
    may then be rebuilt with `checked` passed on (another customer, metadata, id); given other data, it is
    validated again."""
    data, errors = validate_event(new, index=index, now=now)
    if errors:
        return new, errors
    checked = _CheckedData(new.type, new.data, data)
    return NewEvent(
        new.type, new.data, new.id, new.channel, new.customer_id, new.occurred_at, new.metadata, new.digest, checked
    ), []


def append(stream: str, events: Sequence[NewEvent], *, expected_version: ExpectedVersion = ANY) -> list[RecordedEvent]:
    """Append events to one stream. Raises ConcurrencyError when the stream is not at `expected_version`."""
    return [result.event for result in append_batches([StreamAppend(stream, events, expected_version)])]


def append_batches(batches: Sequence[StreamAppend], *, savepoint: bool = True) -> list[AppendResult]:
    """Append to several streams atomically: all events are stored, or none. Results follow the input order.

    `savepoint=False`: inside the caller's transaction, without a savepoint of its own (two round trips fewer while
    the append lock is held). Only for a caller whose whole transaction fails with the append: a refused append
    then leaves that transaction unusable, to be rolled back.
    """
    prepared = _prepare([(batch.stream, event) for batch in batches for event in batch.events])
    with transaction.atomic(savepoint=savepoint):
        known_digests, versions, positions = _lock_and_preflight(prepared)
        stored = stored_events(known_digests) if known_digests else {}
        results: list[AppendResult | None] = [None] * len(prepared)
        fresh: list[int] = []
        first_in_call: dict[uuid.UUID, int] = {}
        conflicts: list[str] = []
        for i, item in enumerate(prepared):
            known = stored.get(item.new.id)
            if known is not None:
                digest, event = known
                if digest != item.digest:
                    conflicts.append(str(item.new.id))
                results[i] = AppendResult(event, duplicate=True)
            elif item.new.id in first_in_call:
                if prepared[first_in_call[item.new.id]].digest != item.digest:
                    conflicts.append(str(item.new.id))
            else:
                first_in_call[item.new.id] = i
                fresh.append(i)
        if conflicts:
            raise IdempotencyConflict(conflicts)

        _check_expected_versions(batches, set(fresh), versions)

        recorded = _write([prepared[i] for i in fresh], versions, positions)
        for i, event in zip(fresh, recorded, strict=True):
            results[i] = AppendResult(event, duplicate=False)
        # Same id twice in one call with the same content: the second is a duplicate of the first.
        by_id = {event.id: event for event in recorded}
        for i, result in enumerate(results):
            if result is None:
                results[i] = AppendResult(by_id[prepared[i].new.id], duplicate=True)

        if recorded:
            projector.apply_inline(recorded)
            transaction.on_commit(_run_after_commit_hooks, robust=True)
    return results  # type: ignore[return-value]


def _check_expected_versions(batches: Sequence[StreamAppend], fresh: set[int], versions: dict[str, int]) -> None:
    """Each batch's expected version against its stream as the earlier batches of this call leave it."""
    running = dict(versions)
    start = 0
    for batch in batches:
        new_count = sum(1 for i in range(start, start + len(batch.events)) if i in fresh)
        start += len(batch.events)
        if not new_count:
            continue  # a retry of events already stored: idempotent, whatever the stream did since
        actual = running.get(batch.stream, 0)
        if batch.expected_version != ANY and actual != batch.expected_version:
            raise ConcurrencyError(batch.stream, int(batch.expected_version), actual)
        running[batch.stream] = actual + new_count


def _prepare(items: list[tuple[str, NewEvent]]) -> list[_Prepared]:
    now = timezone.now()
    prepared, errors = [], []
    for index, (stream, new) in enumerate(items):
        data, item_errors = validate_event(new, index=index, now=now)
        if not stream:
            item_errors.append(FieldError(index, "stream", "is required", "required"))
        errors.extend(item_errors)
        if item_errors:
            continue
        occurred_at = new.occurred_at or now
        digest = new.digest or content_digest(
            {
                "type": new.type,
                "stream": stream,
                "channel": new.channel,
                "customer_id": str(new.customer_id) if new.customer_id else None,
                # The time the sender gave, not the one filled in now: a resend later must match.
                "occurred_at": new.occurred_at.astimezone(UTC).isoformat() if new.occurred_at else None,
                "data": data,
            }
        )
        personal_names = schema.event_type(new.type).personal_fields
        personal = {name: data.pop(name) for name in personal_names if name in data}
        prepared.append(_Prepared(new, stream, data, occurred_at, digest, personal))
    if errors:
        raise EventValidationError(errors)
    return prepared


def _lock_and_preflight(prepared: list[_Prepared]) -> tuple[set[uuid.UUID], dict[str, int], list[int]]:
    """Take the append lock, then learn which ids are already stored, each stream's version, and positions for the
    new rows.

    Positions are allocated only after the lock is granted, and the reads see every append committed before it.
    On PostgreSQL it is one round trip, so an append of one event costs three (BEGIN with this, INSERT, COMMIT).
    """
    ids = list({p.new.id for p in prepared})
    streams = list({p.stream for p in prepared})
    if connection.vendor == "postgresql":
        # One round trip: the function (migration 0004) takes the lock, then queries with a fresh snapshot.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT kind, name, value FROM eventstore_lock_and_preflight(%s, %s, %s::text[], %s::uuid[])",
                [APPEND_LOCK_KEY, len(prepared), streams, ids],
            )
            rows = cursor.fetchall()
        positions = sorted(value for kind, _, value in rows if kind == 0)
        versions = {key: value for kind, key, value in rows if kind == 1 and value is not None}
        known = {uuid.UUID(key) for kind, key, _ in rows if kind == 2}
        return known, versions, positions
    # SQLite: transactions begin IMMEDIATE (settings), so this transaction already holds the only write lock.
    known = set(_known_ids(ids))
    versions = _current_versions(streams)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(position), 0) FROM eventstore_event")
        top = cursor.fetchone()[0]
    return known, versions, list(range(top + 1, top + 1 + len(prepared)))


def _known_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    found = []
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"SELECT id FROM eventstore_event WHERE id IN ({marks})", [i.hex for i in chunk])  # noqa: S608
            found.extend(uuid.UUID(row[0]) for row in cursor.fetchall())
    return found


def _current_versions(streams: Iterable[str]) -> dict[str, int]:
    streams = list(streams)
    versions: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(streams), 500):
            chunk = streams[start : start + 500]
            # One MAX per stream, so each is a single step down the (stream, version) index; a GROUP BY over
            # IN (...) would read every version of a long stream.
            marks = ", ".join(["(%s)"] * len(chunk))
            cursor.execute(
                f"WITH wanted(name) AS (VALUES {marks}) SELECT name, "  # noqa: S608 - placeholders only
                "(SELECT MAX(version) FROM eventstore_event WHERE stream = wanted.name) FROM wanted",
                chunk,
            )
            versions.update((name, version) for name, version in cursor.fetchall() if version is not None)
    return versions


def _write(items: list[_Prepared], versions: dict[str, int], positions: list[int]) -> list[RecordedEvent]:
    if not items:
        return []
    recorded_at = timezone.now()
    keyring = keys.keyring_for({p.new.customer_id for p in items if p.personal}, create=True)
    recorded, rows = [], []
    for position, item in zip(positions, items, strict=False):  # duplicates leave unused positions: gaps are fine
        new = item.new
        version = versions.get(item.stream, 0) + 1
        versions[item.stream] = version
        stored_data = item.data
        if item.personal:
            sealed = keyring.seal(new.customer_id, new.id, item.personal)
            stored_data = {**item.data, keys.SEALED_FIELD: {"fields": sorted(item.personal), "sealed": sealed}}
        event_schema = schema.event_type(new.type)
        rows.append(
            (
                position,
                new.id,
                item.stream,
                version,
                new.type,
                event_schema.schema_version,
                new.channel,
                new.customer_id,
                item.occurred_at,
                recorded_at,
                orjson.dumps(stored_data).decode(),
                orjson.dumps(new.metadata, default=str).decode(),
                item.digest,
            )
        )
        recorded.append(
            RecordedEvent(
                position=position,
                id=new.id,
                stream=item.stream,
                version=version,
                type=new.type,
                schema_version=event_schema.schema_version,
                channel=new.channel,
                customer_id=new.customer_id,
                occurred_at=item.occurred_at,
                recorded_at=recorded_at,
                data={**item.data, **item.personal},
                metadata=new.metadata,
            )
        )
    try:
        _insert_rows(rows)
    except IntegrityError as exc:
        # Only reachable if something appends without the lock: the unique (stream, version) still holds.
        raise ConcurrencyError(items[0].stream, -1, -1) from exc
    return recorded


_INSERT: Final = f"INSERT INTO eventstore_event ({_COLUMNS}) VALUES ({', '.join(['%s'] * 13)})"  # noqa: S608
# Below this many rows one multi-row INSERT (one round trip) beats COPY (two, and a slower start).
_COPY_FROM_ROWS: Final = 20


def _insert_rows(rows: list[tuple]) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) < _COPY_FROM_ROWS:
            one_row = f"({', '.join(['%s'] * 13)})"
            cursor.execute(
                f"INSERT INTO eventstore_event ({_COLUMNS}) VALUES {', '.join([one_row] * len(rows))}",  # noqa: S608
                [value for row in rows for value in row],
            )
            return
        if connection.vendor == "postgresql":
            # The raw psycopg cursor bypasses Django's error translation: restore it, so IntegrityError is caught.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY eventstore_event ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        cursor.executemany(
            _INSERT,
            [
                (
                    r[0],
                    r[1].hex,
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    r[6],
                    r[7].hex if r[7] else None,
                    adapt(r[8]),
                    adapt(r[9]),
                    r[10],
                    r[11],
                    r[12],
                )
                for r in rows
            ],
        )


def stored_events(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[str, RecordedEvent]]:
    """The stored digest and event of each id that is already in the log."""
    ids = set(ids)
    if not ids:
        return {}
    found: dict[uuid.UUID, tuple[str, RecordedEvent]] = {}
    id_list = list(ids)
    is_pg = connection.vendor == "postgresql"
    columns = _COLUMNS.split(", ", 1)[1]
    with connection.cursor() as cursor:
        # PostgreSQL: one array parameter (binding 500 separate ones cost more than the lookup); SQLite: chunks.
        step = len(id_list) if is_pg else 500
        for start in range(0, len(id_list), step):
            chunk = id_list[start : start + step]
            if is_pg:
                cursor.execute(f"SELECT {columns}, position FROM eventstore_event WHERE id = ANY(%s)", [chunk])  # noqa: S608
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"SELECT {columns}, position FROM eventstore_event WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                    [i.hex for i in chunk],
                )
            rows = cursor.fetchall()
            if not rows:
                continue
            # Reorder to the SELECT's column order: position first, digest kept aside.
            reordered = [(r[-1], *r[:11]) for r in rows]
            digests = {_uuid(r[0]): r[11] for r in rows}
            for event in _decode(reordered):
                found[event.id] = (digests[event.id], event)
    return found


def read_all(*, after: int = 0, limit: int = 1000, types: Sequence[str] | None = None) -> list[RecordedEvent]:
    """Events with position > after, in position order: the catch-up read."""
    sql, params = f"{_SELECT} WHERE position > %s", [after]
    if types:
        sql += f" AND type IN ({', '.join(['%s'] * len(types))})"
        params.extend(types)
    sql += " ORDER BY position LIMIT %s"
    params.append(limit)
    return _decode(_fetch(sql, params))


def _fetch(sql: str, params: list) -> list[tuple]:
    """Rows of a read. On PostgreSQL in binary format: parsing timestamps from text was half of a catch-up read.
    In a read scope (a GET request) on the read replica, inside a write transaction on the primary."""
    reader = read_connection()
    if reader.vendor != "postgresql":
        with reader.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    reader.ensure_connection()
    # Django's own cursors bind client-side, which cannot ask for binary results; this one shares its transaction.
    with reader.wrap_database_errors, psycopg.Cursor(reader.connection) as cursor:
        set_json_loads(orjson.loads, cursor)
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def read_positions(positions: Sequence[int]) -> list[RecordedEvent]:
    if not positions:
        return []
    marks = ", ".join(["%s"] * len(positions))
    return _decode(_fetch(f"{_SELECT} WHERE position IN ({marks}) ORDER BY position", list(positions)))


def _customer_clause(customer_id: uuid.UUID | Sequence[uuid.UUID], is_pg: bool) -> tuple[str, list]:
    """`customer_id = %s` for one customer, `IN (...)` for a person made of merged customers."""
    ids = [customer_id] if isinstance(customer_id, uuid.UUID) else list(customer_id)
    params = ids if is_pg else [i.hex for i in ids]
    if len(ids) == 1:
        return "customer_id = %s", params
    return f"customer_id IN ({', '.join(['%s'] * len(ids))})", params


def read_customer(
    customer_id: uuid.UUID | Sequence[uuid.UUID],
    *,
    types: Sequence[str] | None = None,
    occurred_until: datetime | None = None,
) -> list[RecordedEvent]:
    """Every event about one customer (or several: a person and those merged into them), across all streams, in
    the order they happened (then position)."""
    is_pg = connection.vendor == "postgresql"
    clause, params = _customer_clause(customer_id, is_pg)
    sql = f"{_SELECT} WHERE {clause}"
    if types:
        sql += f" AND type IN ({', '.join(['%s'] * len(types))})"
        params.extend(types)
    if occurred_until is not None:
        sql += " AND occurred_at <= %s"
        params.append(occurred_until if is_pg else connection.ops.adapt_datetimefield_value(occurred_until))
    return _decode(_fetch(sql + " ORDER BY occurred_at, position", params))


def read_customer_page(
    customer_id: uuid.UUID | Sequence[uuid.UUID],
    *,
    channel: str | None = None,
    type: str | None = None,  # noqa: A002
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[RecordedEvent]:
    """One page of a customer's events, newest first, by keyset on (occurred_at, position): the timeline index
    (customer_id, occurred_at) serves it at the same speed on the first page and the hundredth.

    For a person made of several customers, each customer's page is read on its own index range and the pages are
    merged: `customer_id IN (...) ORDER BY ... LIMIT` would read and sort every event of every one of them (24 ms
    instead of 0.2 ms for a merged customer with 10,000 events)."""
    is_pg = connection.vendor == "postgresql"
    adapt = (lambda value: value) if is_pg else connection.ops.adapt_datetimefield_value
    ids = [customer_id] if isinstance(customer_id, uuid.UUID) else list(dict.fromkeys(customer_id))
    filters, filter_params = "", []
    if channel:
        filters += " AND channel = %s"
        filter_params.append(channel)
    if type:
        filters += " AND type = %s"
        filter_params.append(type)
    if before is not None:
        filters += " AND (occurred_at < %s OR (occurred_at = %s AND position < %s))"
        filter_params.extend([adapt(before[0]), adapt(before[0]), before[1]])
    order = " ORDER BY occurred_at DESC, position DESC LIMIT %s"
    parts, params = [], []
    for one in ids:
        parts.append(f"SELECT * FROM ({_SELECT} WHERE customer_id = %s{filters}{order}) AS page{len(parts)}")  # noqa: S608
        params.extend([one if is_pg else one.hex, *filter_params, limit])
    if len(parts) == 1:
        sql = f"{_SELECT} WHERE customer_id = %s{filters}{order}"
    else:
        sql = " UNION ALL ".join(parts) + order
        params.append(limit)
    return _decode(_fetch(sql, params))


def read_stream(stream: str, *, after_version: int = 0) -> list[RecordedEvent]:
    return _decode(_fetch(f"{_SELECT} WHERE stream = %s AND version > %s ORDER BY version", [stream, after_version]))


def stream_version(stream: str) -> int:
    return _current_versions([stream]).get(stream, 0)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _sqlite_row(row: tuple) -> tuple:
    position, eid, stream, version, type_, schema_version, channel, customer_id, occurred, recorded, data, meta = row
    return (
        position,
        _uuid(eid),
        stream,
        version,
        type_,
        schema_version,
        channel,
        _uuid(customer_id),
        _datetime(occurred),
        _datetime(recorded),
        _json(data),
        _json(meta),
    )


def _decode(rows: Sequence[tuple]) -> list[RecordedEvent]:
    """Rows in the store's column order as events: personal fields opened (or "[erased]"), old shapes upcast."""
    if connection.vendor != "postgresql" or (rows and isinstance(rows[0][10], str)):
        rows = [_sqlite_row(row) for row in rows]
    sealed_field = keys.SEALED_FIELD
    keyring = keys.keyring_for({row[7] for row in rows if sealed_field in row[10]}, create=False)
    events = []
    for row in rows:
        # Columns: position, id, stream, version, type, schema_version, channel, customer_id, occurred_at,
        # recorded_at, data, metadata.
        data = row[10]
        sealed = data.get(sealed_field)
        if sealed is not None:
            data = {k: v for k, v in data.items() if k != sealed_field}
            personal = keyring.open(row[7], row[1], sealed["sealed"])
            data.update(personal if personal is not None else dict.fromkeys(sealed["fields"], keys.ERASED))
        schema_version, data = schema.upcast(row[4], row[5], data)
        events.append(RecordedEvent(*row[:5], schema_version, *row[6:10], data, row[11]))
    return events


_hooks_paused = threading.local()


@contextmanager
def after_commit_hooks_paused():
    """For bulk loads in this thread (seed_demo): commits skip the after-commit hooks, so async projections are not
    woken once per transaction; the caller catches them up once at the end (projector.catch_up_all)."""
    depth = getattr(_hooks_paused, "depth", 0)
    _hooks_paused.depth = depth + 1
    try:
        yield
    finally:
        _hooks_paused.depth = depth


def _run_after_commit_hooks() -> None:
    if getattr(_hooks_paused, "depth", 0):
        return
    for path in settings.EVENTSTORE_AFTER_COMMIT_HOOKS:
        import_string(path)()
