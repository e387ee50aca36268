"""Parallel writers on PostgreSQL (issue 15): no global append lock, yet a tailing reader never skips nor repeats an
event, one event id sent twice at once is written once, and two appends at one stream version have one winner
(409 through the API for the other)."""

import multiprocessing
import threading
import time
import uuid
from collections import Counter

import pytest
from django.db import close_old_connections, connection, connections, transaction

from backoffice.eventstore import projector, store
from backoffice.eventstore.errors import ConcurrencyError, IdempotencyConflict
from backoffice.eventstore.models import Event
from tests.concurrency import at_once
from tests.factories import interaction

from .test_projector import RecordingAsync, seen_by_async

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES, THREADS, COMMANDS = 4, 8, 15


def _thing(label: str) -> store.NewEvent:
    return store.NewEvent(type="test.thing_happened", data={"label": label}, channel="web")


def _writer_process(index: int, start, done) -> None:
    """THREADS writers, each its own connection: COMMANDS commands of 1-3 events, on streams shared with the other
    processes' writers, some held open a little (a command with projections), some with an expected version."""
    errors: list[str] = []

    def writer(thread: int) -> None:
        close_old_connections()
        try:
            start.wait(30)
            for n in range(COMMANDS):
                # Mostly a stream of the writer's own, some shared with writers of the other processes.
                stream = f"thing-{(index + thread + n) % 6}" if n % 3 == 2 else f"thing-{index}-{thread}"
                events = [_thing(f"{index}-{thread}-{n}-{k}") for k in range(1 + n % 3)]
                for _attempt in range(100):  # a command that the store refuses runs again, on fresh data
                    try:
                        with transaction.atomic():
                            if n % 3 == 2 and n % 2:
                                store.append(stream, events, expected_version=store.stream_version(stream))
                            else:
                                store.append(stream, events)
                            if n % 2:
                                time.sleep(0.02)
                        break
                    except ConcurrencyError:
                        continue
                else:
                    errors.append(f"{index}-{thread}-{n} never written")
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    done.put((index, errors))


def test_32_writers_in_4_processes_and_a_tailing_reader_skip_nothing_and_repeat_nothing(no_after_commit_hooks):
    seen_by_async.clear()
    projector.catch_up(RecordingAsync.name)
    context = multiprocessing.get_context("fork")
    start, done = context.Event(), context.Queue()
    connections.close_all()  # each child opens its own connections
    children = [context.Process(target=_writer_process, args=(i, start, done)) for i in range(PROCESSES)]
    for child in children:
        child.start()

    finished = []
    reads = 0
    start.set()
    while len(finished) < PROCESSES:
        reads += 1
        projector.catch_up(RecordingAsync.name, max_batches=1)  # one read to the head, one checkpoint
        while not done.empty():
            finished.append(done.get())
    for child in children:
        child.join(60)
    deadline = time.monotonic() + 30
    appended = [e for e in store.read_all(limit=100_000) if e.type == "test.thing_happened"]
    while len(seen_by_async) < len(appended) and time.monotonic() < deadline:
        projector.catch_up(RecordingAsync.name)

    assert [errors for _, errors in finished] == [[]] * PROCESSES
    assert reads > 5, "the reader did not run while the writers did"
    expected = sum(1 + n % 3 for n in range(COMMANDS)) * PROCESSES * THREADS
    assert len(appended) == expected
    assert Counter(seen_by_async).most_common(1)[0][1] == 1, "an event was applied twice"
    assert sorted(seen_by_async) == sorted(e.position for e in appended), "the reader skipped events"
    version_of = {e.position: (e.stream, e.version) for e in appended}
    for stream in {e.stream for e in appended}:
        versions = [version_of[p][1] for p in seen_by_async if version_of[p][0] == stream]
        assert versions == list(range(1, len(versions) + 1)), f"{stream} was not applied in version order"


def _at_once(*calls):
    return at_once(*calls, timeout=60)


def _append_held_open(stream, event, **kwargs):
    """Append in a transaction that stays open a moment after it: the other caller's insert meets it in flight."""

    def call():
        with transaction.atomic():
            result = store.append_batches([store.StreamAppend(stream, [event], **kwargs)])
            time.sleep(0.3)
        return result[0]

    return call


