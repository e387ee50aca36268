"""A journey's definition: what it holds, the checks that must pass before it is published (each refusal names the
step), and the pure decisions every run and the simulator share (conditions on the trigger, splits, wait times).

    {"trigger": {"kind": "event", "event": "cart.abandoned", "channels": ["web", "app"],
                 "conditions": [{"field": "data.total", "cmp": "gte", "value": 30}]}
              | {"kind": "segment", "segment": "<uuid>", "include_current_members": true}
              | {"kind": "date", "attribute": "birthday", "time": "10:00"},
     "goal": {"event": "order.placed"},                       # optional: takes the person out at once
     "reentry": {"mode": "once" | "every_time" | "once_per_days", "days": 30},
     "cap": 10000,                                            # optional: at most this many entries
     "start": "wait-1",
     "steps": [
       {"id": "wait-1", "kind": "wait", "minutes": 60, "next": "send-1"},
       {"id": "w2", "kind": "wait", "until": {"time": "10:00", "weekdays": [0, 1, 2, 3, 4]}, "next": ...},
       {"id": "we", "kind": "wait_event", "event": "order.collected", "timeout_minutes": 1440,
        "next": "<on the event>", "timeout_next": "<on timeout>"},
       {"id": "b", "kind": "branch", "condition": {"source": "trigger", "field": "channel", "cmp": "eq",
        "value": "app"} | {"source": "profile", "rules": <segment rules>}, "yes": ..., "no": ...},
       {"id": "ab", "kind": "split", "paths": [{"name": "A", "share": 50, "next": ...}, ...]},
       {"id": "send-1", "kind": "send", "channel": "whatsapp" | "best", "channels": [...],
        "variants": {"whatsapp": {"template": ..., "parameters": ...}, "email": {"subject": ..., "body": ...}},
        "fallback": {"channel": "email", "after_hours": 4}, "optimise_send_time": false, "next": ...},
       {"id": "call", "kind": "task", "queue": "support" | "store", "title": "Call this customer", "next": ...},
       {"id": "tag", "kind": "tag", "tag": "vip", "next": ...},
       {"id": "end", "kind": "end"}]}

A segment trigger enters people when they join the segment (not members at the previous evaluation, members now);
`include_current_members` (default true) says whether the members at the first evaluation count as joining. A date
trigger enters people on the day of the attribute (its month and day, every year; 29 February on the 28th in other
years) in their own time zone, from `time` (local, default 00:00): once per occurrence, by the re-entry rules.

A step without `next` ends the run. Loops are allowed only through a wait: a cycle of steps that never waits would
run forever in one transaction.
"""

import calendar
import hashlib
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo

from backoffice.eventstore import schema
from backoffice.eventstore.vocabulary import OUTBOUND_CHANNELS

