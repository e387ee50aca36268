"""Reads of campaigns: segment previews (counts and non-personal samples), who can be reached on which channel
for a batch of people, campaigns for the API and the admin."""

import uuid
from datetime import datetime
from typing import Final

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from backoffice.eventstore.sql import rows_by_key
from customers import reachability
from customers.models import Customer

from . import segments
from .models import Campaign, Segment

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
    """For each person, the campaign's channels they have an address and marketing consent on, most engaged first:
    asked of the customers app's one answer to "who can be reached where" (customers.reachability), for the whole
    batch; the drain asks the same policy again at send time."""
    return reachability.reachable_channels(customer_ids=customer_ids, channels=channels, purpose="marketing", at=at)
