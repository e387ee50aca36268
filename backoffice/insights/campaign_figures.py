"""What a campaign earned, answered once: messages, attributed orders and revenue, cost, ROI and lift per campaign
and channel. The dashboard, GET /api/v1/metrics (and its CSV), the campaign report page and
GET /api/v1/campaigns/{id}/report all read these functions, so a figure has the same value everywhere.

Why here: the facts are insights' read models (the rollups count each campaign's messages and attributed orders per
day and channel; the order facts carry each order's person, with merges folded, and the campaign it is attributed
to). The campaigns app sits below insights and may not import it, so the report is served from this layer (see
docs/metrics.md, "One owner per figure").

- Messages: `message.*` events carrying the campaign's id, by the message's channel.
- Attribution (insights.rollups): last touch; an order goes to the campaign whose message was sent last, before it, to
  the profile that ordered or to its person, within that campaign's attribution window; its revenue is net of
  refunds, cancelled orders left out. Holdout people got no message, so nothing of theirs is attributed.
- Cost = messages sent x the campaign's cost per message of the channel (INSIGHTS_MESSAGE_COSTS for a channel the
  campaign states no cost for, or a campaign the campaigns app does not know), shown in cents per row; a total's
  cost is the sum of its rows as shown. ROI = (revenue - cost) / cost, with the cost unrounded.
- Lift: intent to treat. Conversion = people of the group (any profile of the person) with an order, not cancelled,
  placed within the attribution window from the launch / people in the group; the treated group is everyone of the
  frozen audience not held out, reached or not. Lift = treated conversion - holdout conversion. The audiences and
  launch windows are insights' own copy (insights.campaign_audience, from campaign.audience_snapshotted and the
  campaign's events), so the lift joins insights' tables only.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Sum
from django.db.models.functions import Coalesce

from backoffice.eventstore.money import money, ratio
from campaigns.selectors import (
    campaign_audience_outcomes,
    campaign_ids_valid,
    campaign_queued_by_channel,
    campaigns_by_id,
)

from .models import AudienceFact, DailyMetric, OrderFact

if TYPE_CHECKING:
    from campaigns.models import Campaign

MESSAGE_COUNTS = ("sent", "delivered", "read", "clicked", "bounced", "unsubscribed", "suppressed")
COUNTS = (*MESSAGE_COUNTS, "orders")
METRICS = tuple(f"campaign.{name}" for name in (*COUNTS, "revenue"))
INCREMENT = Decimal("0.1")


def campaign_sums(
    *, start: date | None = None, end: date | None = None, channel: str | None = None, campaign_id: str | None = None
) -> dict[tuple[str, str], dict]:
    """(campaign id, message channel) -> counts and revenue summed from the rollups, over the days given (all when
    none)."""
    rows = DailyMetric.objects.filter(metric__in=METRICS)
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    if channel:
        rows = rows.filter(channel=channel)
    if campaign_id is not None:
        rows = rows.filter(dimension=campaign_id)
    sums: dict[tuple[str, str], dict] = defaultdict(lambda: dict.fromkeys((*COUNTS, "revenue"), Decimal(0)))
    for row in rows.values("dimension", "channel", "metric").annotate(total=Sum("value")).order_by():
        sums[(row["dimension"], row["channel"])][row["metric"].removeprefix("campaign.")] += row["total"]
    return dict(sums)


def cost_per_message(campaign: "Campaign | None", channel: str) -> Decimal:
    if campaign is not None and (campaign.costs or {}).get(channel) not in (None, ""):
        return Decimal(str(campaign.costs[channel]))
    return Decimal(str(settings.INSIGHTS_MESSAGE_COSTS.get(channel, 0)))


def channel_figures(sums: dict, cost: Decimal, *, cost_shown: Decimal | None = None) -> dict:
    """The figures of one campaign on one channel (or of a sum of them): counts, revenue, cost and ROI.

    `cost` is unrounded (a message may cost 0.0045): the ROI divides by it, so a real cost of less than half a cent
    never reads as "no cost" (null). The cost shown is in cents: `cost` rounded for a row, and for a total of rows
    `cost_shown`, the sum of the rows' rounded costs, so a total adds up to the rows above it."""
    revenue = money(sums["revenue"])
    return {
        **{name: int(sums[name]) for name in COUNTS},
        "revenue": revenue,
        "cost": money(cost) if cost_shown is None else cost_shown,
        "roi": ratio(revenue - cost, cost),
    }


# --- Lift ---------------------------------------------------------------------------------------------------------

_EMPTY_COUNTS = {"treated": 0, "treated_converted": 0, "holdout": 0, "holdout_converted": 0}


def lift_figures(counts: dict) -> dict:
    treated = ratio(counts["treated_converted"], counts["treated"])
    holdout = ratio(counts["holdout_converted"], counts["holdout"])
    lift = treated - holdout if treated is not None and holdout is not None else None
    return {
        **counts,
        "treated_conversion_rate": treated,
        "holdout_conversion_rate": holdout,
        "lift": lift,
        "relative_lift": ratio(lift, holdout) if lift is not None and holdout else None,
        "incremental_conversions": (lift * counts["treated"]).quantize(INCREMENT) if lift is not None else None,
    }


