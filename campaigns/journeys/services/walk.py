"""What a step does to one person, decided the same way by the step workers and by the simulator: given the facts
about the person (a Facts implementation), `walk` takes a run from its current step through every step that is due
now, and stops at a wait, an awaited event or the end. It writes nothing: the callers record the decisions (the
workers as events and messages, the simulator as a timeline)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from backoffice.eventstore.vocabulary import Channel
from backoffice.messaging.services.send import message_id_for

from .. import definition as rules

# A run never takes more steps than this in one go: validation refuses loops that never wait, this is the belt.
MAX_INSTANT_STEPS = 100


class Facts(Protocol):
    """What the steps need to know about people; loaded per batch by the workers, per person by the simulator."""

    def time_zone(self, customer_id: uuid.UUID) -> str: ...

    def reachable(self, customer_id: uuid.UUID, channels: list[str]) -> list[str]: ...

    def pressure_left(self, customer_id: uuid.UUID) -> int: ...

    def spend(self, customer_id: uuid.UUID) -> None: ...

    def profile_matches(self, rules: dict[str, Any], customer_id: uuid.UUID) -> bool: ...

    def has_tag(self, customer_id: uuid.UUID, tag: str) -> bool: ...

    def trigger(self, position: int | None) -> tuple[str | None, dict[str, Any]]: ...

    def message_state(self, message_id: str) -> str: ...  # "read", "undeliverable" or "pending"

    def send_hour(self, customer_id: uuid.UUID, earliest: datetime, channel: str) -> datetime | None: ...


@dataclass
class Position:
    """Where a run is: the fields of JourneyRun the steps read."""

    run_id: uuid.UUID
    journey_id: uuid.UUID
    version: int
    customer_id: uuid.UUID
    entry: int
    step: str
    phase: str = ""
    trigger_position: int | None = None
    last_message_id: str = ""
    # The steps the run has taken (its path's length), and how many times each step is in its path: a step's second
    # visit through a loop is told from its first by them (walk counts the steps it takes on).
    steps_done: int = 0
    step_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Decision:
    """One step done: the data of its journey.step_completed, and the message or case it asks for."""

    step: str
    kind: str
    outcome: str
    next_step: str = ""
    phase: str = ""
    due_at: datetime | None = None
    awaiting: str = ""
    channel: str = ""
    message_key: str = ""
    content: dict[str, Any] = field(default_factory=dict)
    case_title: str = ""
    case_queue: str = ""
    tag: str = ""
    # 0 on the run's first visit to the step; on a later one (a loop), the step's place in the run's path: its
    # message and case are keyed by it, apart from the first visit's.
    visit: int = 0

    def event_data(self, position: Position, message_id: str = "", case_id: str = "") -> dict[str, Any]:
        return {
            "journey_id": str(position.journey_id),
            "run_id": str(position.run_id),
            "version": position.version,
            "step": self.step,
            "kind": self.kind,
            "outcome": self.outcome,
            "channel": self.channel,
            "message_id": message_id,
            "case_id": case_id,
            "tag": self.tag,
            "next_step": self.next_step,
            "phase": self.phase,
            "due_at": self.due_at,
            "awaiting": self.awaiting,
        }


def message_key(position: Position, step: str, suffix: str = "", visit: int = 0) -> str:
    """Exactly once per journey version, person, entry and visit of the step, whoever runs it and however often. The
    first visit's key has no mark (the keys of messages queued before loops were told apart stay the same); a later
    visit's carries its place in the run's path."""
    key = f"journey:{position.journey_id}:v{position.version}:{position.customer_id}:{position.entry}:{step}"
    return key + (f":{visit}" if visit else "") + (f":{suffix}" if suffix else "")


def visit_of(position: Position, step_id: str, phase: str) -> int:
    """0 when the run is on its first visit to the step, else the place (from 1) the decision takes in its path. A
    send step's fallback check belongs to the visit that sent the first message (its one entry so far, on the
    first visit)."""
    earlier = position.step_counts.get(step_id, 0)
    return 0 if earlier == (1 if phase == "fallback" else 0) else position.steps_done + 1


def arrive(
    steps: dict[str, dict[str, Any]], step_id: str, *, customer_id: uuid.UUID, now: datetime, facts: Facts
) -> tuple[datetime | None, str]:
    """(due_at, awaiting) for a person arriving at a step now: a wait is due when it ends, a wait for an event when
    its timeout comes (or earlier, on the event); any other step at once."""
    if not step_id:
        return None, ""
    step = steps[step_id]
    if step["kind"] == "wait":
        return rules.wait_until(step, now=now, time_zone=facts.time_zone(customer_id)), ""
    if step["kind"] == "wait_event":
        return now + timedelta(minutes=int(step["timeout_minutes"])), step["event"]
    if step["kind"] == "send" and step.get("optimise_send_time"):
        # Held at the send until the person's best hour (send-time optimisation, services.send_time).
        best = facts.send_hour(customer_id, now, rules.send_channels(step)[0])
        return (best or now), ""
    return now, ""


def walk(
    definition: dict[str, Any],
    position: Position,
    *,
    now: datetime,
    facts: Facts,
    on_event: bool = False,
    until: datetime | None = None,
) -> list[Decision]:
    """The steps this run takes now, in order. `on_event`: the awaited event arrived (the wait_event step goes on
    by its event path); otherwise the run's step is due. `until`: a step due after it is left for later, due by now
    or not (what it depends on has not been read that far yet)."""
    until = now if until is None else min(until, now)
    steps = rules.steps_by_id(definition)
    decisions: list[Decision] = []
    step_id, phase = position.step, position.phase
    while step_id and len(decisions) < MAX_INSTANT_STEPS:
        decision = decide(steps, steps[step_id], position, phase=phase, now=now, facts=facts, on_event=on_event)
        on_event = False
        if decision.due_at is None and decision.next_step and not decision.phase:
            decision.due_at, decision.awaiting = arrive(
                steps, decision.next_step, customer_id=position.customer_id, now=now, facts=facts
            )
        decisions.append(decision)
        position.steps_done += 1
        position.step_counts[decision.step] = position.step_counts.get(decision.step, 0) + 1
        if decision.message_key:
            facts.spend(position.customer_id)
            position.last_message_id = str(message_id_for(decision.message_key))
        if decision.due_at is not None and (decision.due_at > until or decision.awaiting):
            break
        step_id, phase = decision.next_step, decision.phase
    return decisions


def decide(
    steps: dict[str, dict[str, Any]],
    step: dict[str, Any],
    position: Position,
    *,
    phase: str,
    now: datetime,
    facts: Facts,
    on_event: bool,
) -> Decision:
    kind, step_id, customer_id = step["kind"], step["id"], position.customer_id
    if kind == "wait":
        return Decision(step_id, kind, "waited", next_step=step.get("next", ""))
    if kind == "wait_event":
        if on_event:
            return Decision(step_id, kind, "event", next_step=step.get("next", ""))
        return Decision(step_id, kind, "timeout", next_step=step.get("timeout_next", ""))
    if kind == "branch":
        holds = _condition(step["condition"], position, facts)
        return Decision(step_id, kind, "yes" if holds else "no", next_step=step["yes"] if holds else step["no"])
    if kind == "split":
        path = rules.split_path(position.journey_id, step, customer_id)
        name = str(path.get("name") or step["paths"].index(path) + 1)
        return Decision(step_id, kind, f"path:{name}"[:32], next_step=path["next"])
    if kind == "send":
        return _send(step, position, phase=phase, now=now, facts=facts)
    if kind == "task":
        return Decision(
            step_id,
            kind,
            "task_created",
            next_step=step.get("next", ""),
            case_title=step["title"],
            case_queue=step["queue"],
            visit=visit_of(position, step_id, phase),
        )
    if kind == "tag":
        return Decision(step_id, kind, "tagged", next_step=step.get("next", ""), tag=step["tag"])
    return Decision(step_id, "end", "ended")


def _condition(condition: dict[str, Any], position: Position, facts: Facts) -> bool:
    if condition["source"] == "trigger":
        channel, data = facts.trigger(position.trigger_position)
        return rules.event_condition_holds(condition, channel=channel, data=data)
    if condition["source"] == "tag":
        return facts.has_tag(position.customer_id, condition["tag"])
    return facts.profile_matches(condition["rules"], position.customer_id)


def _send(step: dict[str, Any], position: Position, *, phase: str, now: datetime, facts: Facts) -> Decision:
    step_id, customer_id, after = step["id"], position.customer_id, step.get("next", "")
    fallback = step.get("fallback") or {}
    if phase == "fallback":
        # The fallback check is due: the first message read, or the other channel now.
        state = facts.message_state(position.last_message_id)
        if state == "read":
            return Decision(step_id, "send", "read", next_step=after)
        # A second marketing message: the person's budget and the channel's consent are asked again, hours later.
        if facts.pressure_left(customer_id) <= 0:
            return Decision(step_id, "send", "pressure", next_step=after)
        if not facts.reachable(customer_id, [fallback["channel"]]):
            return Decision(step_id, "send", "unreachable", next_step=after)
        return _message(step, position, fallback["channel"], "fallback_sent", phase, suffix="fallback")
    if facts.pressure_left(customer_id) <= 0:
        return Decision(step_id, "send", "pressure", next_step=after)
    preferred = [c for c in rules.send_channels(step) if c != fallback.get("channel")]
    reachable = facts.reachable(customer_id, preferred) if preferred else []
    if reachable:
        decision = _message(step, position, reachable[0], "sent", phase)
        if fallback.get("after_hours"):
            # Held at this step until the read is due; then read, or the fallback channel.
            decision.next_step, decision.phase = step_id, "fallback"
            decision.due_at = now + timedelta(hours=float(fallback["after_hours"]))
        return decision
    if fallback and facts.reachable(customer_id, [fallback["channel"]]):
        return _message(step, position, fallback["channel"], "fallback_sent", phase, suffix="fallback")
    return Decision(step_id, "send", "unreachable", next_step=after)


def _message(
    step: dict[str, Any], position: Position, channel: str, outcome: str, phase: str, suffix: str = ""
) -> Decision:
    variant = rules.variant_for(step, channel)
    if channel == Channel.WHATSAPP:
        parameters = variant.get("parameters", [])
        if isinstance(parameters, str):
            parameters = [line.strip() for line in parameters.splitlines() if line.strip()]
        content: dict[str, Any] = {"template": variant["template"], "parameters": list(parameters)}
    else:
        content = variant
    visit = visit_of(position, step["id"], phase)
    return Decision(
        step["id"],
        "send",
        outcome,
        next_step=step.get("next", ""),
        channel=channel,
        message_key=message_key(position, step["id"], suffix, visit),
        content=content,
        visit=visit,
    )
