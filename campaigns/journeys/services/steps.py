"""The step workers: runs whose time has come take their steps, a batch per transaction.

One transaction takes the next due runs of live journeys (`select_for_update(skip_locked=True)`: workers never share
a run), walks each through the steps due now (walk.walk), queues their messages through messaging (consent, address
and quiet hours are checked again at send time; the contact-pressure budget here, across campaigns and journeys) with
one idempotency key per journey version, person, entry and step, opens their cases, and appends the steps as
journey.step_completed (and journey.exited at the end) to each person's journey stream; the inline projection moves
the runs. A worker killed mid-batch rolls all of it back, messages included: whoever takes the runs next does the
same steps once. Runs of a paused journey are not taken: they hold where they are.
"""

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.services import MessageRequest, messages_send
from backoffice.messaging.services.send import message_id_for

from ..events import JourneyExited, JourneyStepCompleted
from ..models import JourneyRun, JourneyStatus, JourneyVersion, RunStatus
from ..runs import RunRow, runs_take_due
from .facts import BatchFacts
from .walk import Decision, Position, walk

logger = logging.getLogger(__name__)
ACTOR = "journeys"
CASE_CHANNELS = {"support": "phone", "store": "store"}


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
    )


def definitions_for(pairs: set[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], JourneyVersion]:
    journeys = {journey_id for journey_id, _ in pairs}
    found = JourneyVersion.objects.filter(journey_id__in=journeys)
    return {(v.journey_id, v.version): v for v in found if (v.journey_id, v.version) in pairs}


def journey_runs_advance(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Take the next batch of due runs and move each as far as it goes now. Returns how many runs were taken."""
    now = now or timezone.now()
    size = batch_size or settings.JOURNEYS_BATCH_SIZE
    with transaction.atomic():
        runs = runs_take_due(now=now, limit=size)
        if not runs:
            return 0
        from ...services.fan_out import _lock_people  # one order of advisory locks for every budget decision

        _lock_people([run.customer_id for run in runs])
        versions = definitions_for({(run.journey_id, run.version) for run in runs})
        facts = BatchFacts([run.customer_id for run in runs], now=now)
        planned: list[tuple[RunRow, Position, list[Decision]]] = []
        for run in runs:
            position = position_of(run)
            if run.is_holdout or not run.step:
                planned.append((run, position, []))  # a held-out person's window has ended
                continue
            definition = versions[(run.journey_id, run.version)].definition
            planned.append((run, position, walk(definition, position, now=now, facts=facts)))
        skipped = _queue_messages(planned)
        appends = []
        for run, position, decisions in planned:
            appends.append(store.StreamAppend(run.stream, _events(run, position, decisions, skipped, now)))
        store.append_batches(appends)
    return len(runs)


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
            case_id = str(_open_case(run, decision))
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


def _open_case(run: RunRow, decision: Decision) -> uuid.UUID:
    """A staff task as a service case (support) or a store case, once per run and step."""
    from customers.services.cases import case_open

    case_id = uuid.uuid5(run.id, f"case:{decision.step}")
    case_open(
        customer_id=run.customer_id,
        channel=CASE_CHANNELS[decision.case_queue],
        subject=decision.case_title[:200],
        actor=ACTOR,
        case_id=case_id,
    )
    return case_id


def journey_runs_due_count(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return JourneyRun.objects.filter(
        status=RunStatus.ACTIVE, due_at__lte=now, journey__status=JourneyStatus.LIVE
    ).count()
