"""The journeys' run rows are read and written in batches through the ORM and the event store's read-model writer,
with no SQL of their own: every column comes back as it went in, on SQLite and on PostgreSQL (the suite's two runs)."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.journeys.models import JourneyStatus
from campaigns.journeys.runs import COLUMNS, RunRow, runs_by_id, runs_insert, runs_of_people, runs_take_due, runs_update

from .conftest import publish, template

pytestmark = pytest.mark.django_db


def _row(run: RunRow) -> tuple:
    return tuple(getattr(run, name) for name in COLUMNS)


def _new_run(journey, now, **values) -> RunRow:
    return RunRow(
        id=uuid.uuid4(),
        journey_id=journey.id,
        version=journey.version,
        customer_id=uuid.uuid4(),
        entered_at=now,
        updated_at=now,
        **{"entry": 1, **values},
    )


def test_runs_written_in_a_batch_read_back_column_for_column():
    journey = publish(template("abandoned_cart"))
    now = timezone.now().replace(microsecond=0)
    first = _new_run(
        journey,
        now,
        due_at=now - timedelta(minutes=1),
        trigger_position=41,
        path=[["send-1", "sent", now.isoformat()]],
    )
    second = _new_run(journey, now, entry=2, is_holdout=True)

    runs_insert([first, second])

    stored = runs_by_id([first.id, second.id])
    assert {run_id: _row(run) for run_id, run in stored.items()} == {first.id: _row(first), second.id: _row(second)}
    assert [run.id for run in runs_of_people([second.customer_id], [journey.id])] == [second.id]

    first.status, first.revenue, first.finished_at = "done", Decimal("12.50"), now
    first.path = [*first.path, ["wait-1", "done", now.isoformat()]]
    runs_update([first], ("status", "revenue", "finished_at", "path"))

    assert _row(runs_by_id([first.id])[first.id]) == _row(first)
    assert _row(runs_by_id([second.id])[second.id]) == _row(second)


def test_only_due_runs_of_live_journeys_are_taken():
    journey = publish(template("abandoned_cart"))
    now = timezone.now()
    due = _new_run(journey, now, due_at=now - timedelta(minutes=1))
    later = _new_run(journey, now, due_at=now + timedelta(minutes=5))
    runs_insert([due, later])

    assert [run.id for run in runs_take_due(now=now, limit=10)] == [due.id]
    type(journey).objects.filter(pk=journey.id).update(status=JourneyStatus.PAUSED)
    assert runs_take_due(now=now, limit=10) == []


def test_the_goal_reached_after_a_merge_ends_the_run_the_person_entered_under_their_other_profile(person):
    """A run goes on under the profile that entered it; after a merge the person's events are recorded under the
    survivor, and they still take the person out at the goal (no message after it)."""
    from backoffice.messaging.models import OutboundMessage
    from customers import services as customer_services

    from .conftest import advance, emit, page_viewed, publish, run_of

    ana, ana_shop = person(), person()  # the younger profile is merged into ana
    journey = publish(
        {
            "trigger": {"kind": "event", "event": "page.viewed"},
            "goal": {"event": "product.viewed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {
                    "id": "s",
                    "kind": "send",
                    "channel": "email",
                    "variants": {"email": {"subject": "Hola", "body": "x"}},
                },
            ],
        }
    )
    page_viewed(ana_shop)
    customer_services.customer_merge(customer_ids=(ana, ana_shop), actor="test")
    emit(ana, "product.viewed", {"sku": "X"}, channel="store")
    advance(hours=2)

    run = run_of(journey, ana_shop)
    assert (run.status, run.exit_reason) == ("exited", "goal")
    assert not OutboundMessage.objects.exists()
