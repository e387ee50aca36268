"""The one-trip append of migration 0009, leaner on the server (issue 15): two statements where it ran five.

0009's `eventstore_append` took its locks, then read the heads in one statement, checked ids, versions and writers in
a second, and inserted in a third (each one an executor run with its own snapshot, about a third of the server's CPU
for a one-event append). Here the heads, the checks and the insert are one statement: its snapshot is taken after the
locks are held, as before, and the insert's rows are filtered by the verdict (nothing written when it refuses).

The call carries two JSON values instead of seven parameters, four of them arrays that the client built per call:
`expected` ({stream: version, -1 for any}) and `events` (as 0009's; the ids are read from it). What it answers is
unchanged: the heads (kind 1; the head's writer only when it refuses), the ids already stored (kind 2, only when it
refuses) and, when it wrote, one row per event (kind 3).

The locks are the same, in the same order as `eventstore_preflight`'s (streams sorted as text), so a one-trip append
and a two-step append to the same streams never deadlock.
"""

from importlib import import_module

from django.db import migrations

APPEND_0009 = import_module("backoffice.eventstore.migrations.0009_one_trip_append")

APPEND = """
CREATE OR REPLACE FUNCTION eventstore_append(
    lock_key bigint, wait_at_most text, expected jsonb, recorded timestamptz, events jsonb
) RETURNS TABLE (kind integer, key text, id uuid, version bigint, writer bigint) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('lock_timeout', wait_at_most, true);
    PERFORM pg_advisory_xact_lock_shared(lock_key);
    PERFORM pg_advisory_xact_lock(hashtextextended(s.stream, lock_key))
       FROM (SELECT w.stream FROM jsonb_object_keys(expected) AS w(stream) ORDER BY w.stream) AS s;
    -- One statement, one snapshot, taken now that the locks are held.
    RETURN QUERY
        WITH wanted AS MATERIALIZED (
            SELECT w.key AS stream, w.value::integer AS expected, last.version AS head, last.transaction_id AS writer
              FROM jsonb_each(expected) AS w
              LEFT JOIN LATERAL (
                  SELECT k.version, k.transaction_id FROM eventstore_event_key k
                   WHERE k.stream = w.key ORDER BY k.version DESC LIMIT 1
              ) AS last ON true
        ),
        -- An array, not a join: the planner takes any set-returning function for 100 rows and, with the key
        -- table's statistics behind its growth, would hash-join them against a scan of the whole table.
        known AS MATERIALIZED (
            SELECT k.id FROM eventstore_event_key k
             WHERE k.id = ANY(ARRAY(SELECT (e.value ->> 'i')::uuid FROM jsonb_array_elements(events) AS e))
        ),
        -- What sends the append back to the two-step path, nothing written: an id stored already, a stream not at
        -- its expected version, a stream's head written by a younger transaction than this one.
        verdict AS MATERIALIZED (
            SELECT EXISTS (SELECT 1 FROM known)
                   OR EXISTS (SELECT 1 FROM wanted w WHERE w.expected >= 0 AND COALESCE(w.head, 0) <> w.expected)
                   OR COALESCE((SELECT MAX(w.writer) FROM wanted w) > pg_current_xact_id(), false) AS refused
        ),
        written AS (
            INSERT INTO eventstore_event (id, stream, version, type, schema_version, channel, customer_id, occurred_at,
                                          recorded_at, data, metadata, digest)
            SELECT r.i, r.s, COALESCE(w.head, 0) + r.v, r.t, r.sv, r.c, r.cu, r.o, recorded, r.d, r.m, r.g
              FROM jsonb_to_recordset(events) AS r(n integer, i uuid, s text, v integer, t text, sv smallint,
                                                   c text, cu uuid, o timestamptz, d jsonb, m jsonb, g text)
              JOIN wanted w ON w.stream = r.s
             WHERE NOT (SELECT v.refused FROM verdict v)
             ORDER BY r.n
            RETURNING id, position, transaction_id
        )
        SELECT 1, w.stream, NULL::uuid, w.head::bigint,
               CASE WHEN (SELECT v.refused FROM verdict v) THEN w.writer::text::bigint END
          FROM wanted w
        UNION ALL
        SELECT 2, k.id::text, k.id, 0::bigint, 0::bigint FROM known k
        UNION ALL
        SELECT 3, NULL::text, x.id, x.position, x.transaction_id::text::bigint FROM written x;
END $$
"""
DROP = "DROP FUNCTION IF EXISTS eventstore_append(bigint, text, jsonb, timestamptz, jsonb)"




def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_0009.DROP)
        schema_editor.execute(APPEND)


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(APPEND_0009.APPEND)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0009_one_trip_append")]

    operations = [migrations.RunPython(forwards, backwards)]