STEP_KINDS: Final = ("wait", "wait_event", "branch", "split", "send", "task", "tag", "end")
WAITING_KINDS: Final = ("wait", "wait_event")
# What each channel's variant must say (the keys of messaging.channels.content_for).
VARIANT_KEYS: Final = {
    "email": ("subject", "body"),
    "sms": ("text",),
    "whatsapp": ("template",),
    "push": ("title", "body"),
    "facebook": ("text",),
    "instagram": ("text",),
}
OPTIONAL_VARIANT_KEYS: Final = {"whatsapp": ("parameters",)}
COMPARISONS: Final = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists")
REENTRY_MODES: Final = ("once", "every_time", "once_per_days")
# Date attributes a date trigger may name (read through customers' selectors, services.dates).
DATE_ATTRIBUTES: Final = ("birthday",)
# Two occurrences of a yearly date are at least 364 days apart (365, less a change of the person's time zone): no
# person enters a date-triggered journey twice within this, however often beat looks.
DATE_OCCURRENCE_GAP: Final = timedelta(days=360)
TASK_QUEUES: Final = ("support", "store")
MAX_STEPS: Final = 100
# Upper bounds of the numbers a definition holds: a wait or a re-entry period beyond them is a typo, and one beyond
# what a datetime can hold would stop the process manager on every event it reads (an OverflowError in its batch).
MAX_WAIT_MINUTES: Final = 366 * 24 * 60
MAX_REENTRY_DAYS: Final = 3660
STEP_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DefinitionError(Exception):
    """The definition cannot be published: `errors` name each broken step ([{field, message, code}])."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(e["message"] for e in errors))


def _error(errors: list, field: str, message: str, code: str) -> None:
    errors.append({"field": field, "message": message, "code": code})


def validate(definition: Any, *, known_segments: set[str] | None = None) -> list[dict[str, str]]:
    """Every reason this definition cannot run, each naming its step (`steps.<id>.<field>`); [] when it can."""
    errors: list[dict[str, str]] = []
    if not isinstance(definition, dict):
        return [{"field": "definition", "message": "must be an object", "code": "invalid"}]
    _validate_trigger(definition.get("trigger"), errors, known_segments)
    goal = definition.get("goal")
    if goal is not None:
        if not isinstance(goal, dict) or not isinstance(goal.get("event"), str):
            _error(errors, "goal.event", "the goal names an event type", "required")
        elif not schema.is_known_type(goal["event"]):
            _error(errors, "goal.event", f"the goal event {goal['event']!r} does not exist", "unknown_event")
    reentry = definition.get("reentry", {"mode": "once"})
    if not isinstance(reentry, dict) or reentry.get("mode") not in REENTRY_MODES:
        _error(errors, "reentry.mode", f"one of {', '.join(REENTRY_MODES)}", "invalid_choice")
    elif reentry["mode"] == "once_per_days" and not _positive_int(reentry.get("days"), most=MAX_REENTRY_DAYS):
        _error(errors, "reentry.days", f"a whole number of days, 1 to {MAX_REENTRY_DAYS}", "invalid")
    cap = definition.get("cap")
    if cap is not None and not _positive_int(cap):
        _error(errors, "cap", "a whole number of people, at least 1", "invalid")
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        _error(errors, "steps", "a journey has at least one step", "required")
        return errors
    if len(steps) > MAX_STEPS:
        _error(errors, "steps", f"at most {MAX_STEPS} steps", "max_length")
        return errors
    by_id: dict[str, dict] = {}
    for index, step in enumerate(steps):
        step_id = step.get("id") if isinstance(step, dict) else None
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            _error(errors, f"steps.{index}.id", f"step {index + 1}: an id of letters, digits, - or _", "invalid")
            continue
        if step_id in by_id:
            _error(errors, f"steps.{step_id}.id", f"step {step_id!r} is declared twice", "duplicate")
            continue
        by_id[step_id] = step
    start = definition.get("start", steps[0].get("id") if isinstance(steps[0], dict) else None)
    if not isinstance(start, str) or start not in by_id:
        _error(errors, "start", f"the first step {start!r} does not exist", "unknown_step")
    for step_id, step in by_id.items():
        _validate_step(step_id, step, by_id, errors)
    if not errors:
        _validate_graph(start, by_id, errors)
    return errors


def _positive_int(value: Any, *, most: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1 and (most is None or value <= most)


def _validate_trigger(trigger: Any, errors: list, known_segments: set[str] | None) -> None:
    if not isinstance(trigger, dict):
        _error(errors, "trigger", "a journey has an entry trigger", "required")
        return
    kind = trigger.get("kind")
    if kind == "event":
        event = trigger.get("event")
        if not isinstance(event, str) or not schema.is_known_type(event):
            _error(errors, "trigger.event", f"the trigger event {event!r} does not exist", "unknown_event")
        channels = trigger.get("channels", [])
        if not isinstance(channels, list) or any(channel not in schema.CHANNELS for channel in channels):
            _error(errors, "trigger.channels", f"channels among {', '.join(schema.CHANNELS)}", "invalid_choice")
        conditions = trigger.get("conditions") or []
        if not isinstance(conditions, list):
            _error(errors, "trigger.conditions", "the trigger's conditions are a list", "invalid")
            conditions = []
        for index, condition in enumerate(conditions):
            _validate_event_condition(condition, f"trigger.conditions.{index}", "the trigger", errors)
    elif kind == "segment":
        segment = str(trigger.get("segment", ""))
        if known_segments is not None and segment not in known_segments:
            _error(errors, "trigger.segment", f"the segment {segment!r} does not exist", "unknown_segment")
        if not isinstance(trigger.get("include_current_members", True), bool):
            message = "whether the members at the first evaluation enter: true or false"
            _error(errors, "trigger.include_current_members", message, "invalid")
    elif kind == "date":
        attribute = trigger.get("attribute")
        if attribute not in DATE_ATTRIBUTES:
            message = f"the date attribute {attribute!r} is not one of {', '.join(DATE_ATTRIBUTES)}"
            _error(errors, "trigger.attribute", message, "invalid_choice")
        if "time" in trigger and _clock(trigger["time"]) is None:
            _error(errors, "trigger.time", "the local time of day people enter, HH:MM", "invalid")
        unknown = set(trigger) - {"kind", "attribute", "time"}
        if unknown:
            _error(errors, "trigger", f"a date trigger has no {', '.join(sorted(unknown))}", "invalid")
    else:
        _error(errors, "trigger.kind", "one of event, segment, date", "invalid_choice")


def _validate_event_condition(condition: Any, field: str, where: str, errors: list) -> None:
    if not isinstance(condition, dict):
        _error(errors, field, f"{where}: a condition is an object", "invalid")
        return
    name = condition.get("field")
    if not isinstance(name, str) or not (name == "channel" or name.startswith("data.")):
        _error(errors, f"{field}.field", f"{where}: the field is channel or data.<name>", "invalid")
    cmp = condition.get("cmp")
    if not isinstance(cmp, str) or cmp not in COMPARISONS:
        _error(errors, f"{field}.cmp", f"{where}: the comparison is one of {', '.join(COMPARISONS)}", "invalid")
    elif cmp in ORDERED and not _orderable(condition.get("value")):
        message = f"{where}: the value is a finite number, or a text compared as text"
        _error(errors, f"{field}.value", message, "invalid")
    elif cmp == "in" and not isinstance(condition.get("value"), list):
        _error(errors, f"{field}.value", f"{where}: the value is a list", "invalid")


ORDERED: Final = ("gt", "gte", "lt", "lte")


def _orderable(value: Any) -> bool:
    """A value `gt`/`gte`/`lt`/`lte` can compare: a finite number (1e400 reads as infinity, NaN compares with
    nothing), or a text that is not a number, compared as text."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return isinstance(value, str)


