"""Reads of journeys: lists, one journey with its people per step, the report per step and branch, the journeys a
person is in, and whether a journey reminds abandoned carts (asked by orders through ORDERS_CART_REMINDER_OWNERS)."""

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from orders.events import CartAbandoned

from . import definition as rules
from .models import Journey, JourneyRun, JourneyStatus, JourneyVersion, RunStatus


def journeys_all() -> QuerySet[Journey]:
    return Journey.objects.all()


def journey_get(*, journey_id: uuid.UUID) -> Journey | None:
    return Journey.objects.filter(pk=journey_id).first()


def journeys_remind_abandoned_carts() -> bool:
    """A live or paused journey's live version starts on cart.abandoned: the reminder is its steps."""
    for journey_id, version in Journey.objects.exclude(status=JourneyStatus.DRAFT).values_list("id", "version"):
        found = JourneyVersion.objects.filter(journey_id=journey_id, version=version).values_list(
            "definition", flat=True
        )
        for definition in found:
            if (definition.get("trigger") or {}).get("event") == CartAbandoned.type_name:
                return True
    return False


def journey_people_at_steps(*, journey_id: uuid.UUID) -> dict[str, int]:
    """People in the journey now, per step they are at (every version)."""
    rows = (
        JourneyRun.objects.filter(journey_id=journey_id, status=RunStatus.ACTIVE, is_holdout=False)
        .values_list("step")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def journey_report(*, journey: Journey) -> dict:
    """Per step and branch: people at it now, through it, and its outcomes (sent per channel, branch taken, ...);
    for the journey: entered, exited by goal, converted, revenue, and the lift against the holdout (the conversion
    rate of the people who got the steps minus that of the people held out, as campaigns measure it)."""
    runs = JourneyRun.objects.filter(journey=journey)
    groups = {}
    for is_holdout in (False, True):
        mine = runs.filter(is_holdout=is_holdout)
        totals = mine.aggregate(n=Count("id"), revenue=Sum("revenue"))
        converted = mine.exclude(converted_at=None).count()
        groups[is_holdout] = {
            "entered": totals["n"],
            "converted": converted,
            "revenue": _amount(totals["revenue"]),
            "conversion_rate": round(converted / totals["n"], 4) if totals["n"] else None,
        }
    treated, held = groups[False], groups[True]
    lift = None
    if treated["conversion_rate"] is not None and held["conversion_rate"] is not None:
        lift = round(treated["conversion_rate"] - held["conversion_rate"], 4)
    figures = _path_figures(runs.filter(is_holdout=False))
    at_steps = journey_people_at_steps(journey_id=journey.id)
    definition = journey.definition if journey.definition.get("steps") else {}
    live = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
    if live is not None:
        definition = live.definition
    steps = []
    for step in definition.get("steps", []):
        outcomes = dict(figures.through.get(step["id"], {}))
        converted = figures.converted.get(step["id"], _Converted())
        row = {
            "id": step["id"],
            "kind": step.get("kind", ""),
            "at": at_steps.get(step["id"], 0),
            "through": sum(outcomes.values()),
            "outcomes": outcomes,
            "sent": sum(n for o, n in outcomes.items() if o in ("sent", "fallback_sent")),
            "converted": converted.people,
            "revenue": _amount(converted.revenue),
        }
        paths = _paths_of(step)
        if paths:
            row["branches"] = [
                _branch(outcome, target, figures, step["id"], held["conversion_rate"]) for outcome, target in paths
            ]
        steps.append(row)
    exits = dict(runs.exclude(exit_reason="").values_list("exit_reason").annotate(n=Count("id")).order_by())
    return {
        "journey": str(journey.id),
        "version": journey.version,
        "entered": treated["entered"] + held["entered"],
        "in_journey": runs.filter(status=RunStatus.ACTIVE, is_holdout=False).count(),
        "exited": {"goal": exits.get("goal", 0), "completed": exits.get("completed", 0)},
        "treated": treated,
        "holdout": held,
        "lift": lift,
        "steps": steps,
    }


@dataclass
class _Converted:
    people: int = 0
    revenue: Decimal = Decimal(0)
    entered: int = 0


@dataclass
class _Figures:
    """What the treated runs' paths say: per step the outcomes of every pass (`through`), and per step (and per step
    and outcome) the runs that took it, how many converted on the goal afterwards and their revenue."""

    through: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    converted: dict[str, _Converted] = field(default_factory=lambda: defaultdict(_Converted))
    paths: dict[tuple[str, str], _Converted] = field(default_factory=lambda: defaultdict(_Converted))


def _path_figures(runs: QuerySet[JourneyRun]) -> _Figures:
    """One pass over the runs. A run counts once per step and per path however often it went through (a loop back
    through a wait). Every step on a converted run's path came before its conversion: the goal takes a run out
    where it is (nothing is added to its path after), or converts it after it ended."""
    figures = _Figures()
    for path, converted_at, revenue in runs.values_list("path", "converted_at", "revenue").iterator():
        for step, outcome, _at in path:
            figures.through[step][outcome] += 1
        steps_done = {step for step, _outcome, _at in path}
        paths_taken = {(step, outcome) for step, outcome, _at in path}
        for step in steps_done:
            figures.converted[step].entered += 1
        for taken in paths_taken:
            figures.paths[taken].entered += 1
        if converted_at is None:
            continue
        for step in steps_done:
            figures.converted[step].people += 1
            figures.converted[step].revenue += revenue
        for taken in paths_taken:
            figures.paths[taken].people += 1
            figures.paths[taken].revenue += revenue
    return figures


def _paths_of(step: dict) -> list[tuple[str, str]]:
    """The outcomes of a step that chooses a path (as its journey.step_completed records them), with the step each
    leads to; [] for a step with one way on."""
    kind = step.get("kind")
    if kind == "branch":
        return [("yes", step.get("yes") or ""), ("no", step.get("no") or "")]
    if kind == "split":
        return [(f"path:{p.get('name', '')}", p.get("next") or "") for p in step.get("paths", [])]
    if kind == "wait_event":
        return [("event", step.get("next") or ""), ("timeout", step.get("timeout_next") or "")]
    return []


def _branch(outcome: str, target: str, figures: _Figures, step_id: str, holdout_rate: float | None) -> dict:
    """One path out of a step: people who took it, converted afterwards, their revenue, the conversion rate and the
    lift against the holdout (the path's rate minus the holdout's, as for the whole journey)."""
    taken = figures.paths.get((step_id, outcome), _Converted())
    rate = round(taken.people / taken.entered, 4) if taken.entered else None
    lift = round(rate - holdout_rate, 4) if rate is not None and holdout_rate is not None else None
    return {
        "outcome": outcome,
        "next": target,
        "entered": taken.entered,
        "converted": taken.people,
        "revenue": _amount(taken.revenue),
        "conversion_rate": rate,
        "lift": lift,
    }


def _amount(value: Decimal | None) -> str:
    return str((value or Decimal(0)).quantize(Decimal("0.01")))


def customer_journeys(*, customer_id: uuid.UUID) -> list[dict]:
    """The journeys this person is in (or was, newest first): their step, what comes next and when."""
    runs = list(JourneyRun.objects.filter(customer_id=customer_id).select_related("journey").order_by("-entered_at"))
    versions = {
        (v.journey_id, v.version): v.definition
        for v in JourneyVersion.objects.filter(journey_id__in={run.journey_id for run in runs})
    }
    found = []
    for run in runs:
        steps = rules.steps_by_id(versions.get((run.journey_id, run.version), {"steps": []}))
        step = steps.get(run.step, {})
        found.append(
            {
                "journey": run.journey,
                "run": run,
                "step": step,
                "next": _next_of(step, steps),
                "due_at": run.due_at,
                "awaiting": run.awaiting,
            }
        )
    return found


def _next_of(step: dict, steps: dict) -> list[dict]:
    if not step:
        return []
    targets = {
        "branch": [step.get("yes"), step.get("no")],
        "split": [p.get("next") for p in step.get("paths", [])],
        "wait_event": [step.get("next"), step.get("timeout_next")],
    }.get(step.get("kind"), [step.get("next")])
    return [steps[t] for t in targets if t and t in steps]


def journeys_funnel(*, limit: int = 10) -> list[dict]:
    """The published journeys, most recently changed first: entered, in the journey now, exited by goal, converted
    and the lift against the holdout (the insights dashboard's journey block)."""
    rows = []
    for journey in Journey.objects.exclude(status=JourneyStatus.DRAFT).order_by("-updated_at")[:limit]:
        report = journey_report(journey=journey)
        rows.append(
            {
                "name": journey.name,
                "entered": report["entered"],
                "in_journey": report["in_journey"],
                "goal": report["exited"]["goal"],
                "converted": report["treated"]["converted"] + report["holdout"]["converted"],
                "lift": report["lift"],
            }
        )
    return rows
