"""The append in one round trip on PostgreSQL (migrations 0009, 0010): the common append (new ids, one batch per
stream, no personal fields) is checked and written by one call of eventstore_append; anything else it refuses
unwritten, and the two-step path answers as before."""

import uuid

import pytest
from django.db import connection, transaction

from backoffice.eventstore import store
from backoffice.eventstore.backends import recorder
from backoffice.eventstore.errors import ConcurrencyError
from backoffice.eventstore.models import Event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _one_trip(events: list[store.NewEvent], stream: str, expected: int):
    rows = [
        (e.id, stream, n + 1, e.type, 1, e.channel, None, e.occurred_at, '{"label": "x"}', "{}", "digest")
        for n, e in enumerate(events)
    ]
    return recorder().append({stream: expected}, rows, store.timezone.now())


def test_an_append_in_one_trip_gets_the_versions_and_positions_read_back(thing, no_after_commit_hooks):
    store.append("thing-1", [thing("a")])

    recorded = store.append("thing-1", [thing("b"), thing("c")], expected_version=1)

    assert [(e.version, e.position) for e in recorded] == [
        (e.version, e.position) for e in store.read_stream("thing-1", after_version=1)
    ]
    assert [e.version for e in recorded] == [2, 3]
    assert recorded[0].position < recorded[1].position


def test_several_streams_in_one_trip_each_count_their_versions_from_their_own_head(thing, no_after_commit_hooks):
    store.append("thing-1", [thing("a")])
    store.append("thing-2", [thing("b"), thing("c")])

    results = store.append_batches(
        [
            store.StreamAppend("thing-2", [thing("d")], expected_version=2),
            store.StreamAppend("thing-1", [thing("e"), thing("f")], expected_version=1),
        ]
    )

    assert [(r.event.stream, r.event.version, r.duplicate) for r in results] == [
        ("thing-2", 3, False),
        ("thing-1", 2, False),
        ("thing-1", 3, False),
    ]
    assert [e.data["label"] for e in store.read_stream("thing-1")] == ["a", "e", "f"]
    assert results[0].event.position < results[1].event.position < results[2].event.position


def test_one_stored_id_among_new_ones_sends_the_whole_call_back_unwritten(thing, no_after_commit_hooks):
    stored = store.append("thing-1", [thing("a")])[0]
    again = store.NewEvent(type="test.thing_happened", data={"label": "x"}, id=stored.id, channel="web")

    with transaction.atomic():
        preflight, inserted = _one_trip([thing("new"), again], "thing-2", -1)

    assert inserted is None
    assert preflight.known_ids == {stored.id}
    assert not Event.objects.filter(stream="thing-2").exists()


def test_a_stale_expected_version_comes_back_unwritten_with_the_stream_head(thing, no_after_commit_hooks):
    store.append("thing-1", [thing("a"), thing("b")])

    with transaction.atomic():
        preflight, inserted = _one_trip([thing("c")], "thing-1", 1)

    assert inserted is None
    assert preflight.versions == {"thing-1": 2}
    assert Event.objects.filter(stream="thing-1").count() == 2


def test_a_stored_id_comes_back_unwritten_and_named(thing, no_after_commit_hooks):
    stored = store.append("thing-1", [thing("a")])[0]
    again = store.NewEvent(type="test.thing_happened", data={"label": "x"}, id=stored.id, channel="web")

    with transaction.atomic():
        preflight, inserted = _one_trip([again], "thing-2", -1)

    assert inserted is None
    assert preflight.known_ids == {stored.id}
    assert not Event.objects.filter(stream="thing-2").exists()


def test_an_append_in_a_transaction_older_than_the_stream_head_is_refused(thing, no_after_commit_hooks):
    # An open transaction older than the one that wrote the stream's head cannot go after it in commit order.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")
        _write_head_from_another_connection("thing-3", thing("younger"))
        with pytest.raises(ConcurrencyError):
            store.append("thing-3", [thing("older")], expected_version=store.ANY)
        transaction.set_rollback(True)
    assert [e.data["label"] for e in store.read_stream("thing-3")] == ["younger"]


def _write_head_from_another_connection(stream: str, event: store.NewEvent) -> None:
    import threading

    def write() -> None:
        from django.db import connection as own

        try:
            store.append(stream, [event])
        finally:
            own.close()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(30)


def test_personal_fields_are_sealed_on_the_two_step_path(no_after_commit_hooks):
    customer_id = uuid.uuid4()
    event = store.NewEvent(type="test.secret_noted", data={"note": "secret"}, customer_id=customer_id)

    recorded = store.append(f"secret-{customer_id}", [event])[0]

    stored = Event.objects.get(id=recorded.id)
    assert "note" not in stored.data
    assert store.read_stream(f"secret-{customer_id}")[0].data["note"] == "secret"
