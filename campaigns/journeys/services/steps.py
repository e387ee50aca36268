"""The step workers: runs whose time has come take their steps, a batch per transaction.

One transaction takes the next due runs of live journeys (`select_for_update(skip_locked=True)`: workers never share
a run), walks each through the steps due now (walk.walk), queues their messages through messaging (consent, address
and quiet hours are checked again at send time; the contact-pressure budget here, across campaigns and journeys) with
one idempotency key per journey version, person, entry and step visit, opens their cases, and appends the steps as
journey.step_completed (and journey.exited at the end) to each person's journey stream; the inline projection moves
the runs. A worker killed mid-batch rolls all of it back, messages included: whoever takes the runs next does the
same steps once. Runs of a paused journey are not taken: they hold where they are.

A run is taken only once what it may depend on has been read: the process manager (a goal, a merge, an awaited event
recorded before the run came due) and, for a version with a branch on the customer 360, the asynchronous projections
the segment rules read. The worker first catches them up by a batch each, as their own tasks would; runs due after
what they have read stay where they are until they have.

One run that cannot take its step does not cost the others theirs: the batch is tried whole (in a savepoint), and
when it fails, run by run, each in a savepoint of its own; a run that fails records journey.step_failed and is due
again later (RETRY_MINUTES), out of the head of the queue, and leaves the journey (reason failed) after the last
attempt. A case the customers app refuses (an erased person) is the task step's outcome, not a failure."""

import logging
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import projector, store
from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.services import MessageRequest, messages_send
from backoffice.messaging.services.send import message_id_for

from .. import definition as rules
from ..events import JourneyExited, JourneyStepCompleted, JourneyStepFailed
from ..models import JourneyRun, JourneyStatus, JourneyVersion, RunStatus
from ..runs import RunRow, runs_take_due
from .consumer import journeys_consume, journeys_read_horizon
from .facts import BatchFacts, profile_read_horizon
from .walk import Decision, Position, walk

logger = logging.getLogger(__name__)
ACTOR = "journeys"
CASE_CHANNELS = {"support": "phone", "store": "store"}
# A run whose step fails is due again after these minutes, attempt after attempt; it leaves the journey (reason
# failed) when it fails once more after the last.
RETRY_MINUTES = (5, 30, 120, 480, 1440)


def position_of(run: JourneyRun | RunRow) -> Position:
    return Position(
        run_id=run.id,
        journey_id=run.journey_id,
        version=run.version,
        customer_id=run.customer_id,
        entry=run.entry,
        step=run.step,
        phase=run.phase,
        trigger_position=run.trigger_position,
        last_message_id=run.last_message_id,
        steps_done=len(run.path),
        step_counts=dict(Counter(step for step, *_rest in run.path)),
    )


def definitions_for(pairs: set[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], JourneyVersion]:
    journeys = {journey_id for journey_id, _ in pairs}
    found = JourneyVersion.objects.filter(journey_id__in=journeys)
    return {(v.journey_id, v.version): v for v in found if (v.journey_id, v.version) in pairs}


