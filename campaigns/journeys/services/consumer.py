"""The journeys' process manager: reads the log in order from its cursor and, for each event about a person,
- takes them out of every journey whose goal it is in the version they entered (journey.exited, reason goal: a
  conversion within that version's attribution window, not after it), or records the conversion of a run that ended
  within the attribution window (journey.converted);
- moves on the runs waiting for it (journey.step_completed of the wait_event step, outcome "event");
- enters them into every live journey it triggers (journey.entered), by the re-entry rules and the cap, the holdout
  drawn by a hash of journey and person;
- on a merge of two profiles (customer.merged), ends the merged profile's run of a journey the survivor is already
  in (journey.exited, reason merged): one person, one run at a time. A run only the merged profile had goes on.

The events it appends and its cursor move in one transaction per batch, so a crash repeats nothing and skips
nothing (a catch-up reader of the store never sees a position below one it has seen). Triggers recorded before the
journey went live (or while it was paused) enter nobody: `Journey.live_since_position`. What the entries make due
is left to the step workers (steps.journey_runs_advance), woken after commit; they take no run due after the first
event the process manager has yet to read (`journeys_read_horizon`).
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.schema import EventData
from customers.events import CustomerMerged
from customers.selectors import people_members

from .. import definition as rules
from ..events import (
    JourneyConverted,
    JourneyEntered,
    JourneyExited,
    JourneyPaused,
    JourneyPublished,
    JourneyResumed,
    JourneyStepCompleted,
)
from ..models import Journey, JourneyCursor, JourneyRun, JourneyStatus, JourneyVersion, RunStatus
from ..runs import runs_of_people
from .entries import entered_data
from .facts import BatchFacts
from .walk import Position, arrive, decide

CURSOR = "journeys"
ACTOR = "journeys"


@dataclass
class _Run:
    id: uuid.UUID
    journey_id: uuid.UUID
    version: int
    customer_id: uuid.UUID
    entry: int
    step: str
    awaiting: str
    status: str
    entered_at: datetime
    is_converted: bool
    steps_done: int
    trigger_position: int | None
    is_holdout: bool

    @property
    def stream(self) -> str:
        return f"journey-{self.journey_id}-{self.customer_id}"


@dataclass
class _Live:
    journey: Journey
    version: JourneyVersion

    @property
    def definition(self) -> dict[str, Any]:
        definition: dict[str, Any] = self.version.definition
        return definition


# The events of a batch, per stream, appended together at its end.
Appends = dict[str, list[store.NewEvent]]

# Events that change what the process manager listens for: a batch stops at one, the next reads with the new plan.
PLAN_EVENTS = (JourneyPublished.type_name, JourneyResumed.type_name, JourneyPaused.type_name)
MERGED = CustomerMerged.type_name


@dataclass
class _Plan:
    live: list[_Live]
    versions: dict[tuple[uuid.UUID, int], JourneyVersion]
    triggers: dict[str, list[_Live]]
    goals: set[str]
    awaited: set[str]

    @property
    def types(self) -> list[str]:
        return sorted({*self.triggers, *self.goals, *self.awaited, *PLAN_EVENTS, MERGED})


def _goal_of(version: JourneyVersion) -> str:
    goal: str = (version.definition.get("goal") or {}).get("event", "")
    return goal


def _plan() -> _Plan | None:
    """What the process manager listens for now: live journeys' triggers; the goals (paused journeys' too) and
    awaited events of every version people may be in, each run judged by its own version's. None when no journey
    was ever published."""
    journeys = list(Journey.objects.filter(status__in=(JourneyStatus.LIVE, JourneyStatus.PAUSED)))
    if not journeys:
        return None
    versions = {(v.journey_id, v.version): v for v in JourneyVersion.objects.filter(journey__in=journeys)}
    live = [_Live(j, versions[(j.id, j.version)]) for j in journeys if (j.id, j.version) in versions]
    triggers: dict[str, list[_Live]] = defaultdict(list)
    for item in live:
        trigger = item.definition.get("trigger", {})
        if item.journey.status == JourneyStatus.LIVE and trigger.get("kind") == "event":
            triggers[trigger["event"]].append(item)
    goals = {goal for goal in map(_goal_of, versions.values()) if goal}
    awaited = {
        step["event"]
        for version in versions.values()
        for step in version.definition.get("steps", [])
        if step.get("kind") == "wait_event"
    }
    return _Plan(live, versions, triggers, goals, awaited)


def journeys_consume(*, batch_size: int | None = None, max_batches: int | None = None) -> tuple[int, bool]:
    """Read the log from the cursor, a batch per transaction: only the types the live journeys listen for, filtered
    by the store (the rest of the log costs the reader nothing). Returns (events read, whether runs became due)."""
    size = batch_size or settings.JOURNEYS_CONSUMER_BATCH
    if not Journey.objects.exclude(status=JourneyStatus.DRAFT).exists():
        return 0, False  # nothing to enter, move or take out: the log is read once a journey is published
    JourneyCursor.objects.get_or_create(name=CURSOR)
    total, batches, woke = 0, 0, False
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            cursor = JourneyCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR).first()
            if cursor is None:
                break  # another worker holds it: it reads what we would
            plan = _plan()
            if plan is None:
                break
            events = store.read_committed(after=(cursor.transaction_id, cursor.position), limit=size, types=plan.types)
            if not events:
                break
            for index, event in enumerate(events):
                if event.type in PLAN_EVENTS:
                    events = events[: index + 1]
                    break
            woke = _consume(events, plan) or woke
            cursor.transaction_id, cursor.position = events[-1].transaction_id, events[-1].position
            cursor.save(update_fields=["transaction_id", "position", "updated_at"])
        total += len(events)
        batches += 1
    return total, woke


def journeys_lag() -> int:
    """How far behind the process manager is: positions from the first event it has yet to handle to the head of
    the log (0 when it has handled everything it listens for)."""
    pending = _first_unread()
    if pending is None:
        return 0
    head = store.head_position()
    return max(head - pending.position + 1, 0)


def journeys_read_horizon(*, now: datetime) -> datetime:
    """How far in time the process manager has read: `now` when it has handled everything it listens for, else just
    before the first event it has yet to handle. A run due after it may have its goal, a merge or its awaited event
    waiting there unread: the step workers leave it where it is until then."""
    pending = _first_unread()
    if pending is None:
        return now
    return min(now, pending.recorded_at - timedelta(microseconds=1))


def _first_unread() -> store.RecordedEvent | None:
    plan = _plan()
    if plan is None:
        return None
    after = JourneyCursor.objects.filter(name=CURSOR).values_list("transaction_id", "position").first() or (0, 0)
    pending = store.read_committed(after=(after[0], after[1]), limit=1, types=plan.types)
    return pending[0] if pending else None


def _money(value: object) -> Decimal:
    try:
        return max(Decimal(str(value)), Decimal(0)).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError):
        return Decimal(0)


def _consume(events: list[store.RecordedEvent], plan: _Plan) -> bool:
    live, triggers, goals, awaited = plan.live, plan.triggers, plan.goals, plan.awaited
    wanted = set(triggers) | goals | awaited | {MERGED}
    relevant = [e for e in events if e.customer_id is not None and e.type in wanted]
    if not relevant:
        return False
    people = {e.customer_id for e in relevant if e.customer_id is not None}
    # A person's runs, whichever of their profiles entered them: a run entered before a merge goes on under the
    # merged profile, while the person's new events are recorded under the survivor (its goal, its awaited event).
    person_of = people_members(owner_ids=people)
    runs: dict[uuid.UUID, list[_Run]] = defaultdict(list)
    for member, member_runs in _runs_of(set(person_of), [item.journey.id for item in live]).items():
        runs[person_of[member]].extend(member_runs)
    all_versions = {key: version.definition for key, version in plan.versions.items()}
    # The profiles each merge of the batch brought in (the merged customer and those merged into it before).
    merged_sides = people_members(owner_ids={uuid.UUID(str(e.data["merged"])) for e in relevant if e.type == MERGED})
    counts = _entry_counts([item for items in triggers.values() for item in items])
    facts = BatchFacts(list(people), now=timezone.now())
    appends: Appends = defaultdict(list)
    woke = False
    for event in relevant:
        assert event.customer_id is not None  # relevant events name their person
        mine = runs[event.customer_id]
        if event.type == MERGED:
            _end_merged_duplicates(event, mine, merged_sides, appends)
        if event.type in goals:
            _reach_goal(event, mine, plan.versions, appends)
        if event.type in awaited:
            woke = _arrive_event(event, mine, all_versions, facts, appends) or woke
        for item in triggers.get(event.type, ()):
            woke = _enter(item, event, mine, counts, facts, appends) or woke
    store.append_batches([store.StreamAppend(stream, items) for stream, items in appends.items()])
    return woke


def _runs_of(people: set[uuid.UUID], journey_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[_Run]]:
    """The runs of these people in these journeys, for a batch of thousands of events: one read of plain rows."""
    found: dict[uuid.UUID, list[_Run]] = defaultdict(list)
    for row in runs_of_people(list(people), journey_ids):
        run = _Run(
            row.id,
            row.journey_id,
            row.version,
            row.customer_id,
            row.entry,
            row.step,
            row.awaiting,
            row.status,
            row.entered_at,
            row.converted_at is not None,
            len(row.path),
            row.trigger_position,
            row.is_holdout,
        )
        found[run.customer_id].append(run)
    return found


def _entry_counts(items: list[_Live]) -> dict[uuid.UUID, int]:
    capped = [item.journey.id for item in items if item.definition.get("cap")]
    if not capped:
        return {}
    counts = dict.fromkeys(capped, 0)
    for journey_id in capped:
        counts[journey_id] = JourneyRun.objects.filter(journey_id=journey_id).count()
    return counts


def _event(
    event_type: type[EventData], data: dict[str, Any], *, event_id: uuid.UUID, customer_id: uuid.UUID, at: datetime
) -> store.NewEvent:
    return store.NewEvent.of(
        event_type.from_data(data), id=event_id, customer_id=customer_id, occurred_at=at, metadata={"actor": ACTOR}
    )


def _append_run_event(
    appends: Appends, run: _Run, event_type: type[EventData], data: dict[str, Any], *, key: str, at: datetime
) -> None:
    """One event of a run, to its stream; its id is the run's and `key`'s (what it records), so the same step of the
    same run is the same event when a batch is read again."""
    appends[run.stream].append(
        _event(event_type, data, event_id=uuid.uuid5(run.id, key), customer_id=run.customer_id, at=at)
    )


def _append_exit(
    appends: Appends, run: _Run, *, reason: str, step: str, at: datetime, status: str = RunStatus.DONE, **extra: Any
) -> None:
    """The run leaves the journey (journey.exited with `reason`, at `step`): its event, and its status here."""
    data = {"journey_id": str(run.journey_id), "run_id": str(run.id), "version": run.version, "reason": reason}
    _append_run_event(appends, run, JourneyExited, {**data, "step": step, **extra}, key="exited", at=at)
    run.status = status


def _since_entry(run: _Run, event: store.RecordedEvent) -> bool:
    """Whether the person did this once in the journey. A triggered run counts from its trigger's place in the log:
    it is entered when the trigger is read, so a purchase just after the trigger may predate the entry. A run entered
    by segment or date has no trigger, and the log is read from before its entry (from the first journey's
    publication, or by a reader behind): what happened before it entered is not its conversion."""
    if run.trigger_position:
        return event.position > run.trigger_position
    return event.occurred_at >= run.entered_at


def _reach_goal(
    event: store.RecordedEvent,
    mine: list[_Run],
    versions: dict[tuple[uuid.UUID, int], JourneyVersion],
    appends: Appends,
) -> None:
    """The goal of the version each run entered, within that version's attribution window: a run still going leaves
    on it either way, converted only within the window (as a held-out person's, whose run ends with the window)."""
    revenue = _money(event.data.get("total", 0))
    for run in mine:
        version = versions.get((run.journey_id, run.version))
        if version is None or _goal_of(version) != event.type or not _since_entry(run, event):
            continue
        is_conversion = event.occurred_at <= run.entered_at + timedelta(days=version.attribution_days)
        if run.status == RunStatus.ACTIVE:
            _append_exit(
                appends,
                run,
                reason="goal",
                step=run.step,
                at=event.occurred_at,
                status=RunStatus.EXITED,
                goal_event_id=str(event.id),
                is_conversion=is_conversion,
                revenue=revenue if is_conversion else Decimal(0),
            )
            run.is_converted = is_conversion
        elif not run.is_converted and is_conversion:
            base = {"journey_id": str(run.journey_id), "run_id": str(run.id), "version": run.version}
            data = {**base, "goal_event_id": str(event.id), "revenue": revenue}
            _append_run_event(appends, run, JourneyConverted, data, key="converted", at=event.occurred_at)
            run.is_converted = True


def _end_merged_duplicates(
    event: store.RecordedEvent, mine: list[_Run], merged_sides: dict[uuid.UUID, uuid.UUID], appends: Appends
) -> None:
    """Two profiles of one person in flight in the same journey, merged: the merged profile's run ends (reason
    merged) and the survivor's goes on, so the person gets the journey once. A run only one side has goes on: runs
    are the person's, whichever profile entered them."""
    merged = uuid.UUID(str(event.data["merged"]))
    active = [run for run in mine if run.status == RunStatus.ACTIVE]
    kept = {run.journey_id for run in active if merged_sides.get(run.customer_id) != merged}
    now = timezone.now()
    for run in active:
        if merged_sides.get(run.customer_id) == merged and run.journey_id in kept:
            _append_exit(appends, run, reason="merged", step=run.step, at=now)


def _arrive_event(
    event: store.RecordedEvent,
    mine: list[_Run],
    definitions: dict[tuple[uuid.UUID, int], dict[str, Any]],
    facts: BatchFacts,
    appends: Appends,
) -> bool:
    """The runs waiting for this event take their event path (the steps after it are the step workers')."""
    moved = False
    for run in mine:
        if run.status != RunStatus.ACTIVE or run.awaiting != event.type:
            continue
        definition = definitions[(run.journey_id, run.version)]
        steps = rules.steps_by_id(definition)
        now = timezone.now()
        position = Position(
            run.id, run.journey_id, run.version, run.customer_id, run.entry, run.step, "", run.trigger_position
        )
        decision = decide(steps, steps[run.step], position, phase="", now=now, facts=facts, on_event=True)
        decision.due_at, decision.awaiting = arrive(
            steps, decision.next_step, customer_id=run.customer_id, now=now, facts=facts
        )
        _append_run_event(
            appends,
            run,
            JourneyStepCompleted,
            decision.event_data(position),
            key=f"step:{run.steps_done}:{run.step}",
            at=now,
        )
        run.steps_done += 1
        run.step, run.awaiting = decision.next_step, decision.awaiting
        if not decision.next_step:
            _append_exit(appends, run, reason="completed", step=decision.step, at=now)
        moved = True
    return moved


def _enter(
    item: _Live,
    event: store.RecordedEvent,
    mine: list[_Run],
    counts: dict[uuid.UUID, int],
    facts: BatchFacts,
    appends: Appends,
) -> bool:
    journey, definition, customer_id = item.journey, item.definition, event.customer_id
    if customer_id is None or event.position <= journey.live_since_position:
        return False
    if not rules.trigger_matches(definition["trigger"], channel=event.channel, data=event.data):
        return False
    previous = [run for run in mine if run.journey_id == journey.id]
    if any(run.status == RunStatus.ACTIVE for run in previous):
        return False  # never twice at once
    reentry = definition.get("reentry") or {"mode": "once"}
    if previous and reentry["mode"] == "once":
        return False
    if previous and reentry["mode"] == "once_per_days":
        last = max(run.entered_at for run in previous)
        if event.occurred_at < last + timedelta(days=reentry["days"]):
            return False
    cap = definition.get("cap")
    if cap and counts.get(journey.id, 0) >= cap:
        return False
    counts[journey.id] = counts.get(journey.id, 0) + 1
    entry = max((run.entry for run in previous), default=0) + 1
    now = timezone.now()
    steps, start = rules.steps_by_id(definition), rules.start_step(definition)
    run_id, data = entered_data(
        journey, item.version, customer_id, entry, now=now, facts=facts, steps=steps, start=start
    )
    data.update(trigger_event_id=str(event.id), trigger_position=event.position, trigger_type=event.type)
    stream = f"journey-{journey.id}-{customer_id}"
    appends[stream].append(
        _event(JourneyEntered, data, event_id=uuid.uuid5(run_id, "entered"), customer_id=customer_id, at=now)
    )
    mine.append(
        _Run(
            run_id,
            journey.id,
            journey.version,
            customer_id,
            entry,
            data["step"],
            data["awaiting"],
            RunStatus.ACTIVE,
            now,
            False,
            0,
            event.position,
            data["is_holdout"],
        )
    )
    return True
