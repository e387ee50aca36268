from django.db import migrations

from backoffice.eventstore.triggers import create_statements, drop_statements


def create_triggers(apps, schema_editor):
    for statement in create_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
