"""Journeys, their versions, every person's run and the tags journeys put on people, as projections of the journey
events. INLINE: the services read them back in the same transaction (a run's step and due time are the step workers'
queue, the journey's status guards every command). Every value comes from an event, so a rebuild reproduces every
person's position (and when they move on).
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from backoffice.eventstore.projector import INLINE, Projection, type_names
from backoffice.eventstore.store import RecordedEvent

from . import events as journey_events
from .models import CustomerTag, Journey, JourneyRun, JourneyStatus, JourneyVersion, RunStatus
from .runs import RunRow, runs_by_id, runs_insert, runs_update

PLAN_TYPES = type_names(
    journey_events.JourneyCreated,
    journey_events.JourneyChanged,
    journey_events.JourneyPublished,
    journey_events.JourneyPaused,
    journey_events.JourneyResumed,
)
RUN_TYPES = type_names(
    journey_events.JourneyEntered,
    journey_events.JourneyStepCompleted,
    journey_events.JourneyStepFailed,
    journey_events.JourneyExited,
    journey_events.JourneyConverted,
)
RUN_FIELDS = (
    "status",
    "step",
    "phase",
    "due_at",
    "awaiting",
    "last_message_id",
    "updated_at",
    "finished_at",
    "exit_reason",
    "converted_at",
    "revenue",
    "path",
)
PLAN_FIELDS = ("name", "objective", "kpi", "holdout_share", "attribution_days", "definition")


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class Journeys(Projection):
    name = "campaigns.journeys"
    mode = INLINE
    models = (CustomerTag, JourneyRun, JourneyVersion, Journey)
    event_types = (*PLAN_TYPES, *RUN_TYPES)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        # A batch of steps is hundreds of runs: read them at once, move them in memory, write them at once.
        wanted = [
            uuid.UUID(str(e.data["run_id"]))
            for e in events
            if e.type in RUN_TYPES and e.type != journey_events.JourneyEntered.type_name
        ]
        runs = runs_by_id(wanted)
        new: dict[uuid.UUID, RunRow] = {}
        moved: set[uuid.UUID] = set()
        for event in events:
            if event.type in PLAN_TYPES:
                _plan(event)
            elif event.type == journey_events.JourneyEntered.type_name:
                run = _entered(event)
                runs[run.id] = new[run.id] = run
            else:
                run_id = uuid.UUID(str(event.data["run_id"]))
                _run(runs[run_id], event)
                if run_id not in new:
                    moved.add(run_id)
        runs_insert(list(new.values()))
        runs_update([runs[run_id] for run_id in moved], RUN_FIELDS)


def _plan(event: RecordedEvent) -> None:
    data = event.data
    journey_id = uuid.UUID(str(data["journey_id"]))
    if event.type == journey_events.JourneyCreated.type_name:
        Journey.objects.create(
            id=journey_id,
            created_by=data.get("created_by", ""),
            template=data.get("template", ""),
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
            **{name: data[name] for name in PLAN_FIELDS if name in data},
        )
        return
    journey = Journey.objects.get(pk=journey_id)
    journey.updated_at = event.occurred_at
    if event.type == journey_events.JourneyChanged.type_name:
        for name in PLAN_FIELDS:
            if name in data:
                setattr(journey, name, data[name])
    elif event.type == journey_events.JourneyPublished.type_name:
        JourneyVersion.objects.create(
            journey=journey,
            version=data["version"],
            definition=data["definition"],
            holdout_share=Decimal(str(data["holdout_share"])),
            attribution_days=data["attribution_days"],
            published_by=data["published_by"],
            published_at=event.occurred_at,
        )
        journey.version = data["version"]
        journey.status = JourneyStatus.LIVE
        journey.live_since_position = event.position
    elif event.type == journey_events.JourneyPaused.type_name:
        journey.status = JourneyStatus.PAUSED
    elif event.type == journey_events.JourneyResumed.type_name:
        journey.status = JourneyStatus.LIVE
        journey.live_since_position = event.position
    journey.save()


def _entered(e: RecordedEvent) -> RunRow:
    return RunRow(
        id=uuid.UUID(str(e.data["run_id"])),
        journey_id=uuid.UUID(str(e.data["journey_id"])),
        version=e.data["version"],
        customer_id=e.customer_id,
        entry=e.data["entry"],
        is_holdout=e.data.get("is_holdout", False),
        status=RunStatus.ACTIVE,
        step=e.data.get("step", ""),
        due_at=_time(e.data.get("due_at")),
        awaiting=e.data.get("awaiting", ""),
        trigger_position=e.data.get("trigger_position"),
        entered_at=e.occurred_at,
        updated_at=e.occurred_at,
    )


def _run(run: RunRow, event: RecordedEvent) -> None:
    data = event.data
    run.updated_at = event.occurred_at
    if event.type == journey_events.JourneyStepCompleted.type_name:
        run.path = [*run.path, [data["step"], data["outcome"], event.occurred_at.isoformat()]]
        run.step, run.phase = data.get("next_step", ""), data.get("phase", "")
        run.due_at, run.awaiting = _time(data.get("due_at")), data.get("awaiting", "")
        if data.get("message_id"):
            run.last_message_id = data["message_id"]
        if data.get("kind") == "tag" and data.get("tag"):
            CustomerTag.objects.get_or_create(
                customer_id=run.customer_id,
                tag=data["tag"],
                defaults={"tagged_at": event.occurred_at, "journey_id": run.journey_id},
            )
    elif event.type == journey_events.JourneyStepFailed.type_name:
        run.due_at = _time(data["due_at"])  # where it is, tried again then
    elif event.type == journey_events.JourneyExited.type_name:
        run.status = RunStatus.EXITED if data["reason"] == "goal" else RunStatus.DONE
        run.finished_at, run.exit_reason = event.occurred_at, data["reason"]
        run.due_at, run.awaiting = None, ""
        if data["reason"] == "goal" and data.get("is_conversion", True):
            run.converted_at, run.revenue = event.occurred_at, Decimal(str(data.get("revenue", 0)))
    elif event.type == journey_events.JourneyConverted.type_name:
        run.converted_at, run.revenue = event.occurred_at, Decimal(str(data.get("revenue", 0)))
