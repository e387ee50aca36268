"""Rule 1: events are never updated nor deleted, by the ORM or by raw SQL."""

import pytest
from django.db import DatabaseError, connection, transaction

from backoffice.eventstore import store
from backoffice.eventstore.models import AppendOnlyError, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]


@pytest.fixture
def stored(thing):
    return store.append("thing-1", [thing("kept")])[0]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE eventstore_event SET type = 'test.tampered'",
        "UPDATE eventstore_event SET data = '{}' WHERE position = %s",
        "DELETE FROM eventstore_event",
        "DELETE FROM eventstore_event WHERE position = %s",
    ],
)
def test_raw_sql_cannot_change_or_remove_an_event(stored, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [stored.position] if "%s" in sql else None)

    assert store.read_all()[0] == stored


@pytest.mark.postgres
def test_truncate_is_refused_on_postgresql(stored):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE eventstore_event")

    assert Event.objects.count() == 1


def test_the_model_refuses_updates_and_deletes(stored):
    event = Event.objects.get(position=stored.position)

    for attempt in (
        event.save,
        event.delete,
        Event.objects.all().delete,
        lambda: Event.objects.update(type="x"),
        lambda: Event.objects.bulk_create([event]),
    ):
        with pytest.raises(AppendOnlyError):
            attempt()
    assert Event.objects.get(position=stored.position).type == "test.thing_happened"
