import unicodedata

from django.db import migrations, models

BATCH = 1000


def name_search_key(text: str) -> str:
    """customers.projections.name_search_key as it was when this migration was written (a migration keeps its own
    copy: the app's may change later)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


def backfill(apps, schema_editor):
    """The search key of every name already projected; the directory projection writes it from now on (and a
    rebuild of it writes it from the log)."""
    Customer = apps.get_model("customers", "Customer")
    named = Customer.objects.using(schema_editor.connection.alias).exclude(display_name="").only("id", "display_name")
    changed = []
    for customer in named.iterator(chunk_size=BATCH):
        customer.search_name = name_search_key(customer.display_name)
        changed.append(customer)
        if len(changed) == BATCH:
            Customer.objects.using(schema_editor.connection.alias).bulk_update(changed, ["search_name"])
            changed = []
    if changed:
        Customer.objects.using(schema_editor.connection.alias).bulk_update(changed, ["search_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_customer_birthday"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="search_name",
            field=models.TextField(blank=True, default="", editable=False, verbose_name="name for search"),
        ),
        # Backwards: the column goes with the field, nothing to undo.
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
