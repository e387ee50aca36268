"""The facts the steps need about a batch of people, loaded with a few queries per batch (walk.Facts), and how far
the customer 360 they branch on has read the log."""

import uuid
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings

from backoffice.eventstore import projector, store
from backoffice.eventstore.selectors import projection_checkpoints
from backoffice.messaging.selectors import message_delivery
from backoffice.messaging.vocabulary import Status as MessageStatus

from ... import selectors
from ...segments import segment_queryset
from ..models import CustomerTag
from .send_time import Hours

UNDELIVERABLE = (MessageStatus.FAILED, MessageStatus.SUPPRESSED)
READ = ("read", "clicked")
# The asynchronous projections the segment rules (campaigns.segments) read on the customer 360: the order figures
# (customers.commerce: value, count, last order, RFM) and the channels used (customers.activity). The rest they read
# (directory, consents, orders) is inline.
PROFILE_PROJECTIONS = ("customers.commerce", "customers.activity")


def profile_read_horizon(*, now: datetime) -> tuple[datetime, list[str]]:
    """How far in time the customer 360 has read the log: `now` when PROFILE_PROJECTIONS have read everything, else
    just before the first event one of them has yet to read (a branch on the profile of a run due after it could miss
    what happened by then, the order that triggered the run first of all); and the projections behind."""
    names = {proj.name for proj in projector.registered_projections(projector.ASYNC)}
    checkpoints = projection_checkpoints()
    horizon, behind = now, []
    for name in PROFILE_PROJECTIONS:
        if name not in names:
            continue
        unread = store.read_committed(after=checkpoints.get(name, (0, 0)), limit=1)
        if unread:
            horizon = min(horizon, unread[0].recorded_at - timedelta(microseconds=1))
            behind.append(name)
    return horizon, behind


class BatchFacts:
    def __init__(self, customer_ids: list[uuid.UUID], *, now: datetime):
        from ...services.fan_out import _marketing_messages_since  # the one contact-pressure count of campaigns

        self.now = now
        self.ids = list(dict.fromkeys(customer_ids))
        self._zones: dict[uuid.UUID, str] | None = None
        self._reachable: dict[tuple[str, ...], dict[uuid.UUID, list[str]]] = {}
        self._left: dict[uuid.UUID, int] | None = None
        self._count_messages = _marketing_messages_since
        self._profiles: dict[str, set[uuid.UUID]] = {}
        self._tags: set[tuple[uuid.UUID, str]] | None = None
        self._triggers: dict[int, tuple[str | None, dict[str, Any]]] = {}
        self._engagement: dict[uuid.UUID, Hours] | None = None
        self._batch_hours: Hours = Counter()
        self._quiet: dict[str, tuple[time | None, time | None]] = {}

    def time_zone(self, customer_id: uuid.UUID) -> str:
        if self._zones is None:
            self._zones = selectors.time_zones(self.ids) if self.ids else {}
        return self._zones.get(customer_id) or settings.TIME_ZONE

    def reachable(self, customer_id: uuid.UUID, channels: list[str]) -> list[str]:
        key = tuple(channels)
        if key not in self._reachable:
            self._reachable[key] = selectors.reachable_channels(customer_ids=self.ids, channels=channels, at=self.now)
        return self._reachable[key].get(customer_id, [])

    def pressure_left(self, customer_id: uuid.UUID) -> int:
        if self._left is None:
            used = self._count_messages(self.ids, self.now) if self.ids else {}
            cap: int = settings.CAMPAIGNS_CONTACT_PRESSURE["messages"]
            self._left = {cid: cap - used.get(cid, 0) for cid in self.ids}
        return self._left.get(customer_id, 0)

    def spend(self, customer_id: uuid.UUID) -> None:
        """A message queued in this batch counts against the person's budget at once."""
        left = self.pressure_left(customer_id) - 1
        assert self._left is not None  # loaded by pressure_left
        self._left[customer_id] = left

    def profile_matches(self, rules: dict[str, Any], customer_id: uuid.UUID) -> bool:
        key = repr(rules)
        if key not in self._profiles:
            from customers.selectors import customers_with_ids

            base = customers_with_ids(customer_ids=self.ids)
            self._profiles[key] = set(segment_queryset(rules, now=self.now, base=base).values_list("id", flat=True))
        return customer_id in self._profiles[key]

    def has_tag(self, customer_id: uuid.UUID, tag: str) -> bool:
        if self._tags is None:
            self._tags = set(CustomerTag.objects.filter(customer_id__in=self.ids).values_list("customer_id", "tag"))
        return (customer_id, tag) in self._tags

    def trigger(self, position: int | None) -> tuple[str | None, dict[str, Any]]:
        if position is None:
            return None, {}
        if position not in self._triggers:
            events = store.read_positions([position])
            self._triggers[position] = (events[0].channel, events[0].data) if events else (None, {})
        return self._triggers[position]

    def message_state(self, message_id: str) -> str:
        row = message_delivery(message_id=message_id)
        if row is None:
            return "undeliverable"
        status, delivery = row
        if delivery in READ:
            return "read"
        if status in UNDELIVERABLE or delivery in ("bounced", "failed"):
            return "undeliverable"
        return "pending"

    def send_hour(self, customer_id: uuid.UUID, earliest: datetime, channel: str) -> datetime | None:
        from backoffice.messaging.policy import channel_rules

        from .send_time import best_send_time, engagement_hours

        if self._engagement is None:
            self._engagement = engagement_hours(
                self.ids, zones={cid: self.time_zone(cid) for cid in self.ids}, now=self.now
            )
            self._batch_hours = sum(self._engagement.values(), Counter())
        if channel not in self._quiet:
            rules = channel_rules(channel)
            self._quiet[channel] = (rules.quiet_start, rules.quiet_end)
        return best_send_time(
            self._engagement.get(customer_id, Counter()),
            self._batch_hours,
            now=earliest,
            time_zone=self.time_zone(customer_id),
            quiet=self._quiet[channel],
        )