def journey_runs_advance(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Take the next batch of due runs and move each as far as it goes now. Returns how many runs were taken."""
    now = now or timezone.now()
    size = batch_size or settings.JOURNEYS_BATCH_SIZE
    until, profiled, profile_until = _read_horizons(now)
    with transaction.atomic():
        runs = runs_take_due(
            now=until, limit=size, held_versions=profiled, held_until=profile_until if profiled else None
        )
        if not runs:
            return 0
        from ...services.fan_out import _lock_people  # one order of advisory locks for every budget decision

        _lock_people([run.customer_id for run in runs])
        versions = definitions_for({(run.journey_id, run.version) for run in runs})
        horizons = {pair: profile_until for pair in profiled}

        def until_of(run: RunRow) -> datetime:
            return horizons.get((run.journey_id, run.version), until)

        try:
            with transaction.atomic():  # the fast path: the batch at once
                _take_steps(runs, versions, now, until_of)
        except Exception:  # whatever one run raised, the others still take their steps below
            logger.warning("journey step batch of %d runs failed, taking them one by one", len(runs), exc_info=True)
            for run in runs:
                try:
                    with transaction.atomic():
                        _take_steps([run], versions, now, until_of)
                except Exception as exc:  # recorded on the run, which is tried again later
                    logger.exception("journey run %s failed at step %s", run.id, run.step)
                    _record_failure(run, exc, now)
    return len(runs)


def _read_horizons(now: datetime) -> tuple[datetime, set[tuple[uuid.UUID, int]], datetime]:
    """(runs due by when may be taken, the versions with a branch on the customer 360, and by when theirs may).

    A run due after the first event the process manager has yet to read may have a goal or a merge waiting there;
    a branch on the customer 360 reads asynchronous projections that may not have read the order that triggered the
    run. Each is caught up by a batch first (outside the steps' transaction, as its own task would: a worker holding
    it leaves the work to that worker), then asked how far it has read."""
    until = journeys_read_horizon(now=now)
    if until < now:
        try:
            journeys_consume(max_batches=1)
        except Exception:  # its own task reports it; the runs it has read up to still take their steps
            logger.exception("the journeys' process manager could not catch up from a step worker")
        until = journeys_read_horizon(now=now)
    profiled = _versions_with_profile_branches()
    if not profiled:
        return until, profiled, until
    seen, behind = profile_read_horizon(now=now)
    if behind:
        projector.catch_up_all(behind, max_batches=1)
        seen, behind = profile_read_horizon(now=now)
    return until, profiled, min(until, seen)


def _versions_with_profile_branches() -> set[tuple[uuid.UUID, int]]:
    found = JourneyVersion.objects.filter(journey__status=JourneyStatus.LIVE).values_list(
        "journey_id", "version", "definition"
    )
    return {
        (journey_id, version)
        for journey_id, version, definition in found
        if any(
            step.get("kind") == "branch" and (step.get("condition") or {}).get("source") == "profile"
            for step in rules.steps_by_id(definition).values()
        )
    }


def _take_steps(
    runs: list[RunRow],
    versions: dict[tuple[uuid.UUID, int], JourneyVersion],
    now: datetime,
    until_of: Callable[[RunRow], datetime],
) -> None:
    facts = BatchFacts([run.customer_id for run in runs], now=now)
    planned: list[tuple[RunRow, Position, list[Decision]]] = []
    for run in runs:
        position = position_of(run)
        if run.is_holdout or not run.step:
            planned.append((run, position, []))  # a held-out person's window has ended
            continue
        definition = versions[(run.journey_id, run.version)].definition
        planned.append((run, position, walk(definition, position, now=now, facts=facts, until=until_of(run))))
    skipped = _queue_messages(planned)
    appends = []
    for run, position, decisions in planned:
        appends.append(store.StreamAppend(run.stream, _events(run, position, decisions, skipped, now)))
    store.append_batches(appends)


def _record_failure(run: RunRow, exc: Exception, now: datetime) -> None:
    """The run stays where it is, due again after the next of RETRY_MINUTES; after the last, it leaves."""
    attempt = _failures_in_a_row(run) + 1
    base = {"journey_id": str(run.journey_id), "run_id": str(run.id), "version": run.version, "step": run.step}
    if attempt > len(RETRY_MINUTES):
        event = store.NewEvent.of(
            JourneyExited.from_data({**base, "reason": "failed"}),
            id=uuid.uuid5(run.id, "exited"),
            customer_id=run.customer_id,
            occurred_at=_recorded_at(now),
            metadata={"actor": ACTOR},
        )
    else:
        data = {
            **base,
            "error": type(exc).__name__[:100],  # the class only: an error's text may hold personal data
            "attempt": attempt,
            "due_at": now + timedelta(minutes=RETRY_MINUTES[attempt - 1]),
        }
        event = store.NewEvent.of(
            JourneyStepFailed.from_data(data),
            id=uuid.uuid5(run.id, f"failed:{len(run.path)}:{attempt}"),
            customer_id=run.customer_id,
            occurred_at=_recorded_at(now),
            metadata={"actor": ACTOR},
        )
    store.append(run.stream, [event])


def _failures_in_a_row(run: RunRow) -> int:
    """How many times the run failed since its last step (read from its stream: only on this rare path)."""
    count, run_id = 0, str(run.id)
    for event in reversed(store.read_stream(run.stream)):
        if event.data.get("run_id") != run_id:
            continue
        if event.type != JourneyStepFailed.type_name:
            break
        count += 1
    return count


def _queue_messages(planned: list[tuple[RunRow, Position, list[Decision]]]) -> set[str]:
    """Every message of the batch in one call; a message that breaks a channel rule (the person's values made it too
    long) is skipped, not the batch. Returns the keys not queued."""
    requests = [
        MessageRequest(
            customer_id=run.customer_id,
            channel=decision.channel,
            purpose=Purpose.MARKETING,
            content=decision.content,
            idempotency_key=decision.message_key,
            variant=f"journey:{run.journey_id}:{decision.step}"[:64],
        )
        for run, _, decisions in planned
        for decision in decisions
        if decision.message_key
    ]
    skipped: set[str] = set()
    while requests:
        try:
            messages_send(messages=requests, actor=ACTOR)
            break
        except ChannelRuleError as exc:
            if exc.index is None:
                raise
            bad = requests.pop(exc.index)
            skipped.add(bad.idempotency_key)
            logger.warning("journey message %s skipped (%s)", message_id_for(bad.idempotency_key), exc.code)
    return skipped


def _events(
    run: RunRow, position: Position, decisions: list[Decision], skipped: set[str], now: datetime
) -> list[store.NewEvent]:
    events: list[store.NewEvent] = []
    done = len(run.path)
    for index, decision in enumerate(decisions):
        message_id = case_id = ""
        if decision.message_key:
            if decision.message_key in skipped:
                decision.outcome, decision.channel = "invalid_content", ""
            else:
                message_id = str(message_id_for(decision.message_key))
        if decision.case_queue:
            opened = _open_case(run, decision)
            if opened is None:
                decision.outcome = "task_refused"
            else:
                case_id = str(opened)
        data = decision.event_data(position, message_id=message_id, case_id=case_id)
        event_id = uuid.uuid5(run.id, f"step:{done + index}:{decision.step}")
        events.append(
            store.NewEvent.of(
                JourneyStepCompleted.from_data(data),
                id=event_id,
                customer_id=run.customer_id,
                channel=decision.channel or None,
                occurred_at=_recorded_at(now),
                metadata={"actor": ACTOR},
            )
        )
    last = decisions[-1] if decisions else None
    if last is None or (not last.next_step and not last.phase):
        reason = "holdout_window" if run.is_holdout else "completed"
        data = {
            "journey_id": str(run.journey_id),
            "run_id": str(run.id),
            "version": run.version,
            "reason": reason,
            "step": last.step if last else "",
        }
        events.append(
            store.NewEvent.of(
                JourneyExited.from_data(data),
                id=uuid.uuid5(run.id, "exited"),
                customer_id=run.customer_id,
                occurred_at=_recorded_at(now),
                metadata={"actor": ACTOR},
            )
        )
    return events


def _recorded_at(now: datetime) -> datetime | None:
    """The steps' time, or the store's own when a caller ran them ahead of the clock (a simulation of time in tests
    and benchmarks: the log refuses events from the future)."""
    return now if now <= timezone.now() else None


def _open_case(run: RunRow, decision: Decision) -> uuid.UUID | None:
    """A staff task as a service case (support) or a store case, once per run and visit of the step (the first
    visit's id as before loops were told apart). None when the customers app refuses it (an erased person): the
    step's outcome, not a failure of the batch."""
    from customers.services.cases import CaseRefused, case_open

    case_id = uuid.uuid5(run.id, f"case:{decision.step}" + (f":{decision.visit}" if decision.visit else ""))
    try:
        with transaction.atomic():
            case_open(
                customer_id=run.customer_id,
                channel=CASE_CHANNELS[decision.case_queue],
                subject=decision.case_title[:200],
                actor=ACTOR,
                case_id=case_id,
            )
    except CaseRefused as refused:
        logger.warning("journey run %s: case at step %s refused (%s)", run.id, decision.step, refused.code)
        return None
    return case_id


def journey_runs_due_count(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return JourneyRun.objects.filter(
        status=RunStatus.ACTIVE, due_at__lte=now, journey__status=JourneyStatus.LIVE
    ).count()
