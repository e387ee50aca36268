"""The partitioned log's DDL on PostgreSQL (migration 0008; docs/eventstore.md, Partitioning).

Functions in the database, so the migration, the beat task and `manage.py eventstore_partitions` create, detach and
re-attach partitions the same way:

- `eventstore_create_partition(month date)`: the partition of that month (bounds in UTC), unless it exists (or is
  archived), with its own TRUNCATE trigger (statement triggers are not inherited; row triggers are). Returns its
  name, or NULL when there was nothing to do.
- `eventstore_detach_partition(month date)`: detaches the month's partition and moves it to the `archive` schema as a
  plain table, still append-only (a row trigger of its own: the parent's clones leave with the detach). Its keys stay
  in `eventstore_event_key`, so its ids and stream versions stay taken.
- `eventstore_attach_partition(month date)`: the reverse, for a rebuild that must read archived months.

Kept here, like triggers.py, so the SQL has one home; the recorder (backends/postgres.py) calls the functions.
"""

from datetime import date
from typing import Final

from django.db import transaction
from django.utils import timezone

ARCHIVE_SCHEMA: Final = "archive"

# No percent signs in these statements: migrations run them through cursors that format parameters.
_NAME: Final = "'eventstore_event_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM')"
_BOUNDS: Final = (
    "(date_trunc('month', month)::timestamp AT TIME ZONE 'UTC'), "
    "((date_trunc('month', month) + interval '1 month')::timestamp AT TIME ZONE 'UTC')"
)

FUNCTIONS: Final = [
    # Keys of every inserted event, in the same statement, whoever inserts: the unique id and (stream, version) of
    # the log, which a partitioned table cannot hold itself.
    """CREATE OR REPLACE FUNCTION eventstore_register_keys() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO eventstore_event_key (id, stream, version, position, recorded_at, transaction_id)
             SELECT id, stream, version, position, recorded_at, transaction_id FROM added;
        RETURN NULL;
    END $$""",  # noqa: S608 - constants only
    """CREATE OR REPLACE TRIGGER eventstore_event_keys AFTER INSERT ON eventstore_event
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION eventstore_register_keys()""",
    f"""CREATE OR REPLACE FUNCTION eventstore_create_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        name text := {_NAME};
        lo timestamptz; hi timestamptz;
    BEGIN
        IF to_regclass(quote_ident(name)) IS NOT NULL
           OR to_regclass(quote_ident('{ARCHIVE_SCHEMA}') || '.' || quote_ident(name)) IS NOT NULL THEN
            RETURN NULL;
        END IF;
        SELECT {_BOUNDS} INTO lo, hi;
        EXECUTE 'CREATE TABLE ' || quote_ident(name) || ' PARTITION OF eventstore_event FOR VALUES FROM ('
                || quote_literal(lo) || ') TO (' || quote_literal(hi) || ')';
        EXECUTE 'CREATE TRIGGER eventstore_event_no_truncate BEFORE TRUNCATE ON ' || quote_ident(name)
                || ' FOR EACH STATEMENT EXECUTE FUNCTION eventstore_refuse_change()';
        RETURN name;
    END $$""",  # noqa: S608 - constants only
    f"""CREATE OR REPLACE FUNCTION eventstore_detach_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        name text := {_NAME};
    BEGIN
        IF to_regclass(quote_ident(name)) IS NULL THEN
            RETURN NULL;
        END IF;
        CREATE SCHEMA IF NOT EXISTS {ARCHIVE_SCHEMA};
        EXECUTE 'ALTER TABLE eventstore_event DETACH PARTITION ' || quote_ident(name);
        EXECUTE 'ALTER TABLE ' || quote_ident(name) || ' SET SCHEMA {ARCHIVE_SCHEMA}';
        EXECUTE 'CREATE TRIGGER eventstore_archive_no_update_delete BEFORE UPDATE OR DELETE ON {ARCHIVE_SCHEMA}.'
                || quote_ident(name) || ' FOR EACH ROW EXECUTE FUNCTION eventstore_refuse_change()';
        RETURN name;
    END $$""",  # noqa: S608 - constants only
    f"""CREATE OR REPLACE FUNCTION eventstore_attach_partition(month date) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        name text := {_NAME};
        lo timestamptz; hi timestamptz;
    BEGIN
        IF to_regclass(quote_ident('{ARCHIVE_SCHEMA}') || '.' || quote_ident(name)) IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT {_BOUNDS} INTO lo, hi;
        EXECUTE 'DROP TRIGGER eventstore_archive_no_update_delete ON {ARCHIVE_SCHEMA}.' || quote_ident(name);
        EXECUTE 'ALTER TABLE {ARCHIVE_SCHEMA}.' || quote_ident(name) || ' SET SCHEMA ' || quote_ident(current_schema());
        EXECUTE 'ALTER TABLE eventstore_event ATTACH PARTITION ' || quote_ident(name) || ' FOR VALUES FROM ('
                || quote_literal(lo) || ') TO (' || quote_literal(hi) || ')';
        RETURN name;
    END $$""",  # noqa: S608 - constants only
]

DROP_FUNCTIONS: Final = [
    "DROP FUNCTION IF EXISTS eventstore_create_partition(date)",
    "DROP FUNCTION IF EXISTS eventstore_detach_partition(date)",
    "DROP FUNCTION IF EXISTS eventstore_attach_partition(date)",
    "DROP FUNCTION IF EXISTS eventstore_register_keys() CASCADE",
]


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partitions_create_ahead(*, ahead: int, today: date | None = None) -> list[str]:
    """The partitions of this month and the `ahead` next ones that do not exist yet (beat runs this daily): an append
    is refused when its month has no partition. Idempotent. Their names."""
    from .backends import recorder

    first = month_start(today or timezone.now().date())
    created = [recorder().create_partition(add_months(first, n)) for n in range(ahead + 1)]
    return [name for name in created if name]


def partitions_detach_before(month: date) -> list[str]:
    """Detach every partition of a month before `month` into the archive schema, in one transaction. Their names."""
    from .backends import recorder

    with transaction.atomic():
        found = [date.fromisoformat(first) for _, first, archived in recorder().partitions() if not archived]
        names = [recorder().detach_partition(one) for one in found if one < month_start(month)]
    return [name for name in names if name]


def partitions_attach_archived() -> list[str]:
    """Attach every archived partition again (before a rebuild that must read the whole history). Their names."""
    from .backends import recorder

    with transaction.atomic():
        found = [date.fromisoformat(first) for _, first, archived in recorder().partitions() if archived]
        names = [recorder().attach_partition(one) for one in found]
    return [name for name in names if name]


def partition_months_ahead(*, today: date | None = None) -> int | None:
    """How many months from this one have their partition, counting on without a gap (1: only this month's; 0: even
    this month's is missing, so every append is refused). None where the log is not partitioned (SQLite). Readiness
    and /metrics show it: an operator learns that beat stopped creating partitions before the month runs out."""
    from .backends import recorder

    if not recorder().has_partitions:
        return None
    present = {date.fromisoformat(first) for _, first, archived in recorder().partitions() if not archived}
    month, ahead = month_start(today or timezone.now().date()), 0
    while month in present:
        ahead, month = ahead + 1, add_months(month, 1)
    return ahead
