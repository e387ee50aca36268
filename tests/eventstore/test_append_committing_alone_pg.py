"""An append outside any transaction, of types no inline projection handles, commits as one statement on PostgreSQL
(store._append_committing_alone): no BEGIN and COMMIT round trips around it. What it cannot write alone (an id
stored, a stale expected version, a type an inline projection handles) is answered by the transactional path, as
before."""

import pytest
from django.db import connection

from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError, IdempotencyConflict
from backoffice.eventstore.models import Event

from .test_projector import ExplodingInline

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _renamed(title: str, **kwargs) -> store.NewEvent:
    # test.renamed_field: no inline projection handles it, no personal fields.
    return store.NewEvent(type="test.renamed_field", data={"title": title}, channel="web", **kwargs)


def _protocol_trace(tmp_path, work) -> str:
    """What libpq sent and received while `work` ran (PQtrace of Django's connection)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    path = tmp_path / "libpq.trace"
    with path.open("w") as trace:
        pgconn.trace(trace.fileno())
        try:
            work()
        finally:
            pgconn.untrace()
    return path.read_text()


def test_an_append_outside_a_transaction_commits_alone_without_begin_or_commit(tmp_path, no_after_commit_hooks):
    recorded: list[store.RecordedEvent] = []

    trace = _protocol_trace(tmp_path, lambda: recorded.extend(store.append("alone-1", [_renamed("a"), _renamed("b")])))

    assert "BEGIN" not in trace
    assert "COMMIT" not in trace
    assert [e.version for e in recorded] == [1, 2]
    assert [(e.id, e.version) for e in store.read_stream("alone-1")] == [(e.id, e.version) for e in recorded]


def test_an_event_resent_outside_a_transaction_is_answered_as_a_duplicate(no_after_commit_hooks):
    first = _renamed("a")
    stored = store.append_batches([store.StreamAppend("alone-2", [first])])[0]

    again = store.append_batches([store.StreamAppend("alone-2", [first])])[0]

    assert (stored.duplicate, again.duplicate) == (False, True)
    assert again.event.position == stored.event.position
    assert Event.objects.filter(stream="alone-2").count() == 1


def test_an_id_resent_with_other_content_outside_a_transaction_is_refused(no_after_commit_hooks):
    first = store.append("alone-3", [_renamed("a")])[0]

    with pytest.raises(IdempotencyConflict):
        store.append("alone-3", [_renamed("other", id=first.id)])

    assert Event.objects.filter(stream="alone-3").count() == 1


def test_a_stale_expected_version_outside_a_transaction_is_refused_with_nothing_written(no_after_commit_hooks):
    store.append("alone-4", [_renamed("a"), _renamed("b")])

    with pytest.raises(ConcurrencyError) as refused:
        store.append("alone-4", [_renamed("c")], expected_version=1)

    assert (refused.value.expected_version, refused.value.actual_version) == (1, 2)
    assert Event.objects.filter(stream="alone-4").count() == 2


def test_an_append_an_inline_projection_handles_keeps_its_transaction(tmp_path, thing, no_after_commit_hooks):
    # ExplodingInline (test_projector) handles test.thing_happened: its failure must take the events with it.
    assert ExplodingInline.name

    trace = _protocol_trace(tmp_path, lambda: store.append("alone-5", [thing("fine")]))
    with pytest.raises(RuntimeError):
        store.append("alone-5", [thing("fine too"), thing("explode")])

    assert "BEGIN" in trace
    assert [e.data["label"] for e in store.read_stream("alone-5")] == ["fine"]
