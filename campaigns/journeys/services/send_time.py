"""Send-time optimisation (opt-in per send step): the hour of the week each person historically engages, from
their own events (messages read or clicked, orders placed, in the last SEND_TIME_LOOKBACK_DAYS), in their time zone;
falling back to the hour of the people of the same batch (the journey's segment at that moment) when the person has
no history; never an hour inside the channel's quiet hours. The step waits until then (it is held in the journey,
not in the outbox), so the simulator shows the same time."""

import uuid
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from backoffice.eventstore import store
from backoffice.messaging.events import MessageClicked, MessageRead
from backoffice.messaging.policy import zone
from orders.events import OrderPlaced

ENGAGEMENT_TYPES = (MessageRead.type_name, MessageClicked.type_name, OrderPlaced.type_name)
# Engagements per (weekday, hour) of the week.
Hours = Counter[tuple[int, int]]
SEND_TIME_LOOKBACK_DAYS = 180


def engagement_hours(
    customer_ids: list[uuid.UUID], *, zones: dict[uuid.UUID, str], now: datetime
) -> dict[uuid.UUID, Hours]:
    """(weekday, hour) -> count of engagements per person, in their own time zone."""
    since = now - timedelta(days=SEND_TIME_LOOKBACK_DAYS)
    found: dict[uuid.UUID, Hours] = defaultdict(Counter)
    if not customer_ids:
        return found
    for event in store.read_customer(customer_ids, types=ENGAGEMENT_TYPES, occurred_until=now):
        if event.occurred_at < since or event.customer_id is None:
            continue
        local = event.occurred_at.astimezone(zone(zones.get(event.customer_id, "")))
        found[event.customer_id][(local.weekday(), local.hour)] += 1
    return found


def _is_quiet(hour: int, start: time | None, end: time | None) -> bool:
    if start is None or end is None or start == end:
        return False
    clock = time(hour)
    return (start <= clock < end) if start < end else (clock >= start or clock < end)


def best_send_time(
    own: Hours, fallback: Hours, *, now: datetime, time_zone: str, quiet: tuple[time | None, time | None]
) -> datetime | None:
    """The next start of the person's best hour of the week (or the fallback's) outside quiet hours; None without
    any history (send at once)."""
    for histogram in (own, fallback):
        allowed = [(count, key) for key, count in histogram.items() if not _is_quiet(key[1], *quiet)]
        if allowed:
            # Most engagements; ties to the earliest hour of the week, so the answer is the same every time.
            _count, (weekday, hour) = max(allowed, key=lambda item: (item[0], -item[1][0], -item[1][1]))
            return _next(weekday, hour, now=now, time_zone=time_zone)
    return None


def _next(weekday: int, hour: int, *, now: datetime, time_zone: str) -> datetime:
    local = now.astimezone(zone(time_zone))
    for days in range(8):
        day = local.date() + timedelta(days=days)
        if day.weekday() != weekday:
            continue
        start = datetime.combine(day, time(hour), tzinfo=local.tzinfo)
        if start + timedelta(hours=1) <= local:
            continue
        return max(start, local).astimezone(now.tzinfo)
    raise AssertionError("a week holds every weekday")
