"""Parallel writers (issue 15): every event carries the id of the transaction that wrote it, checkpoints keep it,
and the append no longer takes a global lock (the function of migration 0004 is replaced by eventstore_preflight,
which takes the log lock in shared mode and a lock per stream appended to).

On PostgreSQL the column is `xid8 DEFAULT pg_current_xact_id()`: the rows already stored all get this migration's
transaction id, and so do the checkpoints, so a checkpoint at position P still means "every event up to P". Adding a
column with a volatile default rewrites the table once (a lock on the event table for the length of the rewrite).
On SQLite (one writer) the column is 0 everywhere.
"""

from django.db import migrations, models

import backoffice.eventstore.models

# The append's preflight, one round trip (backends/postgres.py): the transaction's lock_timeout, the shared log lock,
# a lock per stream appended to (in one order), then, with a snapshot taken once they are held (VOLATILE: each query
# of a PL/pgSQL function takes its own), the stored ids and each stream's version and that version's transaction.
PREFLIGHT = """
CREATE OR REPLACE FUNCTION eventstore_preflight(lock_key bigint, wait_at_most text, streams text[], ids uuid[])
RETURNS TABLE (kind integer, key text, version bigint, writer bigint) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('lock_timeout', wait_at_most, true);
    PERFORM pg_advisory_xact_lock_shared(lock_key);
    PERFORM pg_advisory_xact_lock(hashtextextended(s.stream, lock_key))
       FROM (SELECT DISTINCT u.stream FROM unnest(streams) AS u(stream) ORDER BY u.stream) AS s;
    RETURN QUERY
        SELECT 1, s.stream, last.version::bigint, last.transaction_id::text::bigint
          FROM unnest(streams) AS s(stream)
          LEFT JOIN LATERAL (
              SELECT e.version, e.transaction_id FROM eventstore_event e
               WHERE e.stream = s.stream ORDER BY e.version DESC LIMIT 1
          ) AS last ON true
        UNION ALL
        SELECT 2, e.id::text, 0::bigint, 0::bigint FROM eventstore_event e WHERE e.id = ANY(ids);
END $$
"""
PG_ADD = (
    "ALTER TABLE eventstore_event ADD COLUMN transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id()",
    "UPDATE eventstore_projectioncheckpoint SET transaction_id = pg_current_xact_id()::text::bigint",
    "DROP FUNCTION IF EXISTS eventstore_lock_and_preflight(bigint, integer, text[], uuid[])",
    PREFLIGHT,
)
SQLITE_ADD = ("ALTER TABLE eventstore_event ADD COLUMN transaction_id bigint NOT NULL DEFAULT 0",)


def add(apps, schema_editor):
    statements = PG_ADD if schema_editor.connection.vendor == "postgresql" else SQLITE_ADD
    for statement in statements:
        schema_editor.execute(statement)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        schema_editor.execute(import_module("backoffice.eventstore.migrations.0004_preflight_function").CREATE)
        schema_editor.execute("DROP FUNCTION IF EXISTS eventstore_preflight(bigint, text, text[], uuid[])")
    schema_editor.execute("ALTER TABLE eventstore_event DROP COLUMN transaction_id")


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0006_projection_failures")]

    operations = [
        migrations.AddField(
            model_name="projectioncheckpoint", name="transaction_id", field=models.BigIntegerField(default=0)
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="event",
                    name="transaction_id",
                    field=backoffice.eventstore.models.TransactionIdField(default=0, editable=False),
                )
            ],
            database_operations=[migrations.RunPython(add, remove)],
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["transaction_id", "position"], name="eventstore_committed_order"),
        ),
    ]
