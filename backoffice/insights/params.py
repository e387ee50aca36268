"""The query parameters every figure takes (from, to, channel, churn_days), parsed once for the API and the admin.

Days are taken within the span of time the product accepts (backoffice.eventstore.times: 1970-01-01 to 2099-12-31
by default): nothing is recorded outside it, and the figures' arithmetic (the previous period, the churn cutoff, a
day's end in the local zone) stays far from the ends of Python's calendar, where it overflows."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date

from backoffice.eventstore import times
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
    first, last = day_span()
    if not first <= value <= last:
        raise RangeInvalid(name, f"{value} is outside {first}..{last}", "out_of_range")
    return value


def day_span() -> tuple[date, date]:
    """The first and the last day a range may name."""
    return times.earliest().date(), (times.LATEST - timedelta(days=1)).date()


def metrics_query(params) -> MetricsQuery:
    """from/to default to the 365 days ending today (not before the first day of day_span()); both days are
    included."""
    start, end = _date(params, "from"), _date(params, "to")
    end = end or timezone.localdate()
    start = start or max(end - timedelta(days=DEFAULT_DAYS - 1), day_span()[0])
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
        # isascii(): isdigit() also says yes to "²", which int() refuses; and int() refuses over 4300 digits.
        is_number = raw_churn.isascii() and raw_churn.isdigit() and len(raw_churn) <= 10
        if not is_number or not 1 <= int(raw_churn) <= 3650:
            raise RangeInvalid("churn_days", "must be a whole number of days from 1 to 3650", "invalid")
        churn_days = int(raw_churn)
    return MetricsQuery(start, end, channel, churn_days)
