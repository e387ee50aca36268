"""The PostgreSQL recorder: parallel writers, readers behind a transaction-id high-water mark.

Appends serialise only where they must. Appends to one stream queue for it (a lock per stream, taken by the
preflight and held to commit: what the unique (stream, version) would impose anyway, without the failed insert and
the retry), the unique id decides which of two sends of one event id writes it (`ON CONFLICT (id) DO NOTHING`: the
loser learns the id is taken and reads the stored event), the unique (stream, version) still refuses whatever
bypassed the queue (StreamVersionTaken), and positions come from the identity column at the insert. Appends also take
one advisory lock in shared mode: shared holders never wait for one another, and a rebuild of inline projections, an
erasure or a merge takes it in exclusive mode to have the log to itself (`lock_appends_out`).

Positions are no longer committed in order: a transaction that inserted position 10 may commit after one that
inserted 11. A reader that trusted positions would move its checkpoint past 10 and never see it. Each row therefore
carries the id of its writing transaction (`transaction_id xid8 DEFAULT pg_current_xact_id()`, migration 0007), and
`read_committed` returns only rows whose transaction id is below `pg_snapshot_xmin(pg_current_snapshot())`: every
transaction below that mark has ended, so no row will ever appear there again; the rows are ordered by
(transaction_id, position) and a checkpoint keeps that pair.

Reads go through a psycopg cursor of Django's connection (same transaction) in binary format: parsing timestamps and
JSON from text was half the cost of a catch-up read. Statements keep one text whatever the batch (array parameters),
so the driver prepares them once.
"""

import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

import orjson
import psycopg
from django.conf import settings
from django.db import IntegrityError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone
from psycopg import pq
from psycopg.types.json import Jsonb, set_json_loads

from backoffice.replica import read_connection

from . import Inserted, NewRow, Preflight, Row, StreamVersionTaken, Upsert

# Any constant works; it only has to be the same for every appender. ("EVNT" in ASCII.)
APPEND_LOCK_KEY: Final = 0x45564E54
# The partitioned log's unique id and (stream, version) live on the key table (migration 0008), written by a trigger in
# the insert's statement: a violation of either means another transaction committed it first.
_STREAM_VERSION_CONSTRAINT: Final = "eventstore_key_stream_version_uniq"
_ID_CONSTRAINT: Final = "eventstore_event_key_pkey"
_DETAIL: Final = re.compile(r"^Key \(stream, version\)=\((?P<stream>.*), \d+\) already exists")

