"""The span of time the product accepts: what happened before the earliest time or long after now is a typo or an
attack, and times near the ends of Python's calendar break every conversion to a local zone (year 1 in
Europe/Madrid is an OverflowError). Every part that takes a time from outside checks it here."""

from datetime import UTC, date, datetime

from django.conf import settings
from django.utils import timezone

# Far enough for any plan (a campaign or a voucher valid for years), short of the calendar's edge.
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def earliest() -> datetime:
    return settings.EVENTSTORE_EARLIEST_OCCURRED_AT


def out_of_range(value: datetime) -> str | None:
    """Why an aware time is refused, or None when it is within [earliest, LATEST)."""
    if value < earliest():
        return f"is before {earliest().isoformat()}"
    if value >= LATEST:
        return f"is not before {LATEST.isoformat()}"
    return None


# Local days already computed, per zone and quarter of an hour: a catch-up meets the same few days batch after batch.
_LOCAL_DAYS: dict[str, dict[int, date]] = {}
_LOCAL_DAYS_KEPT = 100_000


class LocalDays:
    """The local day (the current time zone: settings.TIME_ZONE in workers) of each moment, computed once per quarter of
    an hour and zone: every zone's offset and every change of it fall on whole quarters, and localtime() per event was
    a good part of a projection's batch."""

    def __init__(self) -> None:
        self._zone = timezone.get_current_timezone()
        self._days = _LOCAL_DAYS.setdefault(str(self._zone), {})
        if len(self._days) > _LOCAL_DAYS_KEPT:
            self._days.clear()

    def of(self, moment: datetime) -> date:
        bucket = int(moment.timestamp()) // 900
        day = self._days.get(bucket)
        if day is None:
            day = self._days[bucket] = moment.astimezone(self._zone).date()
        return day
