"""Journey runs read and written in bulk, as plain rows: the step workers take hundreds of runs per transaction and the
projection moves them, and a model instance per run (Model.__init__ per field) or a value prepared by each field
(get_db_prep_save) cost more than the database took for the whole batch. On PostgreSQL each batch is one statement
with array parameters bound in binary (backoffice.eventstore.sql); elsewhere the ORM.
"""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from backoffice.eventstore.sql import execute_pg

from .models import Journey, JourneyRun, JourneyStatus, RunStatus

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
    path: list

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


def _table() -> str:
    return connection.ops.quote_name(JourneyRun._meta.db_table)


def _names(fields: Sequence[models.Field]) -> list[str]:
    return [connection.ops.quote_name(f.column) for f in fields]


def runs_by_id(ids: list[uuid.UUID]) -> dict[uuid.UUID, RunRow]:
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        rows = execute_pg(
            f"SELECT {', '.join(_names(FIELDS))} FROM {_table()} WHERE id = ANY(%b::uuid[])",  # noqa: S608 - names
            [ids],
        )
    else:
        rows = list(JourneyRun.objects.filter(id__in=ids).values_list(*COLUMNS))
    return {run.id: run for run in map(RunRow.from_row, rows)}


def runs_of_people(customer_ids: list[uuid.UUID], journey_ids: list[uuid.UUID]) -> list[RunRow]:
    """Every run of these people in these journeys (the process manager's batch: thousands of people)."""
    if not customer_ids or not journey_ids:
        return []
    if connection.vendor == "postgresql":
        rows = execute_pg(
            f"SELECT {', '.join(_names(FIELDS))} FROM {_table()} "  # noqa: S608 - names
            "WHERE customer_id = ANY(%b::uuid[]) AND journey_id = ANY(%b::uuid[])",
            [customer_ids, journey_ids],
        )
    else:
        rows = list(
            JourneyRun.objects.filter(customer_id__in=customer_ids, journey_id__in=journey_ids).values_list(*COLUMNS)
        )
    return [RunRow.from_row(row) for row in rows]


def runs_take_due(*, now: datetime, limit: int) -> list[RunRow]:
    """The next due runs of live journeys, oldest due first, locked for this transaction; runs another worker holds
    are skipped (`FOR UPDATE SKIP LOCKED`: workers never share a run)."""
    if connection.vendor != "postgresql":
        found = (
            JourneyRun.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=RunStatus.ACTIVE, due_at__lte=now, journey__status=JourneyStatus.LIVE)
            .order_by("due_at")
            .values_list(*COLUMNS)[:limit]
        )
        return [RunRow.from_row(row) for row in found]
    columns = ", ".join(f"r.{name}" for name in _names(FIELDS))
    journeys = connection.ops.quote_name(Journey._meta.db_table)
    rows = execute_pg(
        f"SELECT {columns} FROM {_table()} r JOIN {journeys} j ON j.id = r.journey_id "  # noqa: S608 - names
        "WHERE r.status = %b AND r.due_at <= %b AND j.status = %b "
        "ORDER BY r.due_at LIMIT %b FOR UPDATE OF r SKIP LOCKED",
        [RunStatus.ACTIVE.value, now, JourneyStatus.LIVE.value, limit],
    )
    return [RunRow.from_row(row) for row in rows]


def _arrays(runs: Sequence[RunRow], fields: Sequence[models.Field]) -> tuple[list[list[Any]], list[str]]:
    """One array per field (JSON as text, cast in the statement) and its placeholder."""
    arrays, marks = [], []
    for f in fields:
        if isinstance(f, models.JSONField):
            arrays.append([json.dumps(getattr(run, f.attname), cls=DjangoJSONEncoder) for run in runs])
            marks.append("%b::text[]")
        else:
            arrays.append([getattr(run, f.attname) for run in runs])
            marks.append(f"%b::{f.db_type(connection)}[]")
    return arrays, marks


def _value(f: models.Field, column: str) -> str:
    return f"v.{column}::jsonb" if isinstance(f, models.JSONField) else f"v.{column}"


def runs_insert(runs: Sequence[RunRow]) -> None:
    if not runs:
        return
    names = _names(FIELDS)
    if connection.vendor == "postgresql":
        arrays, marks = _arrays(runs, FIELDS)
        values = ", ".join(_value(f, name) for f, name in zip(FIELDS, names, strict=True))
        execute_pg(
            f"INSERT INTO {_table()} ({', '.join(names)}) SELECT {values} "  # noqa: S608 - names
            f"FROM unnest({', '.join(marks)}) AS v({', '.join(names)})",
            arrays,
        )
        return
    rows = [[f.get_db_prep_save(getattr(run, f.attname), connection) for f in FIELDS] for run in runs]
    marks = ", ".join(["%s"] * len(FIELDS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {_table()} ({', '.join(names)}) VALUES ({marks})", rows)  # noqa: S608


def runs_update(runs: Sequence[RunRow], field_names: Sequence[str]) -> None:
    """Write these fields of these runs, one statement for the batch."""
    if not runs:
        return
    fields = [JourneyRun._meta.get_field(name) for name in field_names]
    pk = JourneyRun._meta.pk
    assert pk is not None
    if connection.vendor == "postgresql":
        columns = [pk, *fields]
        names = _names(columns)
        arrays, marks = _arrays(runs, columns)
        assignments = ", ".join(f"{name} = {_value(f, name)}" for f, name in zip(columns[1:], names[1:], strict=True))
        execute_pg(
            f"UPDATE {_table()} AS t SET {assignments} FROM unnest({', '.join(marks)}) "  # noqa: S608 - names
            f"AS v({', '.join(names)}) WHERE t.{names[0]} = v.{names[0]}",
            arrays,
        )
        return
    assignments = ", ".join(f"{name} = %s" for name in _names(fields))
    rows = [
        [f.get_db_prep_save(getattr(run, f.attname), connection) for f in fields]
        + [pk.get_db_prep_value(run.id, connection)]
        for run in runs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {_table()} SET {assignments} WHERE {pk.column} = %s", rows)  # noqa: S608