def test_the_same_event_id_sent_twice_at_once_is_written_once_and_both_get_the_stored_event(no_after_commit_hooks):
    event = _thing("sent twice")

    first, second = _at_once(_append_held_open("thing-twice", event), _append_held_open("thing-twice", event))

    assert Event.objects.filter(id=event.id).count() == 1
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    assert first.event == second.event
    assert [e.id for e in store.read_stream("thing-twice")] == [event.id]


def test_the_same_event_id_sent_at_once_with_other_content_is_refused_for_the_second(no_after_commit_hooks):
    event_id = uuid.uuid4()
    one = store.NewEvent(type="test.thing_happened", data={"label": "one"}, id=event_id, channel="web")
    other = store.NewEvent(type="test.thing_happened", data={"label": "other"}, id=event_id, channel="web")

    results = _at_once(_append_held_open("thing-a", one), _append_held_open("thing-a", other))

    assert sorted(type(r).__name__ for r in results) == ["AppendResult", "IdempotencyConflict"]
    conflict = next(r for r in results if isinstance(r, IdempotencyConflict))
    assert conflict.event_ids == [str(event_id)]
    assert Event.objects.filter(id=event_id).count() == 1


def test_two_appends_at_one_stream_version_one_wins_the_other_gets_a_concurrency_error(no_after_commit_hooks):
    store.append("thing-v", [_thing("first")])

    results = _at_once(
        _append_held_open("thing-v", _thing("a"), expected_version=1),
        _append_held_open("thing-v", _thing("b"), expected_version=1),
    )

    assert sorted(type(r).__name__ for r in results) == ["AppendResult", "ConcurrencyError"]
    error = next(r for r in results if isinstance(r, ConcurrencyError))
    assert (error.stream, error.expected_version, error.actual_version) == ("thing-v", 1, 2)
    assert [e.version for e in store.read_stream("thing-v")] == [1, 2]


def test_two_posts_at_one_stream_version_one_is_stored_the_other_is_a_409(api_client_for, no_after_commit_hooks):
    client = api_client_for("integration")
    assert client.post("/api/v1/events", interaction(expected_version=0), format="json").status_code == 201

    def post(channel):
        def call():
            body = interaction(id=str(uuid.uuid4()), channel=channel, expected_version=1)
            with transaction.atomic():  # held open after the request: the other request meets it in flight
                response = client.post("/api/v1/events", body, format="json")
                time.sleep(0.3)
            return response

        return call

    responses = _at_once(post("web"), post("app"))

    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    body = next(r for r in responses if r.status_code == 409).json()
    assert body["type"].endswith("/concurrency_conflict")
    assert (body["stream"], body["expected_version"], body["actual_version"]) == ("cart-c-881", 1, 2)
    assert [e.version for e in store.read_stream("cart-c-881")] == [1, 2]


def test_appends_go_on_while_an_async_projection_is_rebuilt_and_the_next_catch_up_skips_nothing(
    no_after_commit_hooks,
):
    store.append_batches([store.StreamAppend(f"thing-old-{n}", [_thing(f"old-{n}")]) for n in range(600)])
    projector.catch_up(RecordingAsync.name)
    stop = threading.Event()
    committed_at: list[float] = []

    def writer(n):
        close_old_connections()
        try:
            i = 0
            while not stop.is_set():
                store.append(f"thing-live-{n}", [_thing(f"live-{n}-{i}")])
                committed_at.append(time.monotonic())
                i += 1
        finally:
            connection.close()

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in writers:
        t.start()
    time.sleep(0.2)
    started = time.monotonic()
    replayed = projector.rebuild([RecordingAsync.name], batch_size=20)
    finished = time.monotonic()
    time.sleep(0.2)
    stop.set()
    for t in writers:
        t.join(30)
    projector.catch_up(RecordingAsync.name)

    assert replayed[RecordingAsync.name] >= 600
    assert any(started < at < finished for at in committed_at), "appends waited for the rebuild"
    appended = [e.position for e in store.read_all(limit=100_000) if e.type == "test.thing_happened"]
    assert Counter(seen_by_async).most_common(1)[0][1] == 1, "an event was applied twice"
    assert sorted(seen_by_async) == appended, "an event committed during the rebuild was skipped"
