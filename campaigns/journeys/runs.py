"""Journey runs read and written in bulk, as plain rows: the step workers take hundreds of runs per transaction and the
projection moves them, and a model instance per run (Model.__init__ per field) cost more than the database took for
the whole batch. Batch reads go through the event store's recorder of the database (`rows_matching_any`: one
statement with array parameters bound in binary on PostgreSQL, the ORM on SQLite); the due runs are taken through
the ORM; writes are one statement per batch through the store's read-model writer (backoffice.eventstore.upserts:
unnest arrays on PostgreSQL, one executemany on SQLite). No SQL of its own and no test of the database here.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db.models import Q

from backoffice.eventstore.backends import recorder
from backoffice.eventstore.upserts import upsert

from .models import JourneyRun, JourneyStatus, RunStatus

FIELDS = tuple(JourneyRun._meta.concrete_fields)
COLUMNS = tuple(f.attname for f in FIELDS)


class RunRow:
    """One JourneyRun row in memory (the attributes of the model's fields, by attname)."""

    __slots__ = COLUMNS

    id: uuid.UUID
    journey_id: uuid.UUID
    version: int
    customer_id: uuid.UUID
    entry: int
    is_holdout: bool
    status: str
    step: str
    phase: str
    due_at: datetime | None
    awaiting: str
    trigger_position: int | None
    last_message_id: str
    entered_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    exit_reason: str
    converted_at: datetime | None
    revenue: Decimal
    path: list[Any]

    def __init__(self, **values: Any):
        for name in COLUMNS:
            setattr(self, name, values.get(name, _DEFAULTS.get(name)))
        if self.path is None:
            self.path = []

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> "RunRow":
        run = cls.__new__(cls)
        for name, value in zip(COLUMNS, row, strict=True):
            setattr(run, name, value)
        return run

    @property
    def stream(self) -> str:
        return f"journey-{self.journey_id}-{self.customer_id}"


# What a new run holds before its events say otherwise (the model's defaults, as values of their Python types).
_DEFAULTS: dict[str, Any] = {
    "is_holdout": False,
    "status": RunStatus.ACTIVE.value,
    "step": "",
    "phase": "",
    "awaiting": "",
    "last_message_id": "",
    "exit_reason": "",
    "revenue": Decimal("0.00"),
}


def _values(run: RunRow, names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(run, name) for name in names)


def runs_by_id(ids: list[uuid.UUID]) -> dict[uuid.UUID, RunRow]:
    if not ids:
        return {}
    rows = recorder().rows_matching_any(JourneyRun, COLUMNS, {"id": ids})
    return {run.id: run for run in map(RunRow.from_row, rows)}


def runs_of_people(customer_ids: list[uuid.UUID], journey_ids: list[uuid.UUID]) -> list[RunRow]:
    """Every run of these people in these journeys (the process manager's batch: thousands of people)."""
    if not customer_ids or not journey_ids:
        return []
    rows = recorder().rows_matching_any(JourneyRun, COLUMNS, {"customer_id": customer_ids, "journey_id": journey_ids})
    return [RunRow.from_row(row) for row in rows]


def runs_take_due(
    *,
    now: datetime,
    limit: int,
    held_versions: Collection[tuple[uuid.UUID, int]] = (),
    held_until: datetime | None = None,
) -> list[RunRow]:
    """The next runs of live journeys due by `now`, oldest due first, locked for this transaction; runs another worker
    holds are skipped (`FOR UPDATE OF` the runs `SKIP LOCKED`: workers never share a run). Runs of `held_versions`
    (journey id, version) only when due by `held_until` too."""
    due = Q(due_at__lte=now)
    if held_versions and held_until is not None and held_until < now:
        of_held = reduce(or_, (Q(journey_id=journey_id, version=version) for journey_id, version in held_versions))
        due &= ~of_held | Q(due_at__lte=held_until)
    found = (
        JourneyRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(due, status=RunStatus.ACTIVE, journey__status=JourneyStatus.LIVE)
        .order_by("due_at")
        .values_list(*COLUMNS)[:limit]
    )
    return [RunRow.from_row(row) for row in found]


def runs_insert(runs: Sequence[RunRow]) -> None:
    """New runs, one statement for the batch (a run already stored, by id, is left as it is: its events were
    applied)."""
    if runs:
        upsert(JourneyRun, COLUMNS, (_values(run, COLUMNS) for run in runs), key=("id",), merge={})


def runs_update(runs: Sequence[RunRow], field_names: Sequence[str]) -> None:
    """Write these fields of these runs, one statement for the batch."""
    if not runs:
        return
    names = ("id", *field_names)
    upsert(
        JourneyRun,
        names,
        (_values(run, names) for run in runs),
        key=("id",),
        merge=dict.fromkeys(field_names, "replace"),
        update_only=True,
    )
