"""The partitioned log on PostgreSQL (issue 15 part 4, migration 0008): appends, reads and a rebuild across a
month boundary; the unique id and (stream, version) across partitions; partitions created ahead by the beat task;
old months detached into the archive schema and attached again for a rebuild that sees every event."""

import io
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from backoffice.eventstore import partitioning, store
from backoffice.eventstore.backends import recorder
from backoffice.eventstore.errors import ConcurrencyError
from backoffice.eventstore.tasks import create_partitions_ahead_task

from .test_projector import RecordingAsync, seen_by_async

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_after_commit_hooks"),
]


def this_month() -> date:
    """Read when a test runs, not when the module is imported: a run that started before midnight UTC on a month's last
    day and reached these tests after it named last month's partition as this month's."""
    return partitioning.month_start(datetime.now(UTC).date())


def last_month_start() -> date:
    return partitioning.add_months(this_month(), -1)


@pytest.fixture
def last_month(monkeypatch):
    """A clock in the middle of last month (its partition created), to append there; `.stop()` brings today back.
    Archived partitions are attached again after the test, so the harness's flush empties them."""
    recorder().create_partition(last_month_start())
    real_now = timezone.now
    then = datetime.combine(last_month_start(), datetime.min.time(), tzinfo=UTC) + timedelta(days=14)

    class Clock:
        def stop(self):
            monkeypatch.setattr(timezone, "now", real_now)

    monkeypatch.setattr(timezone, "now", lambda: then)
    yield Clock()
    monkeypatch.setattr(timezone, "now", real_now)
    partitioning.partitions_attach_archived()


def _partition_of(position: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM eventstore_event WHERE position = %s", [position])
        return cursor.fetchone()[0]


def _partition_name(month: date) -> str:
    return f"eventstore_event_y{month:%Y}m{month:%m}"


def _thing(label: str, customer: uuid.UUID | None = None) -> store.NewEvent:
    return store.NewEvent(type="test.thing_happened", data={"label": label}, channel="web", customer_id=customer)


def test_appends_reads_and_a_rebuild_across_a_partition_boundary(last_month):
    customer = uuid.uuid4()
    old = store.append("thing-span", [_thing("a", customer), _thing("b", customer)], expected_version=0)
    last_month.stop()
    new = store.append("thing-span", [_thing("c", customer), _thing("d", customer)], expected_version=2)
    positions = [e.position for e in old + new]

    assert {_partition_of(p) for p in positions[:2]} == {_partition_name(last_month_start())}
    assert {_partition_of(p) for p in positions[2:]} == {_partition_name(this_month())}
    assert [e.version for e in store.read_stream("thing-span")] == [1, 2, 3, 4]
    assert [e.position for e in store.read_all(after=0)] == positions
    assert [e.position for e in store.read_committed(after=(0, 0))] == positions
    assert [e.position for e in store.read_customer(customer)] == positions
    assert [e.position for e in store.read_customer_page(customer, limit=3)] == positions[::-1][:3]
    assert store.stored_events([old[0].id])[old[0].id][1].position == positions[0]
    assert store.head_position() == positions[-1]

    call_command("rebuild_projections", RecordingAsync.name, verbosity=0)

    assert seen_by_async == positions


def test_a_second_id_is_refused_across_partitions(last_month):
    first = store.append("thing-a", [_thing("a")])[0]
    last_month.stop()

    # Resent through the store: the stored event, not a second row.
    again = store.append_batches([store.StreamAppend("thing-a", [store.NewEvent(**_new_fields(first))])])
    assert again[0].duplicate
    assert again[0].event.position == first.position
    # Written around the store, into this month's partition: the database refuses it.
    with pytest.raises(IntegrityError, match="eventstore_event_key_pkey"), transaction.atomic():
        _insert_raw(first.id, "thing-other", 1)


def test_a_second_stream_version_is_refused_across_partitions(last_month):
    store.append("thing-b", [_thing("a")])
    last_month.stop()

    with pytest.raises(IntegrityError, match="eventstore_key_stream_version_uniq"), transaction.atomic():
        _insert_raw(uuid.uuid4(), "thing-b", 1)
    assert [e.version for e in store.read_stream("thing-b")] == [1]


def _new_fields(event: store.RecordedEvent) -> dict:
    return {
        "type": event.type,
        "data": event.data,
        "id": event.id,
        "channel": event.channel,
        "customer_id": event.customer_id,
        "occurred_at": None,
    }


def _insert_raw(event_id: uuid.UUID, stream: str, version: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventstore_event (id, stream, version, type, schema_version, occurred_at, recorded_at, data,"
            " metadata, digest) VALUES (%s, %s, %s, 'test.thing_happened', 1, now(), now(), '{}', '{}', 'x')",
            [event_id, stream, version],
        )


def test_the_beat_task_creates_partitions_ahead():
    ahead = partitioning.add_months(this_month(), 5)
    name = f"eventstore_event_y{ahead:%Y}m{ahead:%m}"
    assert name not in {n for n, _, _ in recorder().partitions()}

    created = create_partitions_ahead_task.apply(args=(5,)).result

    assert name in created
    assert name in {n for n, _, _ in recorder().partitions()}
    assert create_partitions_ahead_task.apply(args=(5,)).result == []  # idempotent


def test_an_archived_month_is_kept_append_only_and_a_rebuild_reads_it_once_attached(last_month):
    old = store.append("thing-old", [_thing("a"), _thing("b")])
    last_month.stop()
    new = store.append("thing-new", [_thing("c")])
    archived_name = _partition_name(last_month_start())

    call_command("eventstore_partitions", detach_before=f"{this_month():%Y-%m}", stdout=io.StringIO())

    assert (archived_name, f"{last_month_start()}", True) in recorder().partitions()
    assert [e.position for e in store.read_all(after=0)] == [new[0].position]
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {partitioning.ARCHIVE_SCHEMA}.{archived_name}")
    # Its ids stay taken while it is archived: a resend is refused (409), never written a second time.
    with pytest.raises(ConcurrencyError):
        store.append_batches([store.StreamAppend("thing-old", [store.NewEvent(**_new_fields(old[0]))])])

    call_command("eventstore_partitions", attach_archived=True, stdout=io.StringIO())
    call_command("rebuild_projections", RecordingAsync.name, verbosity=0)

    assert seen_by_async == [e.position for e in old + new]
    assert (archived_name, f"{last_month_start()}", False) in recorder().partitions()


def test_update_delete_and_truncate_are_refused_on_every_partition(last_month):
    store.append("thing-c", [_thing("a")])
    last_month.stop()
    store.append("thing-c", [_thing("b")])
    holding = {_partition_of(e.position) for e in store.read_all(after=0)}
    assert len(holding) == 2
    for name, _, _ in recorder().partitions():
        row_statements = (f"UPDATE {name} SET type = 'x'", f"DELETE FROM {name}") if name in holding else ()
        for sql in (*row_statements, f"TRUNCATE {name}"):
            with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)


def test_readiness_and_metrics_say_how_many_months_ahead_have_their_partition(client, monkeypatch):
    partitioning.partitions_create_ahead(ahead=2)
    assert partitioning.partition_months_ahead() >= 3
    assert client.get("/health/ready/").status_code == 200

    # Years later, with beat stopped all along: this month has no partition, every append would be refused.
    later = datetime.combine(partitioning.add_months(this_month(), 60), datetime.min.time(), tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert partitioning.partition_months_ahead() == 0
    answer = client.get("/health/ready/")
    assert answer.status_code == 503
    assert answer.json()["checks"]["event_log_partition"] == "missing"
    assert answer.json()["down"] == ["event_log_partition"]