def _validate_step(step_id: str, step: dict, by_id: dict, errors: list) -> None:
    kind = step.get("kind")
    at = f"steps.{step_id}"
    name = f"step {step_id!r}"
    if kind not in STEP_KINDS:
        _error(errors, f"{at}.kind", f"{name}: the kind is one of {', '.join(STEP_KINDS)}", "invalid_choice")
        return
    pointers = {"branch": ("yes", "no"), "wait_event": ("next", "timeout_next")}.get(kind, ("next",))
    for pointer in pointers:
        target = step.get(pointer)
        if target is None or target == "":
            if kind == "branch":
                _error(errors, f"{at}.{pointer}", f"{name}: the branch has no {pointer!r} path", "no_path")
            continue
        if not isinstance(target, str) or target not in by_id:
            _error(errors, f"{at}.{pointer}", f"{name}: goes to {target!r}, which does not exist", "unknown_step")
    if kind == "end" and step.get("next"):
        _error(errors, f"{at}.next", f"{name}: an end step goes nowhere", "invalid")
    if kind == "wait":
        _validate_wait(step, at, name, errors)
    elif kind == "wait_event":
        event = step.get("event")
        if not isinstance(event, str) or not schema.is_known_type(event):
            _error(errors, f"{at}.event", f"{name}: the event {event!r} does not exist", "unknown_event")
        if not _positive_int(step.get("timeout_minutes"), most=MAX_WAIT_MINUTES):
            message = f"{name}: a timeout in minutes, 1 to {MAX_WAIT_MINUTES} (a year)"
            _error(errors, f"{at}.timeout_minutes", message, "required")
    elif kind == "branch":
        _validate_branch_condition(step.get("condition"), at, name, errors)
    elif kind == "split":
        paths = step.get("paths")
        if not isinstance(paths, list) or len(paths) < 2:
            _error(errors, f"{at}.paths", f"{name}: a split has at least two paths", "no_path")
            return
        total = Decimal(0)
        for index, path in enumerate(paths):
            target = path.get("next") if isinstance(path, dict) else None
            if not target:
                _error(errors, f"{at}.paths.{index}.next", f"{name}: path {index + 1} goes nowhere", "no_path")
            elif not isinstance(target, str) or target not in by_id:
                message = f"{name}: path {index + 1} goes to {target!r}, which does not exist"
                _error(errors, f"{at}.paths.{index}.next", message, "unknown_step")
            try:
                share = Decimal(str(path.get("share"))) if isinstance(path, dict) else Decimal(-1)
            except InvalidOperation:
                share = Decimal(-1)
            if not share.is_finite() or share <= 0:
                _error(errors, f"{at}.paths.{index}.share", f"{name}: a share above 0", "invalid")
            else:
                total += share
        if total != 100:
            _error(errors, f"{at}.paths", f"{name}: the shares add up to {total}, not 100", "invalid")
    elif kind == "send":
        _validate_send(step, at, name, errors)
    elif kind == "task":
        if step.get("queue") not in TASK_QUEUES:
            _error(errors, f"{at}.queue", f"{name}: the task goes to {' or '.join(TASK_QUEUES)}", "invalid_choice")
        if not str(step.get("title", "")).strip():
            _error(errors, f"{at}.title", f"{name}: the task has a title", "required")
    elif kind == "tag":
        tag = step.get("tag")
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
            _error(errors, f"{at}.tag", f"{name}: a tag of 1 to 64 characters", "required")


