"""Recorders: the event store's SQL, one implementation per database, chosen once (the `eventsourcing` library's
split between an application and its recorder).

Everything the store says to the database (the append, the reads, the per-customer keys, the locks that keep a
rebuild or an erasure apart from appends) is a method of a recorder. `store.py`, `keys.py`, `locks.py` and the
projector speak to `recorder()` only, so the rest of the store is the same on both databases, and a vendor fork
lives in exactly one of these two files:

- `postgres.PostgresRecorder`: parallel writers. No lock serialises appends: the unique (stream, version) and id
  constraints do, at the insert. Positions come from the identity at the insert; every row carries the id of the
  transaction that wrote it (`transaction_id`, an xid8 filled by `pg_current_xact_id()`), and a catch-up reader
  reads only below the transaction-id high-water mark `pg_snapshot_xmin(pg_current_snapshot())`, in (transaction,
  position) order: every event below it is committed or never will be, so a checkpoint (transaction_id, position)
  never passes an event that commits later (docs/eventstore.md).
- `sqlite.SqliteRecorder`: one writer. Transactions begin IMMEDIATE (settings) and hold the database's only write
  lock until commit, so positions commit in order and a catch-up reader may trust them alone.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Protocol

from django.db import connections
from django.db.models import Model
from django.db.utils import DEFAULT_DB_ALIAS

# A stored event as every recorder returns it: position, id, stream, version, type, schema_version, channel,
# customer_id, occurred_at (aware), recorded_at (aware), data (dict), metadata (dict), transaction_id (int).
Row = tuple[Any, ...]  # as the driver gives it
# An event to insert: id, stream, version, type, schema_version, channel, customer_id, occurred_at, data (JSON
# text), metadata (JSON text), digest. recorded_at is one value for the whole insert.
NewRow = tuple[Any, ...]  # as the driver gives it


class StreamVersionTaken(Exception):  # noqa: N818 - a fact about the log, turned into ConcurrencyError by the store
    """The insert found (stream, version) already written by a transaction that committed first."""

    def __init__(self, stream: str | None):
        super().__init__(stream)
        self.stream = stream


@dataclass(frozen=True)
class Preflight:
    known_ids: set[uuid.UUID]
    # stream -> its current version (absent: no stream yet).
    versions: dict[str, int]
    # stream -> transaction_id of its current version (parallel writers only): an append must sort after it.
    last_transaction_ids: dict[str, int]


@dataclass(frozen=True)
class Inserted:
    # id -> (position, transaction_id) of each row written.
    written: dict[uuid.UUID, tuple[int, int]]
    # Ids another transaction committed first, between this append's preflight and its insert: nothing written.
    taken: set[uuid.UUID]


@dataclass(frozen=True)
class Upsert:
    """One batched write of a read model (upserts.py): rows of `columns` ((name, column type), names quoted) into
    `table`. A row whose `key` is stored already is merged into it, each column of `merge` as its MERGES entry says
    (the others keep the stored value); `update_only`: rows whose key is not stored are left out (the table has
    columns without a default the rows do not name). No `key`: a plain insert, where a row that breaks a unique
    constraint raises IntegrityError (upserts.insert)."""

    table: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    merge: dict[str, str]
    update_only: bool = False

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def assignments(self, spelled: dict[str, str], *, old: str, new: str) -> str:
        """`column = merged value, ...`: `spelled` writes each merge with {old} and {new}, which `old` and `new`
        spell for a column ({name})."""
        return ", ".join(
            f"{name} = {spelled[how].format(old=old.format(name=name), new=new.format(name=name))}"
            for name, how in self.merge.items()
        )

    def on_conflict(self, spelled: dict[str, str], *, old: str, new: str) -> str:
        if not self.key:
            return ""
        sets = self.assignments(spelled, old=old, new=new)
        return f"ON CONFLICT ({', '.join(self.key)}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")


class Recorder(Protocol):
    vendor: str
    # True when appends can run at once and readers must stop at the transaction-id high-water mark.
    has_parallel_writers: bool
    # The column type of Event.transaction_id.
    transaction_id_type: str

    def preflight(self, streams: list[str], ids: list[uuid.UUID]) -> Preflight:
        """Inside the append's transaction: which ids are stored, and each stream's version (absent: no stream).
        PostgreSQL: from here to commit, the append holds a lock on each of these streams."""

    # True when `append` does the preflight and the insert in one round trip (PostgreSQL); else the store calls them
    # one after the other.
    has_one_trip_append: bool

    def append(
        self, expected: dict[str, int], rows: list[NewRow], recorded_at: datetime
    ) -> tuple[Preflight, Inserted | None]:
        """Preflight and insert at once, for events with new ids on streams at `expected` (-1: any version), each
        row's version counted from its stream's head: (the preflight's answer, what was written), or None written when
        an id is stored, a version differs or the append would sort before a stream's head (nothing written then)."""

    def insert(self, rows: list[NewRow], recorded_at: datetime) -> Inserted: ...

    def stream_versions(self, streams: Sequence[str]) -> dict[str, int]: ...

    def stored(self, ids: Sequence[uuid.UUID]) -> list[tuple[Row, str]]:
        """(row, digest) of each of these ids that is stored."""

    def read_committed(
        self,
        *,
        after: tuple[int, int],
        limit: int,
        types: Sequence[str] | None = None,
        above: int = 0,
        reading: bool = False,
    ) -> list[Row]:
        """Rows after the checkpoint (transaction_id, position) that are safe to consume in order: no event that is
        not visible yet will ever sort before the last one returned. `types`: only events of these types; `above`:
        only events whose position is above it; `reading`: from the read replica in a read scope."""

    def count_committed(self, *, after: tuple[int, int]) -> tuple[list[tuple[str, str, int]], tuple[int, int]]:
        """(type, channel or "", count) of the events read_committed would return after `after`, and the key
        (transaction_id, position) of the last of them (`after` when none)."""

    def read_all(self, *, after: int, limit: int, types: Sequence[str] | None) -> list[Row]: ...

    def read_positions(self, positions: Sequence[int]) -> list[Row]: ...

    def read_stream(self, stream: str, *, after_version: int) -> list[Row]: ...

    def read_customer(
        self, ids: list[uuid.UUID], *, types: Sequence[str] | None, occurred_until: datetime | None
    ) -> list[Row]: ...

    def read_customer_page(
        self,
        ids: list[uuid.UUID],
        *,
        channel: str | None,
        type: str | None,  # noqa: A002
        before: tuple[datetime, int] | None,
        limit: int,
    ) -> list[Row]: ...

    def head(self) -> int:
        """The highest position written."""

    def stored_keys(self, customer_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, bytes | None]]: ...

    def insert_keys(self, rows: list[tuple[uuid.UUID, bytes]]) -> set[uuid.UUID]:
        """New live keys; the customers whose key was written. One whose key another transaction wrote first keeps
        that key (the caller reads it)."""

    def lock_appends_out(self) -> None:
        """Until commit, no append runs (and none is half done): for a rebuild of inline projections, an erasure,
        a merge. Appends take the same lock in shared mode, so they never wait for one another."""

    def lock_keys(self, keys: list[int]) -> None:
        """Until commit, a lock per key (sorted by the caller) that other callers of lock_keys wait for."""

    # Read models written by projections, in one statement per batch and table (upserts.py prepares the values).
    # True when the driver adapts Python values itself; else upserts.py prepares each through its model field.
    takes_python_values: bool

    def upsert_rows(self, plan: "Upsert", values: Sequence[list[Any]]) -> None:
        """Write rows into the plan's table, given as one list of `values` per column of the plan (the values at one
        index form a row), merged into stored rows as the plan says."""

    # Partitions of the log by month of recorded_at (PostgreSQL, migration 0008; SQLite keeps one table).
    has_partitions: bool

    def partitions(self) -> list[tuple[str, str, bool]]:
        """(name, first day of its month, archived) of every monthly partition, oldest first."""

    def create_partition(self, month: date) -> str | None:
        """The partition of `month`, unless it exists: its name, or None."""

    def detach_partition(self, month: date) -> str | None:
        """Detach the month's partition into the archive schema (a plain, append-only table): its name, or None."""

    def attach_partition(self, month: date) -> str | None:
        """Attach an archived month again: its name, or None when it is not archived."""

    def rows_matching_any(
        self, model: type[Model], columns: Sequence[str], any_of: dict[str, Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        """`columns` (attribute names) of the rows of `model` whose every field named in `any_of` holds one of its
        values, as Python values: a read model's batch of hundreds of ids in one statement whose text never changes
        (PostgreSQL: one array per field, bound and read in binary, no ORM compilation per batch)."""

    # The database's own words, for the few reads elsewhere that need them (chosen here once per database, so no
    # other module tests the vendor).

    def bit_or_of_powers_of_two(self, exponent: str, condition: str) -> str:
        """An aggregate: the OR of 2**exponent over the rows where `condition` holds (SQL expressions); a 64-bit
        integer mask."""

    def bytewise(self, column: str) -> str:
        """The column compared by its bytes, not by the locale's collation (no locale-aware comparison per row)."""

    def next_aggregate_in_memory(self, *, work_mem: str) -> None:
        """Inside a transaction: its statements may hash in `work_mem` of memory, in one process (a large aggregate
        on a small machine). Nothing to do where the database has no such settings."""


# How a projection merges a new value into the stored one, by name (upserts.py): the database does the arithmetic,
# so a batch needs no read of the rows it adds to.
MERGES: Final = ("add", "max", "min", "union", "replace")


_RECORDERS = {
    "postgresql": "backoffice.eventstore.backends.postgres.PostgresRecorder",
    "sqlite": "backoffice.eventstore.backends.sqlite.SqliteRecorder",
}
_chosen: dict[str, Recorder] = {}


def recorder(alias: str = DEFAULT_DB_ALIAS) -> Recorder:
    """The recorder of the database behind `alias`, chosen on first use (the store's app config asks at start-up)."""
    found = _chosen.get(alias)
    if found is None:
        from django.utils.module_loading import import_string

        vendor = connections[alias].vendor
        try:
            path = _RECORDERS[vendor]
        except KeyError:
            raise RuntimeError(f"the event store has recorders for PostgreSQL and SQLite, not {vendor}") from None
        found = _chosen[alias] = import_string(path)(alias)
    return found