_COLUMNS: Final = (
    "position, id, stream, version, type, schema_version, channel, customer_id, occurred_at, recorded_at, data, "
    "metadata, transaction_id::text::bigint"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM eventstore_event"  # noqa: S608 - constant
# Events found by id or by stream: through the key table (one index, not one per partition), then the event by its
# primary key (position, recorded_at), which prunes to its one partition at run time.
_BY_KEY: Final = (
    "SELECT e.position, e.id, e.stream, e.version, e.type, e.schema_version, e.channel, e.customer_id, e.occurred_at, "
    "e.recorded_at, e.data, e.metadata, e.transaction_id::text::bigint{extra} "
    "FROM eventstore_event_key k JOIN eventstore_event e ON e.position = k.position AND e.recorded_at = k.recorded_at"
)

# The preflight is one call of the function eventstore_preflight (migration 0007): it sets the transaction's
# lock_timeout, takes the log lock in shared mode and a lock per stream appended to (sorted: two appends to the same
# streams never deadlock), then reads with a snapshot taken once it holds them (each query of a VOLATILE PL/pgSQL
# function takes its own): the stored ids, each stream's version and the transaction of that version. So appends
# to one stream queue for it in arrival order, before their transaction has an id if they wrote nothing yet: the
# insert then never meets a taken version, and a stream's versions are written by transactions in increasing id
# order, the order catch-up readers apply them in.
_PREFLIGHT: Final = "SELECT kind, key, version, writer FROM eventstore_preflight(%b, %b, %b::text[], %b::uuid[])"

# The preflight and the insert in one call, when nothing stands in the way (migrations 0009, 0010): the common append
# costs one round trip, not two. Its answer has the preflight's rows (kinds 1 and 2) and, when it wrote, one row per
# event (kind 3: id, position, transaction id). The expected versions travel as one JSON object and the ids inside the
# events' JSON: no array parameter to build per call.
_APPEND: Final = "SELECT kind, key, id, version, writer FROM eventstore_append(%b, %b, %b, %b, %b)"

# Rows in the order given, so a stream's versions get increasing positions. An id another transaction holds is left
# out (and waited for, when that transaction has not committed yet); (stream, version) taken raises. The rows travel as
# one JSON array, as eventstore_append's do (_events): eleven arrays built in Python cost a registration-heavy ingested
# batch (whose personal fields keep it off the one-trip append) more than the rest of its insert.
_INSERT: Final = """
INSERT INTO eventstore_event
    (id, stream, version, type, schema_version, channel, customer_id, occurred_at, recorded_at, data, metadata, digest)
SELECT r.i, r.s, r.v, r.t, r.sv, r.c, r.cu, r.o, %b, r.d, r.m, r.g
  FROM jsonb_to_recordset(%b) AS r(n integer, i uuid, s text, v integer, t text, sv smallint, c text, cu uuid,
                                   o timestamptz, d jsonb, m jsonb, g text)
 ORDER BY r.n
RETURNING id, position, transaction_id::text::bigint
"""

# The high-water mark: the oldest transaction of this database still in progress at the statement's snapshot (or the
# snapshot's xmax when none is), excluding this transaction's own. Every row below it is committed (visible) or
# never will be. `pg_snapshot_xmin(pg_current_snapshot())` is that mark for the whole cluster; transactions of the
# other databases of the cluster (other applications, test runs) never write here, and a long one there would hold
# every reader here back, so the in-progress ids that pg_locks proves belong to another database are left out (an id
# that cannot be placed counts as ours: the mark can only be too low, never too high; one that ended in a rollback
# between the statement's snapshot and its look at pg_locks is left out too, as it wrote nothing: two test runs on one
# server roll a test's transaction back every few milliseconds, and a self catch-up then missed its own rows).
# A transaction that appended and then catches up itself (a test; a command that needs a projection fresh) reads up
# to its own rows too, when no older transaction of this database is still running: nothing can commit below them.
_MARK: Final = """
WITH snap AS MATERIALIZED (
    SELECT pg_current_snapshot() AS s, pg_current_xact_id_if_assigned() AS own,
           (SELECT oid FROM pg_database WHERE datname = current_database()) AS db
),
held AS MATERIALIZED (
    SELECT l.transactionid::text::bigint AS x32, a.datid = snap.db AS is_local, snap.own
      FROM snap, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()
),
running AS MATERIALIZED (
    SELECT x FROM snap, pg_snapshot_xip(snap.s) AS x
     WHERE x IS DISTINCT FROM snap.own
       AND NOT EXISTS (SELECT 1 FROM held WHERE NOT held.is_local AND held.x32 = x::text::bigint %% 4294967296)
       -- ended between the snapshot and the look at pg_locks: a rolled-back one wrote nothing anyone will see,
       -- wherever it ran (a committed one may have written here: it counts)
       AND (EXISTS (SELECT 1 FROM held WHERE held.x32 = x::text::bigint %% 4294967296)
            OR pg_xact_status(x) IS DISTINCT FROM 'aborted')
),
mark AS (
    SELECT own,
           LEAST(pg_snapshot_xmax(s), (SELECT MIN(x) FROM running)) AS upto,
           own IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM running WHERE x < own)
           -- ids at or above the snapshot's xmax are not listed in it: pg_locks tells ours, in 32-bit arithmetic
           -- (ids in progress are within 2^31 of one another)
           AND NOT EXISTS (
               SELECT 1 FROM held WHERE held.is_local
                  AND ((held.x32 - own::text::bigint) %% 4294967296 + 4294967296) %% 4294967296 >= 2147483648
           ) AS own_is_oldest
      FROM snap
)"""
_BELOW_MARK: Final = """(transaction_id, position) > (%b::text::xid8, %b)
   AND (transaction_id < mark.upto OR (mark.own_is_oldest AND transaction_id <= mark.own))"""
# Ordered by the table's columns, named with the table: a bare `transaction_id` is the output column (the bigint cast
# of _COLUMNS), which the committed-order index cannot serve, so every read sorted all the log after the checkpoint
# (a reader 100,000 events behind took 665 ms per batch of 2,000 instead of 3 ms).
_COMMITTED_ORDER: Final = "ORDER BY eventstore_event.transaction_id, eventstore_event.position"
# By (types given, a position floor given): the catch-up read, optionally of some types, optionally above a position.
_TYPED: Final = " AND type = ANY(%b::text[])"
_FLOORED: Final = " AND eventstore_event.position > %b"
_READ_COMMITTED: Final = {
    (typed, floored): f"""{_MARK}
{_SELECT}, mark
 WHERE {_BELOW_MARK}{_TYPED if typed else ""}{_FLOORED if floored else ""}
 {_COMMITTED_ORDER}
 LIMIT %b
"""  # noqa: S608 - constants only
    for typed in (False, True)
    for floored in (False, True)
}
# How many events of each (type, channel) below the mark, and the key of the last one.
_COUNT_COMMITTED: Final = f"""{_MARK},
picked AS MATERIALIZED (
    SELECT transaction_id, position, type, channel FROM eventstore_event, mark WHERE {_BELOW_MARK}
)
SELECT type, COALESCE(channel, ''), COUNT(*), NULL::bigint, NULL::bigint FROM picked GROUP BY 1, 2
UNION ALL
SELECT * FROM (
    SELECT NULL, NULL, 0, transaction_id::text::bigint, position FROM picked
     ORDER BY transaction_id DESC, position DESC LIMIT 1
) AS last
"""  # noqa: S608 - constants only

# upsert_rows: how each merge is written ({old}: the stored value, {new}: the row's). GREATEST and LEAST skip NULLs.
# A union of JSON arrays of text is sorted by code point (COLLATE "C"), as Python's sorted() sorts them.
_PG_MERGE: Final = {
    "add": "{old} + {new}",
    "max": "GREATEST({old}, {new})",
    "min": "LEAST({old}, {new})",
    # Most rows hold every value already (a customer's channels): containment answers those without the subquery.
    "union": (
        "CASE WHEN {old} @> COALESCE({new}, '[]'::jsonb) THEN {old} ELSE "
        "(SELECT COALESCE(jsonb_agg(x ORDER BY x), '[]'::jsonb) FROM (SELECT DISTINCT e.x COLLATE \"C\" AS x "
        "FROM jsonb_array_elements_text(COALESCE({old}, '[]'::jsonb) || COALESCE({new}, '[]'::jsonb)) AS e(x)) AS d) "
        "END"
    ),
    "replace": "{new}",
}
# JSON values travel as text (psycopg would send each as a json parameter of its own) and are cast row by row.
_JSON: Final = frozenset({"jsonb", "json"})
_ARRAY_TYPE: Final = {"jsonb": "text", "json": "text"}


def _column(model: type[Model], name: str, connection: BaseDatabaseWrapper | None = None) -> tuple[str, str]:
    """The column of a concrete field (by name or attribute name) and, given a connection, its type there."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field.column, (field.db_type(connection) or "") if connection is not None else ""


def _events(rows: list[NewRow]) -> Jsonb:
    """The rows to insert as one JSON array of objects, numbered in order (`n`). Data and metadata are JSON text
    already: embedded as they are (orjson.Fragment), parsed once by the server."""
    return Jsonb(
        [
            {
                "n": n,
                "i": i,
                "s": s,
                "v": v,
                "t": t,
                "sv": sv,
                "c": c,
                "cu": cu,
                "o": o,
                "d": orjson.Fragment(d),
                "m": orjson.Fragment(m),
                "g": g,
            }
            for n, (i, s, v, t, sv, c, cu, o, d, m, g) in enumerate(rows)
        ],
        dumps=orjson.dumps,
    )


class PostgresRecorder:
    vendor = "postgresql"
    has_parallel_writers = True
    has_one_trip_append = True
    transaction_id_type = "xid8"

    def __init__(self, alias: str):
        self.alias = alias

    @property
    def _connection(self) -> BaseDatabaseWrapper:
        return connections[self.alias]

    def _execute(
        self, sql: str, params: Sequence[Any], *, json: bool = False, reading: bool = False
    ) -> list[tuple[Any, ...]]:
        """Run one statement in the connection's current transaction, binary in and out; its rows, if any. Errors
        are Django's (IntegrityError...), as from a Django cursor. `reading`: a read a view may take from the read
        replica (in a read scope outside any transaction: backoffice.replica), else the primary."""
        connection = read_connection() if reading else self._connection
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            if json:
                set_json_loads(orjson.loads, cursor)
            cursor.execute(sql, params, binary=True)
            # The result's status, not `cursor.description`: that builds a Column object per column, a tenth of the
            # client's CPU for a one-event append.
            result = cursor.pgresult
            return cursor.fetchall() if result is not None and result.status == pq.ExecStatus.TUPLES_OK else []

    def _rows(self, sql: str, params: Sequence[Any], *, reading: bool = False) -> list[Row]:
        return self._execute(sql, params, json=True, reading=reading)

    # -- the append -------------------------------------------------------------------------------------------

    def preflight(self, streams: list[str], ids: list[uuid.UUID]) -> Preflight:
        rows = self._execute(_PREFLIGHT, [APPEND_LOCK_KEY, settings.EVENTSTORE_LOCK_TIMEOUT, streams, ids])
        versions = {name: (value, txid) for kind, name, value, txid in rows if kind == 1 and value is not None}
        known = {uuid.UUID(name) for kind, name, _, _ in rows if kind == 2}
        return Preflight(
            known, {name: v for name, (v, _) in versions.items()}, {n: t for n, (_, t) in versions.items()}
        )

    def append(
        self, expected: dict[str, int], rows: list[NewRow], recorded_at: datetime
    ) -> tuple[Preflight, Inserted | None]:
        """The preflight and the insert in one round trip (eventstore_append, migration 0010): (the preflight's answer,
        what was written), or (the preflight's answer, None) with nothing written when an id is stored already, a
        stream is not at its expected version (-1: any) or was last written by a younger transaction. Each row's
        version counts from its stream's head (1, 2, ...); the written events' versions are head + that."""
        params = [
            APPEND_LOCK_KEY,
            settings.EVENTSTORE_LOCK_TIMEOUT,
            Jsonb(expected, dumps=orjson.dumps),
            recorded_at,
            _events(rows),
        ]
        try:
            returned = self._execute(_APPEND, params)
        except IntegrityError as exc:
            raise self._taken(exc) from exc
        heads = {key: (version, writer) for kind, key, _, version, writer in returned if kind == 1}
        preflight = Preflight(
            {event_id for kind, _, event_id, _, _ in returned if kind == 2},
            {name: head for name, (head, _) in heads.items() if head is not None},
            {name: writer for name, (_, writer) in heads.items() if writer is not None},
        )
        written = {event_id: (position, txid) for kind, _, event_id, position, txid in returned if kind == 3}
        return preflight, (Inserted(written, set()) if written else None)

    def insert(self, rows: list[NewRow], recorded_at: datetime) -> Inserted:
        try:
            returned = self._execute(_INSERT, [recorded_at, _events(rows)])
        except IntegrityError as exc:
            raise self._taken(exc) from exc
        written = {row[0]: (row[1], row[2]) for row in returned}
        return Inserted(written, {row[0] for row in rows if row[0] not in written})

    @staticmethod
    def _taken(exc: IntegrityError) -> StreamVersionTaken:
        """The insert's integrity error as the fact it states (re-raised when it is something else)."""
        diag = getattr(exc.__cause__, "diag", None)
        if diag is not None and diag.constraint_name == _ID_CONSTRAINT:
            # An id another transaction committed while this one waited for it: run again, the preflight then
            # finds it stored (a duplicate, or IdempotencyConflict).
            return StreamVersionTaken(None)
        if diag is None or diag.constraint_name != _STREAM_VERSION_CONSTRAINT:
            if diag is not None and (diag.message_primary or "").startswith("no partition of relation"):
                raise RuntimeError(
                    "the event log has no partition for this month: run `manage.py eventstore_partitions "
                    "--ahead 3` (celery beat runs it daily)"
                ) from exc
            raise exc
        match = _DETAIL.match(diag.message_detail or "")
        return StreamVersionTaken(match["stream"] if match else None)

    def stream_versions(self, streams: Sequence[str]) -> dict[str, int]:
        if len(streams) == 1:
            # A command reads one stream's version before it appends: no array to build for it.
            ((version,),) = self._execute(
                "SELECT MAX(version)::bigint FROM eventstore_event_key WHERE stream = %b", [streams[0]]
            )
            return {} if version is None else {streams[0]: version}
        # One MAX per stream, so each is a single step down the (stream, version) index.
        rows = self._execute(
            "SELECT s.name, (SELECT MAX(k.version)::bigint FROM eventstore_event_key k WHERE k.stream = s.name) "
            "FROM unnest(%b::text[]) AS s(name)",
            [list(streams)],
        )
        return {name: version for name, version in rows if version is not None}

    # -- reads ------------------------------------------------------------------------------------------------

    def stored(self, ids: Sequence[uuid.UUID]) -> list[tuple[Row, str]]:
        rows = self._rows(_BY_KEY.format(extra=", e.digest") + " WHERE k.id = ANY(%b::uuid[])", [list(ids)])
        return [(row[:13], row[13]) for row in rows]

    def read_committed(
        self,
        *,
        after: tuple[int, int],
        limit: int,
        types: Sequence[str] | None = None,
        above: int = 0,
        reading: bool = False,
    ) -> list[Row]:
        # `above`: a reader starting from a position it was given (the events API's `after`), in the same safe order.
        params: list[Any] = [str(after[0]), after[1], *([list(types)] if types else []), *([above] if above else [])]
        # On a standby the mark is only lower: the primary's transactions are in its snapshot, not in its pg_locks,
        # and an id the mark cannot place in a database counts as this one's.
        return self._rows(_READ_COMMITTED[bool(types), bool(above)], [*params, limit], reading=reading)

    def count_committed(self, *, after: tuple[int, int]) -> tuple[list[tuple[str, str, int]], tuple[int, int]]:
        rows = self._execute(_COUNT_COMMITTED, [str(after[0]), after[1]])
        last = next(((txid, position) for t, _, _, txid, position in rows if t is None), after)
        return [(t, channel, count) for t, channel, count, _, _ in rows if t is not None], last

    def read_all(self, *, after: int, limit: int, types: Sequence[str] | None) -> list[Row]:
        if types:
            sql = f"{_SELECT} WHERE position > %b AND type = ANY(%b::text[]) ORDER BY position LIMIT %b"
            return self._rows(sql, [after, list(types), limit], reading=True)
        return self._rows(f"{_SELECT} WHERE position > %b ORDER BY position LIMIT %b", [after, limit], reading=True)

    def read_positions(self, positions: Sequence[int]) -> list[Row]:
        return self._rows(
            f"{_SELECT} WHERE position = ANY(%b::int8[]) ORDER BY position", [list(positions)], reading=True
        )

    def read_stream(self, stream: str, *, after_version: int) -> list[Row]:
        return self._rows(
            _BY_KEY.format(extra="") + " WHERE k.stream = %b AND k.version > %b ORDER BY k.version",
            [stream, after_version],
            reading=True,
        )

    def read_customer(
        self, ids: list[uuid.UUID], *, types: Sequence[str] | None, occurred_until: datetime | None
    ) -> list[Row]:
        # `= %b` for one customer keeps the plan of the timeline index; ANY for a person of merged customers.
        sql, params = (
            (f"{_SELECT} WHERE customer_id = %b", list[Any]([ids[0]]))
            if len(ids) == 1
            else (
                f"{_SELECT} WHERE customer_id = ANY(%b::uuid[])",
                list[Any]([ids]),
            )
        )
        if types:
            sql += " AND type = ANY(%b::text[])"
            params.append(list(types))
        if occurred_until is not None:
            sql += " AND occurred_at <= %b"
            params.append(occurred_until)
        return self._rows(sql + " ORDER BY occurred_at, position", params, reading=True)

    def read_customer_page(
        self,
        ids: list[uuid.UUID],
        *,
        channel: str | None,
        type: str | None,  # noqa: A002
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Row]:
        # For a person made of several customers, each customer's page is read on its own index range and the pages
        # are merged: `customer_id IN (...) ORDER BY ... LIMIT` would read and sort every event of every one of them.
        filters, filter_params = "", list[Any]()
        if channel:
            filters += " AND channel = %b"
            filter_params.append(channel)
        if type:
            filters += " AND type = %b"
            filter_params.append(type)
        if before is not None:
            filters += " AND (occurred_at < %b OR (occurred_at = %b AND position < %b))"
            filter_params.extend([before[0], before[0], before[1]])
        order = " ORDER BY occurred_at DESC, position DESC LIMIT %b"
        if len(ids) == 1:
            return self._rows(
                f"{_SELECT} WHERE customer_id = %b{filters}{order}", [ids[0], *filter_params, limit], reading=True
            )
        parts, params = list[str](), list[Any]()
        for one in ids:
            parts.append(f"SELECT * FROM ({_SELECT} WHERE customer_id = %b{filters}{order}) AS page{len(parts)}")  # noqa: S608 - placeholders only
            params.extend([one, *filter_params, limit])
        return self._rows(" UNION ALL ".join(parts) + order, [*params, limit], reading=True)

    def head(self) -> int:
        ((top,),) = self._execute("SELECT COALESCE(MAX(position), 0) FROM eventstore_event", [])
        return int(top)

    # -- keys and locks -----------------------------------------------------------------------------------------

    def stored_keys(self, customer_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, bytes | None]]:
        return self._execute(
            "SELECT customer_id, wrapped_key FROM eventstore_customerkey WHERE customer_id = ANY(%b::uuid[])",
            [list(customer_ids)],
        )

    def insert_keys(self, rows: list[tuple[uuid.UUID, bytes]]) -> set[uuid.UUID]:
        # Two appends for one new customer may both find no key: the first insert wins, the other waits for its
        # commit and writes nothing (then reads the winner's key).
        written = self._execute(
            "INSERT INTO eventstore_customerkey (customer_id, wrapped_key, created_at, destroyed_at) "
            "SELECT k.id, k.wrapped, %b, NULL FROM unnest(%b::uuid[], %b::bytea[]) AS k(id, wrapped) "
            "ON CONFLICT (customer_id) DO NOTHING RETURNING customer_id",
            [timezone.now(), [cid for cid, _ in rows], [wrapped for _, wrapped in rows]],
        )
        return {cid for (cid,) in written}

    def lock_appends_out(self) -> None:
        self._execute("SELECT pg_advisory_xact_lock(%b)", [APPEND_LOCK_KEY])

    def lock_keys(self, keys: list[int]) -> None:
        if keys:
            self._execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%b::int8[]) AS k ORDER BY k", [keys])

    # -- read models (upserts.py) -------------------------------------------------------------------------------

    takes_python_values = True

    def upsert_rows(self, plan: Upsert, values: Sequence[list[Any]]) -> None:
        """One statement whatever the number of rows: the values travel as one array per column (unnest), so its
        text is the same for every batch and the driver prepares it once."""
        if not values or not values[0]:
            return
        arrays = ", ".join(f"%b::{_ARRAY_TYPE.get(kind, kind)}[]" for _, kind in plan.columns)
        picked = ", ".join(f"u.{name}::jsonb" if kind in _JSON else f"u.{name}" for name, kind in plan.columns)
        source = f"SELECT {picked} FROM unnest({arrays}) AS u({', '.join(plan.names)})"  # noqa: S608 - names
        if plan.update_only:
            sets = plan.assignments(_PG_MERGE, old="t.{name}", new="n.{name}")
            on = " AND ".join(f"t.{name} = n.{name}" for name in plan.key)
            sql = f"UPDATE {plan.table} AS t SET {sets} FROM ({source}) AS n WHERE {on}"  # noqa: S608 - names
        else:
            conflict = plan.on_conflict(_PG_MERGE, old="t.{name}", new="EXCLUDED.{name}")
            sql = f"INSERT INTO {plan.table} AS t ({', '.join(plan.names)}) {source} {conflict}"  # noqa: S608
        self._execute(sql, values)

    # -- partitions (migration 0008, eventstore/partitioning.py) ------------------------------------------------

    has_partitions = True

    def partitions(self) -> list[tuple[str, str, bool]]:
        """(name, first day of its month as YYYY-MM-DD, archived) of every monthly partition, oldest first."""
        rows = self._execute(
            "SELECT c.relname, n.nspname = 'archive' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname ~ '^eventstore_event_y[0-9]{4}m[0-9]{2}$' AND c.relkind = 'r' "
            "AND (n.nspname = 'archive' OR c.oid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = 'eventstore_event'::regclass)) ORDER BY c.relname",
            [],
        )
        return [(name, f"{name[18:22]}-{name[23:25]}-01", archived) for name, archived in rows]

    def create_partition(self, month: date) -> str | None:
        ((name,),) = self._execute("SELECT eventstore_create_partition(%b)", [month])
        return None if name is None else str(name)

    def detach_partition(self, month: date) -> str | None:
        ((name,),) = self._execute("SELECT eventstore_detach_partition(%b)", [month])
        return None if name is None else str(name)

    def attach_partition(self, month: date) -> str | None:
        ((name,),) = self._execute("SELECT eventstore_attach_partition(%b)", [month])
        return None if name is None else str(name)

    # -- read models by batch ------------------------------------------------------------------------------------

    def rows_matching_any(
        self, model: type[Model], columns: Sequence[str], any_of: dict[str, Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        connection = self._connection
        quote = connection.ops.quote_name
        picked = ", ".join(quote(_column(model, name)[0]) for name in columns)
        where = " AND ".join(
            f"{quote(column)} = ANY(%b::{kind}[])"
            for column, kind in (_column(model, name, connection) for name in any_of)
        )
        sql = f"SELECT {picked} FROM {quote(model._meta.db_table)} WHERE {where}"  # noqa: S608 - names from the model
        return self._execute(sql, [list(values) for values in any_of.values()])

    # -- the database's own words for other reads -----------------------------------------------------------------

    def bit_or_of_powers_of_two(self, exponent: str, condition: str) -> str:
        return f"BIT_OR(CASE WHEN {condition} THEN CAST(1 AS BIGINT) << ({exponent}) ELSE 0 END)"

    def bytewise(self, column: str) -> str:
        return f'{column} COLLATE "C"'

    def next_aggregate_in_memory(self, *, work_mem: str) -> None:
        self._execute(
            "SELECT set_config('work_mem', %b, true), set_config('max_parallel_workers_per_gather', '0', true)",
            [work_mem],
        )
