"""The span of time the product accepts: what happened before the earliest time or long after now is a typo or an
attack, and times near the ends of Python's calendar break every conversion to a local zone (year 1 in
Europe/Madrid is an OverflowError). Every part that takes a time from outside checks it here."""

from datetime import UTC, datetime

from django.conf import settings

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
