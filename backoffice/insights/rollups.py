"""Batched writes of the rollups: one upsert per batch, whatever the number of keys."""

from decimal import Decimal

from backoffice.eventstore.upserts import upsert

from .models import DailyMetric

# Keyed (day, channel, metric, dimension) -> delta to add.
Deltas = dict[tuple, Decimal]


def month_index(day) -> int:
    """Months since year 0: month arithmetic as integers on every database."""
    return day.year * 12 + day.month - 1


def add_to_daily_metrics(deltas: Deltas) -> None:
    """Add each delta to its row, creating the rows that do not exist yet: one statement, the addition done by the
    database (INSERT ... ON CONFLICT DO UPDATE SET value = value + the delta), no read of the rows first."""
    if not deltas:
        return
    upsert(
        DailyMetric,
        ("day", "channel", "metric", "dimension", "value"),
        [(*key, value) for key, value in deltas.items()],
        key=("day", "channel", "metric", "dimension"),
        merge={"value": "add"},
    )
