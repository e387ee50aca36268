"""Batched writes of the rollups: one statement per batch, whatever the number of keys."""

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from .models import DailyMetric

# Keyed (day, channel, metric, dimension) -> delta to add.
Deltas = dict[tuple, Decimal]

_SQLITE_ROWS_PER_STATEMENT = 150  # 5 parameters a row, under SQLite's default limit of 999 variables


def month_index(day) -> int:
    """Months since year 0: month arithmetic as integers on every database."""
    return day.year * 12 + day.month - 1


def add_to_daily_metrics(deltas: Deltas) -> None:
    """Add each delta to its row, creating the rows that do not exist yet: INSERT ... ON CONFLICT DO UPDATE."""
    rows = [(day, channel, metric, dimension, value) for (day, channel, metric, dimension), value in deltas.items()]
    if not rows:
        return
    table = DailyMetric._meta.db_table
    conflict = f"ON CONFLICT (day, channel, metric, dimension) DO UPDATE SET value = {table}.value + EXCLUDED.value"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            days, channels, metrics, dimensions, values = (list(column) for column in zip(*rows, strict=True))
            sql = f"INSERT INTO {table} (day, channel, metric, dimension, value) SELECT * FROM unnest("  # noqa: S608
            sql += f"%s::date[], %s::text[], %s::text[], %s::text[], %s::numeric[]) {conflict}"
            cursor.execute(sql, [days, channels, metrics, dimensions, values])
            return
        for chunk in _chunks(rows, _SQLITE_ROWS_PER_STATEMENT):
            placeholders = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            params = [str(v) if isinstance(v, Decimal) else v for row in chunk for v in row]
            cursor.execute(
                f"INSERT INTO {table} (day, channel, metric, dimension, value) VALUES {placeholders} {conflict}",  # noqa: S608
                params,
            )


def _chunks(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
