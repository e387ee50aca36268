"""The SQLite recorder: one writer at a time.

Transactions begin IMMEDIATE (settings), so an appending transaction holds the database's only write lock from its
first statement to its commit: the preflight's reads are exact, the next position is MAX + 1, and positions commit
in order, so a catch-up reader may trust them alone (`transaction_id` is 0 on every row). The lock that keeps a
rebuild or an erasure apart from appends is that same write lock.

SQLite stores UUIDs as 32 hex digits and times as text: rows are normalised here to what the PostgreSQL recorder
returns, so the store above never asks which database it runs on.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from backoffice.replica import read_connection

from . import Inserted, NewRow, Preflight, Row, Upsert

_COLUMNS: Final = (
    "position, id, stream, version, type, schema_version, channel, customer_id, occurred_at, recorded_at, data, "
    "metadata, transaction_id"
)
_SELECT: Final = f"SELECT {_COLUMNS} FROM eventstore_event"  # noqa: S608 - constant
_INSERT: Final = (
    "INSERT INTO eventstore_event (position, id, stream, version, type, schema_version, channel, customer_id, "
    "occurred_at, recorded_at, data, metadata, digest, transaction_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0)"
)
# SQLite's limit on the parameters of one statement is 999 in old builds: lists are bound in chunks below it.
_CHUNK: Final = 500


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)  # as stored: never malformed
    moment: datetime = value
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _row(row: tuple[Any, ...]) -> Row:
    position, eid, stream, version, type_, schema_version, channel, customer, occurred, recorded, data, meta, txid = row
    return (
        position,
        _uuid(eid),
        stream,
        version,
        type_,
        schema_version,
        channel,
        _uuid(customer),
        _datetime(occurred),
        _datetime(recorded),
        _json(data),
        _json(meta),
        txid,
    )


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


# upsert_rows: how each merge is written ({old}: the stored value, {new}: the row's). SQLite's max() of a NULL is
# NULL, so the larger and the smaller are spelled out; a union of JSON arrays is sorted by code point (BINARY).
_SQLITE_MERGE: Final = {
    "add": "{old} + {new}",
    "max": "CASE WHEN {old} IS NULL OR {new} > {old} THEN {new} ELSE {old} END",
    "min": "CASE WHEN {old} IS NULL OR {new} < {old} THEN {new} ELSE {old} END",
    "union": (
        "(SELECT json_group_array(value) FROM (SELECT value FROM json_each({old}) UNION "
        "SELECT value FROM json_each({new}) ORDER BY value))"
    ),
    "replace": "{new}",
}


class SqliteRecorder:
    vendor = "sqlite"
    has_one_trip_append = False
    has_parallel_writers = False
    transaction_id_type = "bigint"

    def __init__(self, alias: str):
        self.alias = alias

    @property
    def _connection(self) -> BaseDatabaseWrapper:
        return connections[self.alias]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return [_row(row) for row in self._fetch(sql, params)]

    def _read_rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """A read a view may take from the read replica's alias (backoffice.replica; on SQLite only the tests' mirror
        of the same database)."""
        with read_connection().cursor() as cursor:
            cursor.execute(sql, params)
            return [_row(row) for row in cursor.fetchall()]

    def _time(self, value: datetime) -> Any:
        return self._connection.ops.adapt_datetimefield_value(value)

    # -- the append -------------------------------------------------------------------------------------------

    def preflight(self, streams: list[str], ids: list[uuid.UUID]) -> Preflight:
        known: set[uuid.UUID] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            sql = f"SELECT id FROM eventstore_event WHERE id IN ({_marks(len(chunk))})"  # noqa: S608 - marks only
            known.update(uuid.UUID(eid) for (eid,) in self._fetch(sql, [i.hex for i in chunk]))
        return Preflight(known, self.stream_versions(streams), {})

    def insert(self, rows: list[NewRow], recorded_at: datetime) -> Inserted:
        ((top,),) = self._fetch("SELECT COALESCE(MAX(position), 0) FROM eventstore_event", [])
        recorded = self._time(recorded_at)
        values = []
        written = {}
        for position, row in enumerate(rows, start=top + 1):
            eid, stream, version, type_, schema_version, channel, customer, occurred, data, meta, digest = row
            customer_hex = customer.hex if customer else None
            values.append(
                (position, eid.hex, stream, version, type_, schema_version, channel, customer_hex,
                 self._time(occurred), recorded, data, meta, digest)
            )  # fmt: skip
            written[eid] = (position, 0)
        with self._connection.cursor() as cursor:
            cursor.executemany(_INSERT, values)
        return Inserted(written, set())

    def stream_versions(self, streams: Sequence[str]) -> dict[str, int]:
        streams = list(streams)
        versions: dict[str, int] = {}
        for start in range(0, len(streams), _CHUNK):
            chunk = streams[start : start + _CHUNK]
            # One MAX per stream, so each is a single step down the (stream, version) index; a GROUP BY over
            # IN (...) would read every version of a long stream.
            marks = ", ".join(["(%s)"] * len(chunk))
            sql = (
                f"WITH wanted(name) AS (VALUES {marks}) SELECT name, "  # noqa: S608 - placeholders only
                "(SELECT MAX(version) FROM eventstore_event WHERE stream = wanted.name) FROM wanted"
            )
            versions.update((name, version) for name, version in self._fetch(sql, chunk) if version is not None)
        return versions

    # -- reads ------------------------------------------------------------------------------------------------

    def stored(self, ids: Sequence[uuid.UUID]) -> list[tuple[Row, str]]:
        ids = list(ids)
        found: list[tuple[Row, str]] = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            sql = f"SELECT {_COLUMNS}, digest FROM eventstore_event WHERE id IN ({_marks(len(chunk))})"  # noqa: S608
            found.extend((_row(row[:13]), row[13]) for row in self._fetch(sql, [i.hex for i in chunk]))
        return found

    def read_committed(
        self,
        *,
        after: tuple[int, int],
        limit: int,
        types: Sequence[str] | None = None,
        above: int = 0,
        reading: bool = False,
    ) -> list[Row]:
        # One writer: positions commit in order, and the transaction part of the checkpoint is always 0.
        start = max(after[1], above)
        if types:
            sql = f"{_SELECT} WHERE position > %s AND type IN ({_marks(len(types))}) ORDER BY position LIMIT %s"
            return self._rows(sql, [start, *types, limit])
        return self._rows(f"{_SELECT} WHERE position > %s ORDER BY position LIMIT %s", [start, limit])

    def count_committed(self, *, after: tuple[int, int]) -> tuple[list[tuple[str, str, int]], tuple[int, int]]:
        rows = self._fetch(
            "SELECT type, COALESCE(channel, ''), COUNT(*), MAX(position) FROM eventstore_event WHERE position > %s "
            "GROUP BY type, COALESCE(channel, '')",
            [after[1]],
        )
        top = max((row[3] for row in rows), default=after[1])
        return [(t, channel, count) for t, channel, count, _ in rows], (0, top)

    def read_all(self, *, after: int, limit: int, types: Sequence[str] | None) -> list[Row]:
        sql, params = f"{_SELECT} WHERE position > %s", list[Any]([after])
        if types:
            sql += f" AND type IN ({_marks(len(types))})"
            params.extend(types)
        return self._read_rows(sql + " ORDER BY position LIMIT %s", [*params, limit])

    def read_positions(self, positions: Sequence[int]) -> list[Row]:
        rows: list[Row] = []
        positions = list(positions)
        for start in range(0, len(positions), _CHUNK):
            chunk = positions[start : start + _CHUNK]
            rows.extend(self._read_rows(f"{_SELECT} WHERE position IN ({_marks(len(chunk))})", chunk))
        return sorted(rows, key=lambda row: row[0])

    def read_stream(self, stream: str, *, after_version: int) -> list[Row]:
        return self._read_rows(
            f"{_SELECT} WHERE stream = %s AND version > %s ORDER BY version", [stream, after_version]
        )

    def read_customer(
        self, ids: list[uuid.UUID], *, types: Sequence[str] | None, occurred_until: datetime | None
    ) -> list[Row]:
        if len(ids) == 1:
            sql, params = f"{_SELECT} WHERE customer_id = %s", [ids[0].hex]
        else:
            sql, params = f"{_SELECT} WHERE customer_id IN ({_marks(len(ids))})", [i.hex for i in ids]
        if types:
            sql += f" AND type IN ({_marks(len(types))})"
            params.extend(types)
        if occurred_until is not None:
            sql += " AND occurred_at <= %s"
            params.append(self._time(occurred_until))
        return self._read_rows(sql + " ORDER BY occurred_at, position", params)

    def read_customer_page(
        self,
        ids: list[uuid.UUID],
        *,
        channel: str | None,
        type: str | None,  # noqa: A002
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Row]:
        filters, filter_params = "", list[Any]()
        if channel:
            filters += " AND channel = %s"
            filter_params.append(channel)
        if type:
            filters += " AND type = %s"
            filter_params.append(type)
        if before is not None:
            filters += " AND (occurred_at < %s OR (occurred_at = %s AND position < %s))"
            filter_params.extend([self._time(before[0]), self._time(before[0]), before[1]])
        order = " ORDER BY occurred_at DESC, position DESC LIMIT %s"
        if len(ids) == 1:
            return self._read_rows(
                f"{_SELECT} WHERE customer_id = %s{filters}{order}", [ids[0].hex, *filter_params, limit]
            )
        parts, params = list[str](), list[Any]()
        for one in ids:
            parts.append(f"SELECT * FROM ({_SELECT} WHERE customer_id = %s{filters}{order}) AS page{len(parts)}")  # noqa: S608
            params.extend([one.hex, *filter_params, limit])
        return self._read_rows(" UNION ALL ".join(parts) + order, [*params, limit])

    def head(self) -> int:
        ((top,),) = self._fetch("SELECT COALESCE(MAX(position), 0) FROM eventstore_event", [])
        return int(top)

    # -- keys and locks -----------------------------------------------------------------------------------------

    def stored_keys(self, customer_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, bytes | None]]:
        from ..models import CustomerKey

        keys = CustomerKey.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "wrapped_key")
        return [(cid, None if wrapped is None else bytes(wrapped)) for cid, wrapped in keys]

    def insert_keys(self, rows: list[tuple[uuid.UUID, bytes]]) -> set[uuid.UUID]:
        from ..models import CustomerKey

        # The write lock is held: no other transaction can have written one of these meanwhile.
        CustomerKey.objects.bulk_create([CustomerKey(customer_id=cid, wrapped_key=wrapped) for cid, wrapped in rows])
        return {cid for cid, _ in rows}

    def lock_appends_out(self) -> None:
        # The transaction began IMMEDIATE: it already holds the only write lock, until commit.
        return

    def lock_keys(self, keys: list[int]) -> None:
        # Likewise: every write transaction is alone.
        return

    # -- read models (upserts.py) -------------------------------------------------------------------------------

    takes_python_values = False

    def upsert_rows(self, plan: Upsert, values: Sequence[list[Any]]) -> None:
        """One executemany of SQLite's upsert (or of an UPDATE per row): the rows never leave SQLite's library."""
        if not values or not values[0]:
            return
        names, table = plan.names, plan.table
        if plan.update_only:
            # The row's values are named by position: ?NNN parameters, each column's as often as its merge needs.
            place = {name: f"?{number}" for number, name in enumerate(names, start=1)}
            sets = ", ".join(
                f"{name} = {_SQLITE_MERGE[how].format(old=f'{table}.{name}', new=place[name])}"
                for name, how in plan.merge.items()
            )
            on = " AND ".join(f"{name} = {place[name]}" for name in plan.key)
            sql = f"UPDATE {table} SET {sets} WHERE {on}"  # noqa: S608 - names from the model
        else:
            conflict = plan.on_conflict(_SQLITE_MERGE, old=f"{table}.{{name}}", new="excluded.{name}")
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) {conflict}"  # noqa: S608
        # Django's cursor would turn the ? into %s placeholders: the driver's own cursor takes them as they are.
        connection = self._connection
        connection.ensure_connection()
        with connection.wrap_database_errors:
            cursor = connection.connection.cursor()
            try:
                cursor.executemany(sql, zip(*values, strict=True))
            finally:
                cursor.close()

    # -- read models by batch ------------------------------------------------------------------------------------

    def rows_matching_any(
        self, model: type[Model], columns: Sequence[str], any_of: dict[str, Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        # The ORM: SQLite's values need Django's conversions (UUIDs as hex, times and decimals as text).
        found = model._base_manager.using(self.alias).filter(**{f"{name}__in": list(v) for name, v in any_of.items()})
        return list(found.values_list(*columns))

    # -- the database's own words for other reads -----------------------------------------------------------------

    def bit_or_of_powers_of_two(self, exponent: str, condition: str) -> str:
        # No BIT_OR in SQLite: distinct powers of two add up to their OR.
        return f"SUM(DISTINCT CASE WHEN {condition} THEN 1 << ({exponent}) ELSE 0 END)"

    def bytewise(self, column: str) -> str:
        return column  # SQLite compares text by its bytes unless told otherwise

    def next_aggregate_in_memory(self, *, work_mem: str) -> None:
        return None  # one process, its own memory

    # -- partitions: none, one table -------------------------------------------------------------------------------

    has_partitions = False

    def partitions(self) -> list[tuple[str, str, bool]]:
        return []

    def create_partition(self, month: date) -> str | None:
        return None  # one table holds every month

    def detach_partition(self, month: date) -> str | None:
        raise RuntimeError("the SQLite event log is one table: there is no partition to detach")

    def attach_partition(self, month: date) -> str | None:
        raise RuntimeError("the SQLite event log is one table: there is no partition to attach")