def _validate_wait(step: dict, at: str, name: str, errors: list) -> None:
    until = step.get("until")
    if until is None:
        if not _positive_int(step.get("minutes"), most=MAX_WAIT_MINUTES):
            message = f"{name}: wait a number of minutes (1 to {MAX_WAIT_MINUTES}, a year) or until a time"
            _error(errors, f"{at}.minutes", message, "required")
        return
    if not isinstance(until, dict) or _clock(until.get("time")) is None:
        _error(errors, f"{at}.until.time", f"{name}: a local time of day, HH:MM", "invalid")
    weekdays = until.get("weekdays", []) if isinstance(until, dict) else []
    if not isinstance(weekdays, list) or any(d not in range(7) for d in weekdays):
        _error(errors, f"{at}.until.weekdays", f"{name}: weekdays 0 (Monday) to 6 (Sunday)", "invalid")


def _validate_branch_condition(condition: Any, at: str, name: str, errors: list) -> None:
    if not isinstance(condition, dict):
        _error(errors, f"{at}.condition", f"{name}: the branch has a condition", "required")
        return
    source = condition.get("source")
    if source == "trigger":
        _validate_event_condition(condition, f"{at}.condition", name, errors)
    elif source == "profile":
        from ..segments import SegmentRuleError, validate_rules  # the 360 view's rules, as segments write them

        try:
            validate_rules(condition.get("rules"), field=f"{at}.condition.rules")
        except SegmentRuleError as exc:
            for error in exc.errors:
                _error(errors, error["field"], f"{name}: {error['message']}", error.get("code", "invalid"))
    elif source == "tag":
        if not isinstance(condition.get("tag"), str) or not condition["tag"]:
            _error(errors, f"{at}.condition.tag", f"{name}: the tag to look for", "required")
    else:
        _error(errors, f"{at}.condition.source", f"{name}: the condition is on trigger, profile or tag", "invalid")


def send_channels(step: dict) -> list[str]:
    """The channels a send step may use, in order of preference (the fallback last)."""
    channel = step.get("channel")
    chosen = list(step.get("channels") or []) if channel == "best" else [channel]
    fallback = (step.get("fallback") or {}).get("channel")
    if fallback and fallback not in chosen:
        chosen.append(fallback)
    return chosen