def campaign_lifts(campaign_ids: Iterable[object]) -> dict[str, dict]:
    """Lift of each campaign (by id as text), from insights' own copy of the audiences (insights.campaign_audience)
    and its order facts. An audience member is a person: orders of any profile of theirs count, whoever the person
    was merged into since the launch (the profile's PersonFact gives its person now; no PersonFact: itself). Two
    grouped counts for all the campaigns: the members, and those with an order in their campaign's window (an
    EXISTS in the WHERE clause, which PostgreSQL runs as one semi-join)."""
    ids = campaign_ids_valid(campaign_ids)
    counts = {str(cid): dict(_EMPTY_COUNTS) for cid in ids}
    members = AudienceFact.objects.filter(campaign_id__in=ids, campaign__launched_at__isnull=False)
    ordered = OrderFact.objects.filter(
        person_id=Coalesce(OuterRef("profile__person_id"), OuterRef("profile_id")),
        is_cancelled=False,
        placed_at__gte=OuterRef("campaign__launched_at"),
        placed_at__lte=OuterRef("campaign__window_end"),
    )
    for suffix, rows in (("", members), ("_converted", members.filter(Exists(ordered)))):
        for campaign_id, is_holdout, n in (
            rows.values_list("campaign_id", "is_holdout").annotate(n=Count("id")).order_by()
        ):
            counts[str(campaign_id)][("holdout" if is_holdout else "treated") + suffix] += n
    return {cid: lift_figures(c) for cid, c in counts.items()}


def campaign_lift(campaign: "Campaign") -> dict:
    return campaign_lifts([campaign.id])[str(campaign.id)]


# --- The dashboard and GET /api/v1/metrics ------------------------------------------------------------------------


def campaign_figures(*, start: date, end: date, channel: str | None) -> dict:
    """Per campaign and channel, per channel, and the lift of every campaign with messages in the period."""
    sums = campaign_sums(start=start, end=end, channel=channel)
    campaigns = campaigns_by_id(campaign_ids={campaign for campaign, _ch in sums})
    lifts = campaign_lifts(campaigns)
    by_campaign = []
    by_channel: dict[str, dict] = defaultdict(
        lambda: dict.fromkeys((*COUNTS, "revenue", "cost", "cost_shown"), Decimal(0))
    )
    for (campaign_id, ch), s in sorted(sums.items()):
        campaign = campaigns.get(campaign_id)
        cost = s["sent"] * cost_per_message(campaign, ch)
        figures = channel_figures(s, cost)
        by_campaign.append(
            {
                "campaign": campaign_id,
                "name": campaign.name if campaign else "",
                "channel": ch,
                **figures,
                "lift": lifts.get(campaign_id, {}).get("lift"),
            }
        )
        for name in (*COUNTS, "revenue"):
            by_channel[ch][name] += s[name]
        by_channel[ch]["cost"] += cost
        by_channel[ch]["cost_shown"] += figures["cost"]
    return {
        "by_campaign": by_campaign,
        # A channel's cost is the sum of its campaigns' rows, as shown (each in cents).
        "by_channel": [
            {"channel": ch, **channel_figures(s, s["cost"], cost_shown=s["cost_shown"])}
            for ch, s in sorted(by_channel.items())
        ],
        "lift": [{"campaign": cid, "name": campaigns[cid].name, **lift} for cid, lift in sorted(lifts.items())],
    }


# --- The campaign report ------------------------------------------------------------------------------------------


def campaign_report(*, campaign: "Campaign") -> dict:
    """Everything the campaign did since its launch, per channel of the campaign (and any other channel it has
    figures on), with the audience, the lift and the totals; the same numbers as the dashboard's rows of it."""
    campaign_id = str(campaign.id)
    sums = {ch: s for (_cid, ch), s in campaign_sums(campaign_id=campaign_id).items()}
    channels = list(dict.fromkeys([*(campaign.channels or []), *sorted(sums)]))
    queued = campaign_queued_by_channel(campaign_id=campaign.id)
    converted = _converted_people(campaign_id)
    rows, total = [], dict.fromkeys((*COUNTS, "revenue", "cost", "cost_shown"), Decimal(0))
    for ch in channels:
        s = sums.get(ch) or dict.fromkeys((*COUNTS, "revenue"), Decimal(0))
        cost = s["sent"] * cost_per_message(campaign, ch)
        figures = channel_figures(s, cost)
        people = len(converted.get(ch, ()))
        rows.append(
            {
                "channel": ch,
                "queued": queued.get(ch, 0),
                **figures,
                "opened": figures["read"],  # the report's name for read since issue 6, kept for its clients
                "converted": people,
                "conversion_rate": ratio(people, figures["sent"]),
            }
        )
        for name in (*COUNTS, "revenue"):
            total[name] += s[name]
        total["cost"] += cost
        total["cost_shown"] += figures["cost"]
    outcomes = campaign_audience_outcomes(campaign_id=campaign.id)
    lift = campaign_lift(campaign)
    return {
        "campaign_id": campaign_id,
        "name": campaign.name,
        "status": campaign.status,
        "launched_at": campaign.launched_at,
        "attribution_days": campaign.attribution_days,
        "currency": "EUR",
        "audience": {
            "total": sum(outcomes.values()),
            "holdout": lift["holdout"],
            "treated": lift["treated"],
            "outcomes": outcomes,
        },
        "channels": rows,
        # `absolute` and `relative`: the report's names before issue 14, kept for its clients.
        "lift": {**lift, "absolute": lift["lift"], "relative": lift["relative_lift"]},
        "totals": {
            **channel_figures(total, total["cost"], cost_shown=total["cost_shown"]),
            "converted": len(set().union(*converted.values())) if converted else 0,
            "budget": money(campaign.budget) if campaign.budget is not None else None,
        },
    }


def _converted_people(campaign_id: str) -> dict[str, set]:
    """Per message channel, the people with an order attributed to the campaign (not cancelled)."""
    people: dict[str, set] = defaultdict(set)
    for ch, person in (
        OrderFact.objects.filter(campaign_id=campaign_id, is_cancelled=False)
        .values_list("campaign_channel", "person_id")
        .distinct()
    ):
        people[ch].add(person)
    return dict(people)
