"""Reads of campaigns: segment previews (counts and non-personal samples), who can be reached on which channel
for a batch of people, campaigns for the API and the admin."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.db.models import Count, QuerySet

from backoffice.eventstore import store
from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.selectors import campaign_messages
from backoffice.messaging.services.withdraw import WITHDRAWABLE
from customers import reachability
from customers.selectors import customer_values

from . import segments
from .models import WORKSHEET_FIELDS, AudienceMember, Campaign, Delivery, Outcome, Segment
from .projections import LIFECYCLE_FIELDS, campaign_state_apply

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


def campaign_as_of(*, campaign_id: uuid.UUID, at: datetime) -> Campaign | None:
    """The campaign as it was at `at`, replayed from its stream (worksheet, segments, status and lifecycle), or None
    when it did not exist yet. An unsaved instance: read it, never save it. Its segments and exclusions are those it
    had then (the segments themselves as they are now)."""
    state = _state_at(campaign_id, at)
    if state is None:
        return None
    segment_ids, exclusion_ids = state.pop("segments"), state.pop("exclusions")
    campaign = Campaign(id=campaign_id, **state)
    # The worksheet's relations as they were: the related managers read this cache instead of today's rows.
    campaign._prefetched_objects_cache = {
        "segments": Segment.objects.filter(id__in=segment_ids),
        "exclusions": Segment.objects.filter(id__in=exclusion_ids),
    }
    return campaign


def _state_at(campaign_id: uuid.UUID, at: datetime | None) -> dict[str, Any] | None:
    state = None
    for event in store.read_stream(f"campaign-{campaign_id}"):
        if at is None or event.occurred_at <= at:
            state = campaign_state_apply(state, event)
    return state


@dataclass(frozen=True)
class CampaignChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class CampaignHistoryEntry:
    """One event of a campaign's audit trail: who did what, when, and which fields it changed (before, after)."""

    version: int
    at: datetime
    type: str
    actor: str
    status: str
    changes: list[CampaignChange]
    # Why, when the log says (a segment the campaign uses changed and sent it back to draft).
    reason: str = ""


_AUDITED: Final = (*WORKSHEET_FIELDS, "segments", "exclusions", "status", "approved_by", "approved_at", "launched_at")


def campaign_history(*, campaign_id: uuid.UUID) -> list[CampaignHistoryEntry]:
    """Every event of the campaign's own stream, oldest first, with the fields each changed."""
    entries = []
    state: dict[str, Any] | None = None
    for event in store.read_stream(f"campaign-{campaign_id}"):
        before = state or {}
        state = campaign_state_apply(state, event)
        if state is None:
            continue  # recorded before campaigns were event-sourced: its sum is the campaign.imported entry
        changes = [
            CampaignChange(name, before.get(name), state.get(name))
            for name in (*_AUDITED, *(f for f in LIFECYCLE_FIELDS if f not in _AUDITED and f != "updated_at"))
            if _comparable(before.get(name)) != _comparable(state.get(name))
        ]
        if before == {}:
            changes = [c for c in changes if c.after not in (None, "", [], {})]
        entries.append(
            CampaignHistoryEntry(
                version=event.version,
                at=event.occurred_at,
                type=event.type,
                actor=str(event.metadata.get("actor", "")),
                status=str(state["status"]),
                changes=changes,
                reason=str(event.data.get("reason", "")),
            )
        )
    return entries


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    return value


def time_zones(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {cid: zone or settings.TIME_ZONE for cid, zone in _customer_values(customer_ids, "time_zone")}


def languages(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(_customer_values(customer_ids, "language"))


def _customer_values(customer_ids: list[uuid.UUID], name: str) -> list[tuple]:
    """(id, value) per customer of a fan-out batch."""
    return customer_values(customer_ids=customer_ids, fields=(name,))


def reachable_channels(*, customer_ids: list[uuid.UUID], channels: list[str], at: datetime) -> dict:
    """For each person, the campaign's channels they have an address and marketing consent on, most engaged first:
    asked of the customers app's one answer to "who can be reached where" (customers.reachability), for the whole
    batch; the drain asks the same policy again at send time."""
    return reachability.reachable_channels(
        customer_ids=customer_ids, channels=channels, purpose=Purpose.MARKETING, at=at
    )


def campaign_launch_progress(*, campaign_id: uuid.UUID) -> dict:
    """How far a launch has gone: people in the snapshot, decided (sent, held out, capped, unreachable...) and still
    pending, and messages queued. One grouped count over the campaign's audience and one over its deliveries."""
    outcomes = dict(
        AudienceMember.objects.filter(campaign_id=campaign_id).values_list("outcome").annotate(n=Count("id")).order_by()
    )
    audience = sum(outcomes.values())
    pending = outcomes.get(Outcome.PENDING, 0)
    return {
        "audience": audience,
        "decided": audience - pending,
        "pending": pending,
        "outcomes": {key: n for key, n in outcomes.items() if key != Outcome.PENDING},
        "messages": Delivery.objects.filter(campaign_id=campaign_id).count(),
    }


def campaign_has_waiting_messages(*, campaign_id: uuid.UUID) -> bool:
    """Whether messages of the campaign still wait for the drain (queued, deferred by quiet hours, held for review):
    a completed campaign can be cancelled until they have all left."""
    return campaign_messages(campaign_ids=[str(campaign_id)]).filter(status__in=WITHDRAWABLE).exists()


def campaign_count() -> int:
    return Campaign.objects.count()


def attribution_days(*, campaign_ids) -> list[tuple[uuid.UUID, int]]:
    """(id, attribution window in days) of these campaigns."""
    return list(Campaign.objects.filter(id__in=campaign_ids).values_list("id", "attribution_days"))


def campaign_ids_valid(values: Iterable[object]) -> list[uuid.UUID]:
    """The values that spell a campaign id (a UUID); others (a figure's dimension from elsewhere) are left out."""
    valid = []
    for value in values:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return valid


def campaigns_by_id(*, campaign_ids: Iterable[object]) -> dict[str, Campaign]:
    """The campaigns of these ids (any that is not a campaign id is left out), by id as text."""
    return {str(c.id): c for c in Campaign.objects.filter(id__in=campaign_ids_valid(campaign_ids))}


def campaign_queued_by_channel(*, campaign_id: uuid.UUID) -> dict[str, int]:
    """Messages the campaign queued, per channel."""
    rows = Delivery.objects.filter(campaign_id=campaign_id).values_list("channel").annotate(n=Count("id")).order_by()
    return {channel: n for channel, n in rows}


def campaign_audience_outcomes(*, campaign_id: uuid.UUID) -> dict[str, int]:
    """People of the campaign's audience per fan-out outcome (the pending ones under the pending label)."""
    rows = AudienceMember.objects.filter(campaign_id=campaign_id).values_list("outcome").annotate(n=Count("id"))
    return {str(outcome or Outcome.PENDING.label): n for outcome, n in rows.order_by()}
