"""The query parameters every figure takes (from, to, channel, churn_days), parsed once for the API and the admin."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date

from backoffice.eventstore.schema import CHANNELS

DEFAULT_DAYS = 365
MAX_DAYS = 5 * 366


class RangeInvalid(ValueError):
    def __init__(self, field: str, message: str, code: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.code = field, message, code


@dataclass(frozen=True)
class MetricsQuery:
    start: date
    end: date
    channel: str | None
    churn_days: int | None


def _date(params, name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = parse_date(raw)
    except ValueError:
        value = None
    if value is None:
        raise RangeInvalid(name, f"{raw!r} is not a date (YYYY-MM-DD)", "invalid_date")
    return value


def metrics_query(params) -> MetricsQuery:
    """from/to default to the 365 days ending today; both days are included."""
    end = _date(params, "to") or timezone.localdate()
    start = _date(params, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise RangeInvalid("from", f"{start} is after to ({end})", "after_to")
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeInvalid("to", f"the range may span at most {MAX_DAYS} days", "range_too_long")
    channel = (params.get("channel") or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise RangeInvalid("channel", f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}", "unknown_channel")
    raw_churn = (params.get("churn_days") or "").strip()
    churn_days = None
    if raw_churn:
        if not raw_churn.isdigit() or not 1 <= int(raw_churn) <= 3650:
            raise RangeInvalid("churn_days", "must be a whole number of days from 1 to 3650", "invalid")
        churn_days = int(raw_churn)
    return MetricsQuery(start, end, channel, churn_days)
