"""Entries made by beat (a segment joined, a date attribute come round): who of a batch of people may enter by the
journey's re-entry rules and cap, and their journey.entered events. The callers hold the journey's row lock, so
two ticks never enter anybody twice."""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F

from backoffice.eventstore import store

from .. import definition as rules
from ..events import JourneyEntered
from ..models import Journey, JourneyRun, JourneyVersion, RunStatus
from .facts import BatchFacts
from .walk import Facts, arrive

ACTOR = "journeys"


def journeys_triggered_by(kind: str, *, statuses: tuple[str, ...]) -> list[uuid.UUID]:
    """The journeys in these statuses whose live version has this kind of trigger: only they are locked and looked
    at on the tick."""
    live = JourneyVersion.objects.filter(
        journey__status__in=statuses, version=F("journey__version"), definition__trigger__kind=kind
    )
    return list(live.order_by("journey_id").values_list("journey_id", flat=True))


def people_who_may_enter(
    journey: Journey,
    definition: dict[str, Any],
    people: list[uuid.UUID],
    *,
    now: datetime,
    min_gap: timedelta | None = None,
) -> tuple[list[uuid.UUID], dict[uuid.UUID, int]]:
    """The people of `people` who may enter now (in their order, at most up to the cap), and the last entry number
    of each who entered before. `min_gap`: no entry closer than this to the person's previous one (a yearly date
    enters a person once per occurrence whatever the rules say)."""
    runs = JourneyRun.objects.filter(journey=journey)
    previous: dict[uuid.UUID, list[tuple[str, datetime, int]]] = defaultdict(list)
    for customer_id, status, entered_at, entry in runs.filter(customer_id__in=people).values_list(
        "customer_id", "status", "entered_at", "entry"
    ):
        previous[customer_id].append((status, entered_at, entry))
    reentry = definition.get("reentry") or {"mode": "once"}
    cap = definition.get("cap")
    room = max(cap - runs.count(), 0) if cap else len(people)
    chosen: list[uuid.UUID] = []
    for customer_id in people:
        if len(chosen) >= room:
            break
        mine = previous.get(customer_id, [])
        is_active = any(status == RunStatus.ACTIVE for status, _at, _entry in mine)
        entered = [at for _status, at, _entry in mine]
        if rules.may_enter(reentry, entered, is_active=is_active, at=now, min_gap=min_gap):
            chosen.append(customer_id)
    entries = {cid: max(entry for _s, _a, entry in mine) for cid, mine in previous.items()}
    return chosen, entries


def entered_data(
    journey: Journey,
    version: JourneyVersion,
    customer_id: uuid.UUID,
    entry: int,
    *,
    now: datetime,
    facts: Facts,
    steps: dict[str, dict[str, Any]],
    start: str,
) -> tuple[uuid.UUID, dict[str, Any]]:
    """The run a person's `entry`-th entry starts, and its journey.entered data but the trigger: held out (by the hash
    of journey and person) until the attribution window ends, or at the first step, `start`, and when it is due.
    What a trigger, a date and a segment entry share."""
    run_id = uuid.uuid5(journey.id, f"run:{customer_id}:{entry}")
    # No hash to draw when nobody is held out (the draw of a share of 0 is always no).
    is_holdout = bool(version.holdout_share) and rules.is_holdout(journey.id, customer_id, version.holdout_share)
    due_at: datetime | None
    if is_holdout:
        step, due_at, awaiting = "", now + timedelta(days=version.attribution_days), ""
    else:
        step = start
        due_at, awaiting = arrive(steps, start, customer_id=customer_id, now=now, facts=facts)
    return run_id, {
        "journey_id": str(journey.id),
        "run_id": str(run_id),
        "version": journey.version,
        "entry": entry,
        "is_holdout": is_holdout,
        "step": step,
        "due_at": due_at,
        "awaiting": awaiting,
    }


def record_entries(
    journey: Journey,
    version: JourneyVersion,
    people: list[uuid.UUID],
    entries: dict[uuid.UUID, int],
    *,
    now: datetime,
    trigger_type: str,
) -> int:
    """Append a journey.entered for each person (held out by the hash of journey and person), at the version's first
    step and when it is due. Returns how many entered."""
    if not people:
        return 0
    definition = version.definition
    facts = BatchFacts(people, now=now)
    steps = rules.steps_by_id(definition)
    start = rules.start_step(definition)
    appends = []
    for customer_id in people:
        entry = entries.get(customer_id, 0) + 1
        run_id, data = entered_data(
            journey, version, customer_id, entry, now=now, facts=facts, steps=steps, start=start
        )
        data["trigger_type"] = trigger_type[:100]
        event = store.NewEvent.of(
            JourneyEntered.from_data(data),
            id=uuid.uuid5(run_id, "entered"),
            customer_id=customer_id,
            occurred_at=now,
            metadata={"actor": ACTOR},
        )
        appends.append(store.StreamAppend(f"journey-{journey.id}-{customer_id}", [event]))
    store.append_batches(appends)
    return len(people)
