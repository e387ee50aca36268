"""Contract of the event store: positions, versions, optimistic concurrency, idempotency, validation."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError, EventValidationError, IdempotencyConflict
from backoffice.eventstore.models import Event
from backoffice.eventstore.store import NO_STREAM, NewEvent, StreamAppend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]


def test_append_assigns_increasing_positions_and_stream_versions(thing):
    first = store.append("thing-1", [thing("a"), thing("b")], expected_version=NO_STREAM)
    other = store.append("thing-2", [thing("c")])
    third = store.append("thing-1", [thing("d")], expected_version=2)

    assert [e.version for e in first] == [1, 2]
    assert other[0].version == 1
    assert third[0].version == 3
    positions = [e.position for e in [*first, *other, *third]]
    assert positions == sorted(positions)
    assert len(set(positions)) == 4
    assert [e.data["label"] for e in store.read_stream("thing-1")] == ["a", "b", "d"]


def test_append_with_a_stale_expected_version_is_refused_and_writes_nothing(thing):
    store.append("thing-1", [thing("a")], expected_version=NO_STREAM)
    store.append("thing-1", [thing("b")], expected_version=1)

    with pytest.raises(ConcurrencyError) as refused:
        store.append("thing-1", [thing("late writer")], expected_version=1)

    assert (refused.value.expected_version, refused.value.actual_version) == (1, 2)
    assert Event.objects.count() == 2


def test_no_stream_is_refused_when_the_stream_exists(thing):
    store.append("thing-1", [thing()])

    with pytest.raises(ConcurrencyError):
        store.append("thing-1", [thing()], expected_version=NO_STREAM)


def test_expected_versions_of_one_call_count_the_events_before_them(thing):
    store.append_batches(
        [
            StreamAppend("cart-1", [thing("a")], expected_version=0),
            StreamAppend("cart-1", [thing("b")], expected_version=1),
        ]
    )

    with pytest.raises(ConcurrencyError):
        store.append_batches(
            [StreamAppend("cart-1", [thing("c")], expected_version=2), StreamAppend("cart-1", [thing("d")], 2)]
        )
    assert store.stream_version("cart-1") == 2


def test_resending_an_event_returns_the_stored_result_and_writes_nothing(thing):
    event = thing("once")
    stored = store.append("thing-1", [event])[0]

    again = store.append_batches([StreamAppend("thing-1", [event], expected_version=NO_STREAM)])

    assert again[0].duplicate is True
    assert again[0].event.position == stored.position
    assert Event.objects.count() == 1


def test_an_id_reused_for_other_content_is_a_conflict_and_writes_nothing(thing):
    event_id = uuid.uuid4()
    store.append("thing-1", [thing("original", id=event_id)])

    with pytest.raises(IdempotencyConflict) as refused:
        store.append_batches(
            [StreamAppend("thing-2", [thing("fresh")]), StreamAppend("thing-1", [thing("x", id=event_id)])]
        )

    assert refused.value.event_ids == [str(event_id)]
    assert Event.objects.count() == 1


def test_the_same_id_twice_in_one_call_is_stored_once(thing):
    event = thing("twice")

    results = store.append_batches([StreamAppend("thing-1", [event]), StreamAppend("thing-1", [event])])

    assert [r.duplicate for r in results] == [False, True]
    assert results[0].event.position == results[1].event.position
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        (NewEvent(type="test.no_such_type", data={}), "type", "unknown_type"),
        (NewEvent(type="test.thing_happened", data={"label": 3}), "data.label", "string_type"),
        (NewEvent(type="test.thing_happened", data={}), "data.label", "missing"),
        (NewEvent(type="test.thing_happened", data={"label": "x", "extra": 1}), "data.extra", "extra_forbidden"),
        (NewEvent(type="test.thing_happened", data={"label": "x"}, channel="fax"), "channel", "unknown_channel"),
        (
            NewEvent(type="test.thing_happened", data={"label": "x"}, occurred_at=datetime(2026, 1, 1)),  # noqa: DTZ001
            "occurred_at",
            "naive_datetime",
        ),
        (
            NewEvent(type="test.thing_happened", data={"label": "x"}, occurred_at=timezone.now() + timedelta(days=1)),
            "occurred_at",
            "future_datetime",
        ),
        (NewEvent(type="test.secret_noted", data={"note": "hola"}), "customer", "customer_required"),
        (NewEvent(type="test.thing_happened", data={"label": "x", "amount": 2**64}), "data.amount", "out_of_range"),
        (
            NewEvent(type="test.thing_happened", data={"label": "x", "amount": -(2**63) - 1}),
            "data.amount",
            "out_of_range",
        ),
    ],
)
def test_an_invalid_event_is_refused_with_its_reason_and_nothing_is_written(thing, event, field, code):
    with pytest.raises(EventValidationError) as refused:
        store.append_batches([StreamAppend("thing-1", [thing("valid")]), StreamAppend("thing-1", [event])])

    assert [(e.index, e.field, e.code) for e in refused.value.errors] == [(1, field, code)]
    assert Event.objects.count() == 0


def test_an_event_over_the_size_limit_is_refused(settings, thing):
    settings.EVENTSTORE_MAX_EVENT_BYTES = 1024

    with pytest.raises(EventValidationError) as refused:
        store.append(
            "thing-1", [NewEvent(type="test.secret_noted", data={"note": "x" * 2000}, customer_id=uuid.uuid4())]
        )

    assert refused.value.errors[0].code == "too_large"
    assert Event.objects.count() == 0


def test_events_read_back_with_what_was_appended(thing):
    customer_id = uuid.uuid4()
    occurred = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    appended = store.append(
        "thing-1", [thing("read me", customer_id=customer_id, occurred_at=occurred, metadata={"actor": "test"})]
    )[0]

    read = store.read_all(after=0)[0]

    assert read == appended
    assert (read.customer_id, read.occurred_at, read.metadata, read.channel) == (
        customer_id,
        occurred,
        {"actor": "test"},
        "web",
    )


def test_read_all_starts_after_the_given_position(thing):
    events = store.append("thing-1", [thing(str(n)) for n in range(5)])

    later = store.read_all(after=events[1].position, limit=2)

    assert [e.data["label"] for e in later] == ["2", "3"]


def test_a_committed_read_above_a_position_keeps_the_safe_order_and_the_type_filter(thing):
    events = store.append("thing-1", [thing("a"), thing("b"), thing("c")])
    store.append("secret-1", [NewEvent("test.secret_noted", {"note": "x"}, channel="web", customer_id=uuid.uuid4())])

    above = store.read_committed(above=events[0].position)
    typed = store.read_committed(above=events[0].position, types=["test.thing_happened"], limit=1)

    assert [e.type for e in above] == ["test.thing_happened", "test.thing_happened", "test.secret_noted"]
    assert [e.data.get("label") for e in above[:2]] == ["b", "c"]
    assert [e.data["label"] for e in typed] == ["b"]
    # From a checkpoint inside what is above the floor, both hold.
    after_b = (above[0].transaction_id, above[0].position)
    assert [
        e.data["label"]
        for e in store.read_committed(after=after_b, above=events[0].position, types=["test.thing_happened"])
    ] == ["c"]
