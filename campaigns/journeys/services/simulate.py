"""The simulator: walks a chosen customer through a journey's live version (or its draft, before the first
publication) on a simulated clock, with the same decisions the step workers make (walk.walk over the customer's real
consents, time zone, contact-pressure budget, profile and tags), and writes nothing. Awaited events are assumed not to
come (the timeout path), messages not to be read (the fallback is sent), as for someone who does nothing."""

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from .. import definition as rules
from ..models import Journey, JourneyVersion
from .facts import BatchFacts
from .plans import JourneyRefused
from .walk import Position, arrive, walk

MAX_SIMULATED_STEPS = 200


class _SimulatedFacts(BatchFacts):
    def message_state(self, message_id: str) -> str:
        return "pending"


def journey_simulate(*, journey_id: uuid.UUID, customer_id: uuid.UUID, now: datetime | None = None) -> dict[str, Any]:
    """What this customer would get from the journey and when: every step with its outcome, channel, content and
    time, as if they entered now."""
    now = now or timezone.now()
    journey = Journey.objects.get(pk=journey_id)
    version = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
    definition = version.definition if version is not None else journey.definition
    problems = rules.validate(definition)
    if problems:
        raise JourneyRefused("invalid_definition", "the journey cannot be simulated", problems)
    holdout_share = version.holdout_share if version is not None else journey.holdout_share
    number = journey.version or 1
    if rules.is_holdout(journey.id, customer_id, holdout_share):
        return {
            "journey": str(journey.id),
            "version": number,
            "customer": str(customer_id),
            "is_holdout": True,
            "steps": [],
            "ends": "holdout",
        }
    steps = rules.steps_by_id(definition)
    start = rules.start_step(definition)
    facts = _SimulatedFacts([customer_id], now=now)
    due_at, _awaiting = arrive(steps, start, customer_id=customer_id, now=now, facts=facts)
    position = Position(uuid.uuid4(), journey.id, number, customer_id, 1, start)
    timeline: list[dict[str, Any]] = []
    clock = due_at or now
    while position.step and len(timeline) < MAX_SIMULATED_STEPS:
        facts.now = clock
        decisions = walk(definition, position, now=clock, facts=facts)
        for decision in decisions:
            timeline.append(
                {
                    "step": decision.step,
                    "kind": decision.kind,
                    "outcome": decision.outcome,
                    "channel": decision.channel,
                    "content": decision.content,
                    "at": clock.isoformat(),
                    "next_step": decision.next_step,
                }
            )
        last = decisions[-1]
        position.step, position.phase = last.next_step, last.phase
        if last.due_at is not None and last.due_at > clock:
            clock = last.due_at
    return {
        "journey": str(journey.id),
        "version": number,
        "customer": str(customer_id),
        "is_holdout": False,
        "steps": timeline,
        "ends": "completed" if not position.step else "unfinished",
    }
