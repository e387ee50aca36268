"""Reads of campaigns: segment previews (counts and non-personal samples), who can be reached on which channel
for a batch of people, campaigns for the API and the admin."""

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet

from backoffice.eventstore.models import Event
from backoffice.eventstore.sql import rows_by_key
from backoffice.messaging import policy
from customers.models import Customer

from . import segments
from .models import OUTBOUND_CHANNELS, Campaign, Segment

APP_CHANNELS: Final = ("app", "push")
# What we sent them is not engagement; what they did (wrote, read, clicked, bought) is.
_SENT_TYPES: Final = (
    "message.queued",
    "message.sent",
    "message.failed",
    "message.suppressed",
    "message.deferred",
    "message.delivered",
    "message.bounced",
)
SAMPLE_SIZE: Final = 10


def segment_list() -> list[Segment]:
    return list(segments_all())


def segments_all() -> QuerySet[Segment]:
    """Every segment, for a list to filter and page."""
    return Segment.objects.all()


def segment_preview(*, rules: dict, now: datetime, sample: int = SAMPLE_SIZE) -> dict:
    """The live count of a segment and a sample of its people described by non-personal fields only.

    Marketing plans for kinds of customers, not for persons: the sample carries no id, name or address, only what
    helps check the rule (language, how they came, channels, orders, value band, RFM), so a preview never discloses
    who someone is.
    """
    query = segments.segment_queryset(rules, now=now)
    rows = query.order_by("?").values(
        "language",
        "acquisition_channel",
        "channels_used",
        "order_count",
        "lifetime_value",
        "recency_score",
        "frequency_score",
        "monetary_score",
    )[:sample]
    return {
        "count": query.count(),
        "sample": [
            {
                "language": row["language"] or settings.LANGUAGE_CODE,
                "acquisition_channel": row["acquisition_channel"],
                "channels_used": row["channels_used"],
                "order_count": row["order_count"],
                "value_band": _band(row["lifetime_value"]),
                "rfm": f"{row['recency_score']}{row['frequency_score']}{row['monetary_score']}",
            }
            for row in rows
        ],
    }


def _band(value) -> str:
    for limit in (0, 100, 300, 700, 1500):
        if value <= limit:
            return f"<= {limit}"
    return "> 1500"


def campaign_list() -> list[Campaign]:
    return list(campaigns_all())


def campaigns_all() -> QuerySet[Campaign]:
    """Every campaign with its segments, for a list to filter and page."""
    return Campaign.objects.prefetch_related("segments", "exclusions")


def campaign_get(*, campaign_id: uuid.UUID) -> Campaign | None:
    return Campaign.objects.prefetch_related("segments", "exclusions").filter(pk=campaign_id).first()


def time_zones(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {cid: zone or settings.TIME_ZONE for cid, zone in _customer_values(customer_ids, "time_zone")}


def languages(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(_customer_values(customer_ids, "language"))


def _customer_values(customer_ids: list[uuid.UUID], name: str) -> list[tuple]:
    """(id, value) per customer of a fan-out batch: by primary key probes on PostgreSQL (see eventstore.sql)."""
    if connection.vendor == "postgresql":
        return rows_by_key(Customer._meta.db_table, "id", [name], customer_ids)
    return list(Customer.objects.filter(id__in=customer_ids).values_list("id", name))


def reachable_channels(*, customer_ids: list[uuid.UUID], channels: list[str], at: datetime) -> dict:
    """For each person, the campaign's channels they have an address and marketing consent on, most engaged first
    (ties keep OUTBOUND_CHANNELS' order: email first). Asked of messaging's recipient policy, for the whole batch."""
    channels = [c for c in OUTBOUND_CHANNELS if c in set(channels)]
    queries = [policy.RecipientQuery(cid, channel, "marketing") for cid in customer_ids for channel in channels]
    answers = policy.recipients(queries, at=at) if queries else []
    reachable: dict[uuid.UUID, list[str]] = defaultdict(list)
    for query, answer in zip(queries, answers, strict=True):
        if answer.address and answer.is_allowed and not answer.is_erased:
            reachable[query.customer_id].append(query.channel)
    several = [cid for cid, found in reachable.items() if len(found) > 1]
    if several:
        engagement = _engagement(several)
        order = {channel: index for index, channel in enumerate(OUTBOUND_CHANNELS)}
        for cid in several:
            counts = engagement.get(cid, {})
            reachable[cid].sort(key=lambda channel: (-counts.get(channel, 0), order[channel]))
    return dict(reachable)


def _engagement(owner_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Interactions per person and channel (their own and those of profiles merged into them)."""
    owner_of = {cid: cid for cid in owner_ids}
    frontier = set(owner_ids)
    while frontier:
        if connection.vendor == "postgresql":
            found = rows_by_key(Customer._meta.db_table, "merged_into_id", ["id"], list(frontier))
            rows = [(member, into) for into, member in found]
        else:
            rows = Customer.objects.filter(merged_into_id__in=frontier).values_list("id", "merged_into_id")
        frontier = set()
        for member, into in rows:
            if member not in owner_of:
                owner_of[member] = owner_of[into]
                frontier.add(member)
    channels = [*OUTBOUND_CHANNELS, *APP_CHANNELS]
    out: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if connection.vendor == "postgresql":
        # Each person's own events, by the timeline index: the planner's other choice, every event on these
        # channels, grows with every message any campaign queues (see eventstore.sql).
        events = rows_by_key(
            Event._meta.db_table,
            "customer_id",
            ["channel"],
            list(owner_of),
            where="t.channel = ANY(%b::varchar[]) AND NOT (t.type = ANY(%b::varchar[]))",
            params=[channels, list(_SENT_TYPES)],
        )
        for customer_id, channel in events:
            out[owner_of[customer_id]]["push" if channel in APP_CHANNELS else channel] += 1
        return out
    counts = (
        Event.objects.filter(customer_id__in=list(owner_of), channel__in=channels)
        .exclude(type__in=_SENT_TYPES)
        .values_list("customer_id", "channel")
        .annotate(n=Count("position"))
        .order_by()
    )
    for customer_id, channel, n in counts:
        out[owner_of[customer_id]]["push" if channel in APP_CHANNELS else channel] += n
    return out