def _validate_send(step: dict, at: str, name: str, errors: list) -> None:
    channel = step.get("channel")
    if channel == "best":
        channels = step.get("channels")
        if not isinstance(channels, list) or not channels:
            _error(errors, f"{at}.channels", f"{name}: the best channel among which channels", "required")
            return
    elif channel not in OUTBOUND_CHANNELS:
        _error(errors, f"{at}.channel", f"{name}: best, or one of {', '.join(OUTBOUND_CHANNELS)}", "invalid_choice")
        return
    fallback = step.get("fallback")
    if fallback is not None:
        if not isinstance(fallback, dict) or fallback.get("channel") not in OUTBOUND_CHANNELS:
            _error(errors, f"{at}.fallback.channel", f"{name}: the fallback is a channel", "invalid_choice")
            return
        hours = fallback.get("after_hours")
        if not (isinstance(hours, int | float) and not isinstance(hours, bool) and 0 <= hours <= 24 * 14):
            message = f"{name}: hours to wait for a read, 0 (only when the channel cannot be used) to 336"
            _error(errors, f"{at}.fallback.after_hours", message, "invalid")
    if not isinstance(step.get("optimise_send_time", False), bool):
        _error(errors, f"{at}.optimise_send_time", f"{name}: true or false", "invalid")
    variants = step.get("variants") if isinstance(step.get("variants"), dict) else {}
    for used in send_channels(step):
        if used not in OUTBOUND_CHANNELS:
            _error(errors, f"{at}.channels", f"{name}: {used!r} is not a channel", "invalid_choice")
            continue
        variant = variants.get(used)
        if not isinstance(variant, dict):
            _error(errors, f"{at}.variants.{used}", f"{name}: no variant for {used}", "missing_variant")
            continue
        for key in VARIANT_KEYS[used]:
            if not str(variant.get(key, "")).strip():
                _error(errors, f"{at}.variants.{used}.{key}", f"{name}: the {used} variant needs a {key}", "required")
        unknown = set(variant) - set(VARIANT_KEYS[used]) - set(OPTIONAL_VARIANT_KEYS.get(used, ()))
        if unknown:
            message = f"{name}: the {used} variant has no {', '.join(sorted(unknown))}"
            _error(errors, f"{at}.variants.{used}", message, "invalid")


def _targets(step: dict) -> list[str]:
    kind = step.get("kind")
    if kind == "branch":
        return [t for t in (step.get("yes"), step.get("no")) if t]
    if kind == "split":
        return [p["next"] for p in step.get("paths", []) if p.get("next")]
    if kind == "wait_event":
        return [t for t in (step.get("next"), step.get("timeout_next")) if t]
    return [step["next"]] if step.get("next") else []


def _validate_graph(start: str, by_id: dict, errors: list) -> None:
    """Every step reachable from the first; no cycle that never waits."""
    seen, todo = set(), [start]
    while todo:
        step_id = todo.pop()
        if step_id not in seen:
            seen.add(step_id)
            todo.extend(_targets(by_id[step_id]))
    for step_id in by_id:
        if step_id not in seen:
            _error(errors, f"steps.{step_id}", f"step {step_id!r}: no path leads to it", "unreachable")
    # A cycle among the steps that run at once (a wait breaks it): depth-first, colouring the path.
    state: dict[str, int] = {}
    for root in by_id:
        if state.get(root):
            continue
        stack = [(root, iter(_instant_targets(by_id, root)))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                message = f"step {child!r}: a loop back to it never waits (add a wait step)"
                _error(errors, f"steps.{child}.next", message, "loop_without_wait")
                return
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(_instant_targets(by_id, child))))


def _instant_targets(by_id: dict, step_id: str) -> list[str]:
    step = by_id[step_id]
    if step.get("kind") in WAITING_KINDS:
        return []
    if step.get("kind") == "send" and (step.get("fallback") or {}).get("after_hours"):
        return []  # it waits for the read before it goes on
    return _targets(step)


# --- Decisions every run and the simulator share --------------------------------------------------------------------


def steps_by_id(definition: dict) -> dict[str, dict]:
    return {step["id"]: step for step in definition["steps"]}


def start_step(definition: dict) -> str:
    return definition.get("start") or definition["steps"][0]["id"]


def event_condition_holds(condition: dict, *, channel: str | None, data: dict) -> bool:
    """A condition on an event's channel or a field of its data (data.a.b for nested fields)."""
    if condition["field"] == "channel":
        present, value = channel is not None, channel
    else:
        present, value = True, data
        for part in condition["field"].removeprefix("data.").split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                present, value = False, None
                break
    wanted, cmp = condition.get("value"), condition["cmp"]
    if cmp == "exists":
        return present and value is not None
    if not present:
        return False
    if cmp == "in":
        return isinstance(wanted, list) and value in wanted
    if cmp in ("eq", "ne"):
        return (str(value) == str(wanted)) == (cmp == "eq")
    try:
        left, right = Decimal(str(value)), Decimal(str(wanted))
    except InvalidOperation:
        left, right = str(value), str(wanted)  # type: ignore[assignment]
    try:
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[cmp]
    except InvalidOperation:  # NaN on either side (an event's data may carry "NaN"): no order, the condition fails
        return False


