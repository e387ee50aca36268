from django.db import migrations

# One round trip for "take the append lock, then tell me the known ids, stream versions and new positions".
# VOLATILE on purpose: PL/pgSQL then takes a fresh snapshot for the query after the lock is granted, so under READ
# COMMITTED it sees every append that committed while this one waited.
CREATE = """
CREATE OR REPLACE FUNCTION eventstore_lock_and_preflight(lock_key bigint, new_rows integer, streams text[], ids uuid[])
RETURNS TABLE (kind integer, name text, value bigint) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN QUERY
        SELECT 0, NULL::text, nextval(pg_get_serial_sequence('eventstore_event', 'position'))
          FROM generate_series(1, new_rows)
        UNION ALL
        SELECT 1, s.name, (SELECT MAX(e.version)::bigint FROM eventstore_event e WHERE e.stream = s.name)
          FROM unnest(streams) AS s(name)
        UNION ALL
        SELECT 2, e.id::text, e.position FROM eventstore_event e WHERE e.id = ANY(ids);
END $$
"""
DROP = "DROP FUNCTION IF EXISTS eventstore_lock_and_preflight(bigint, integer, text[], uuid[])"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0003_verbose_names")]

    operations = [migrations.RunPython(create, drop)]
