"""Batched writes of the rollups: one read and one upsert per batch, whatever the number of keys."""

from decimal import Decimal

from .models import DailyMetric

# Keyed (day, channel, metric, dimension) -> delta to add.
Deltas = dict[tuple, Decimal]


def month_index(day) -> int:
    """Months since year 0: month arithmetic as integers on every database."""
    return day.year * 12 + day.month - 1


def add_to_daily_metrics(deltas: Deltas) -> None:
    """Add each delta to its row, creating the rows that do not exist yet.

    The new values are computed from one read of the rows and written by one INSERT ... ON CONFLICT DO UPDATE
    (bulk_create), so the database applies no expression per row. Only insights.rollups writes these rows, and one
    worker at a time applies it (its checkpoint is its lease), so nothing moves them between the read and the write.
    """
    if not deltas:
        return
    values = dict(deltas)
    rows = DailyMetric.objects.filter(
        day__in={key[0] for key in deltas},
        channel__in={key[1] for key in deltas},
        metric__in={key[2] for key in deltas},
        dimension__in={key[3] for key in deltas},
    ).values_list("day", "channel", "metric", "dimension", "value")
    for day, channel, metric, dimension, value in rows:
        key = (day, channel, metric, dimension)
        if key in values:
            values[key] += value
    DailyMetric.objects.bulk_create(
        [
            DailyMetric(day=day, channel=channel, metric=metric, dimension=dimension, value=value)
            for (day, channel, metric, dimension), value in values.items()
        ],
        update_conflicts=True,
        unique_fields=["day", "channel", "metric", "dimension"],
        update_fields=["value"],
    )