def may_enter(
    reentry: dict, entered: list[datetime], *, is_active: bool, at: datetime, min_gap: timedelta | None = None
) -> bool:
    """Whether a person who entered the journey at `entered` (their previous entries) may enter again at `at`: never
    while still in it, then by the re-entry rules; `min_gap`: never closer than this to the last entry."""
    if is_active:
        return False
    if not entered:
        return True
    last = max(entered)
    if min_gap is not None and at < last + min_gap:
        return False
    if reentry["mode"] == "once":
        return False
    if reentry["mode"] == "once_per_days":
        return at >= last + timedelta(days=reentry["days"])
    return True


def date_falls_on(value: date, day: date) -> bool:
    """A yearly date attribute falls on `day`: same month and day; 29 February on the 28th in other years."""
    if (value.month, value.day) == (day.month, day.day):
        return True
    return (value.month, value.day) == (2, 29) and (day.month, day.day) == (2, 28) and not calendar.isleap(day.year)


def date_month_days(now: datetime) -> list[tuple[int, int]]:
    """Every (month, day) a yearly date may have to fall on today somewhere: the local date anywhere on Earth is
    the UTC date, the day before or the day after."""
    today = now.astimezone(UTC).date()
    days = [today + timedelta(days=delta) for delta in (-1, 0, 1)]
    found = {(d.month, d.day) for d in days}
    if any((d.month, d.day) == (2, 28) and not calendar.isleap(d.year) for d in days):
        found.add((2, 29))
    return sorted(found)


def date_is_due(trigger: dict, value: date, *, now: datetime, time_zone: str) -> bool:
    """A date trigger's day has come for this person: it is the attribute's day in their zone, at or after the
    trigger's local time."""
    local = now.astimezone(ZoneInfo(time_zone))
    start = _clock(trigger.get("time", "00:00")) or time(0, 0)
    return date_falls_on(value, local.date()) and local.time() >= start


def trigger_matches(trigger: dict, *, channel: str | None, data: dict) -> bool:
    channels = trigger.get("channels") or []
    if channels and channel not in channels:
        return False
    return all(event_condition_holds(c, channel=channel, data=data) for c in trigger.get("conditions") or [])


def _unit(*parts: Any) -> float:
    """A number in [0, 1) fixed by its parts: the same person always lands on the same side."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def is_holdout(journey_id: uuid.UUID, customer_id: uuid.UUID, share: Decimal) -> bool:
    return _unit("journey-holdout", journey_id, customer_id) < float(share)


def split_path(journey_id: uuid.UUID, step: dict, customer_id: uuid.UUID) -> dict:
    """The path of a split this person takes: by a hash of journey, step and person, so it is stable across runs,
    versions and the simulator, and the shares hold over many people."""
    point = _unit("journey-split", journey_id, step["id"], customer_id) * 100
    total = 0.0
    for path in step["paths"]:
        total += float(path["share"])
        if point < total:
            return path
    return step["paths"][-1]


def _clock(value: Any) -> time | None:
    try:
        return time.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def wait_until(step: dict, *, now: datetime, time_zone: str) -> datetime:
    """When a wait step started now ends: after its minutes, or at the next local time (on one of its weekdays)."""
    if step.get("until") is None:
        return now + timedelta(minutes=int(step["minutes"]))
    clock = _clock(step["until"]["time"])
    weekdays = step["until"].get("weekdays") or list(range(7))
    local = now.astimezone(ZoneInfo(time_zone))
    for days in range(8):
        day = local.date() + timedelta(days=days)
        moment = datetime.combine(day, clock, tzinfo=local.tzinfo)
        if day.weekday() in weekdays and moment > local:
            return moment
    raise AssertionError("a week always holds one of the weekdays")  # validated: weekdays within 0..6


def variant_for(step: dict, channel: str) -> dict[str, Any]:
    return dict(step["variants"][channel])
