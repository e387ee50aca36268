"""The event type keeps one btree index, without PostgreSQL's LIKE companion (varchar_pattern_ops) that
db_index=True builds: reads filter on exact types, and every append paid for a write to it.

By hand rather than AlterField: on SQLite, AlterField remakes the table, which would drop the append-only
triggers of migration 0002 with the old table. Here only indexes change, on both databases.
"""

from django.db import migrations, models

OLD_INDEX = "eventstore_event_type_40f2d6a2"  # the name Django gave the db_index=True index (both databases)


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}_like")
        cursor.execute(f"DROP INDEX IF EXISTS {OLD_INDEX}")
        cursor.execute("CREATE INDEX IF NOT EXISTS eventstore_type ON eventstore_event (type)")


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS eventstore_type")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON eventstore_event (type)")
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {OLD_INDEX}_like ON eventstore_event (type varchar_pattern_ops)"
            )


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_preflight_function")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(model_name="event", name="type", field=models.CharField(max_length=100)),
                migrations.AddIndex(model_name="event", index=models.Index(fields=["type"], name="eventstore_type")),
            ],
        )
    ]
