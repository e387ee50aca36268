"""What a campaign did: the funnel per channel, conversions and revenue attributed to the channel of the last message,
lift against the holdout, cost and ROI per channel.

- Funnel: messaging's events read by type name (message.sent, delivered, read = opened, clicked, bounced,
  unsubscribed, suppressed), counted once per message, by the `campaign_id` they carry.
- Attribution: an order a recipient placed within the attribution window after a message of this campaign was sent
  to them goes to the channel of the last such message before the order; its revenue is the order's total net of
  refunds, cancelled orders left out. Holdout customers received nothing, so nothing of theirs is attributed.
- Lift: intent to treat. The conversion rate (people with at least one order within the attribution window from the
  launch) of everyone not held out, reachable or not, against the holdout's: both groups were drawn alike, so their
  difference is what the campaign caused. Incremental conversions = (treated rate - holdout rate) x treated.
- Cost: messages sent x the campaign's cost per message of the channel. ROI = (attributed revenue - cost) / cost.
"""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from customers.models import CustomerOrder

from .models import AudienceMember, Campaign, Delivery, Outcome

FUNNEL = (
    ("sent", "message.sent"),
    ("delivered", "message.delivered"),
    ("opened", "message.read"),
    ("clicked", "message.clicked"),
    ("bounced", "message.bounced"),
    ("unsubscribed", "message.unsubscribed"),
    ("suppressed", "message.suppressed"),
)
CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


def _ratio(numerator, denominator) -> float | None:
    return round(float(numerator) / float(denominator), 4) if denominator else None


def campaign_report(*, campaign: Campaign) -> dict:
    channels = list(campaign.channels or [])
    funnel = {channel: {name: 0 for name, _type in FUNNEL} for channel in channels}
    counts = (
        Event.objects.filter(type__in=[t for _n, t in FUNNEL], data__campaign_id=str(campaign.id))
        .values("type", "channel")
        .annotate(n=Count(KeyTextTransform("message_id", "data"), distinct=True))
        .order_by()
    )
    names = {t: n for n, t in FUNNEL}
    for row in counts:
        funnel.setdefault(row["channel"], {name: 0 for name, _type in FUNNEL})[names[row["type"]]] = row["n"]
    queued = dict(Delivery.objects.filter(campaign=campaign).values_list("channel").annotate(n=Count("id")).order_by())
    for channel in funnel:
        funnel[channel]["queued"] = queued.get(channel, 0)

    audience = AudienceMember.objects.filter(campaign=campaign)
    outcomes = dict(audience.values_list("outcome").annotate(n=Count("id")).order_by())
    holdout_ids = set(audience.filter(is_holdout=True).values_list("customer_id", flat=True))
    treated_total = audience.filter(is_holdout=False).count()
    window = timedelta(days=campaign.attribution_days)
    attributed, lift = _attribution(campaign, holdout_ids, treated_total, window)

    costs = campaign.costs or {}
    per_channel = []
    for channel in funnel:
        sent = funnel[channel]["sent"]
        cost = Decimal(str(costs.get(channel, "0") or "0")) * sent
        revenue = attributed["revenue"].get(channel, Decimal(0))
        converted = len(attributed["customers"].get(channel, ()))
        per_channel.append(
            {
                "channel": channel,
                **funnel[channel],
                "converted": converted,
                "orders": attributed["orders"].get(channel, 0),
                "revenue": _money(revenue),
                "cost": _money(cost),
                "roi": _ratio(revenue - cost, cost) if cost else None,
                "conversion_rate": _ratio(converted, sent),
            }
        )
    total_cost = sum((Decimal(c["cost"]) for c in per_channel), Decimal(0))
    total_revenue = sum((Decimal(c["revenue"]) for c in per_channel), Decimal(0))
    return {
        "campaign_id": str(campaign.id),
        "name": campaign.name,
        "status": campaign.status,
        "launched_at": campaign.launched_at,
        "attribution_days": campaign.attribution_days,
        "currency": "EUR",
        "audience": {
            "total": sum(outcomes.values()),
            "holdout": len(holdout_ids),
            "treated": treated_total,
            "outcomes": {(key or Outcome.PENDING.label): n for key, n in outcomes.items()},
        },
        "channels": per_channel,
        "lift": lift,
        "totals": {
            "sent": sum(c["sent"] for c in per_channel),
            "converted": len(set().union(*attributed["customers"].values())) if attributed["customers"] else 0,
            "revenue": _money(total_revenue),
            "cost": _money(total_cost),
            "roi": _ratio(total_revenue - total_cost, total_cost) if total_cost else None,
            "budget": _money(campaign.budget) if campaign.budget is not None else None,
        },
    }


def _attribution(campaign: Campaign, holdout_ids: set, treated_total: int, window: timedelta):
    attributed = {"revenue": defaultdict(Decimal), "customers": defaultdict(set), "orders": defaultdict(int)}
    empty_lift = {
        "treated_conversion_rate": None,
        "holdout_conversion_rate": None,
        "absolute": None,
        "relative": None,
        "incremental_conversions": None,
    }
    if campaign.launched_at is None:
        return attributed, empty_lift
    start = campaign.launched_at
    sends: dict = defaultdict(list)
    last_send = start
    for customer_id, channel, sent_at in (
        OutboundMessage.objects.filter(campaign_id=str(campaign.id), sent_at__isnull=False)
        .values_list("customer_id", "channel", "sent_at")
        .order_by("sent_at")
    ):
        sends[customer_id].append((sent_at, channel))
        last_send = max(last_send, sent_at)
    audience_ids = AudienceMember.objects.filter(campaign=campaign).values("customer_id")
    orders = (
        CustomerOrder.objects.filter(
            customer_id__in=audience_ids, placed_at__gte=start, placed_at__lte=last_send + window, is_cancelled=False
        )
        .values_list("customer_id", "placed_at", "total", "refunded")
        .order_by("placed_at")
    )
    converted_treated, converted_holdout = set(), set()
    for customer_id, placed_at, total, refunded in orders:
        if placed_at <= start + window:
            (converted_holdout if customer_id in holdout_ids else converted_treated).add(customer_id)
        if customer_id in holdout_ids:
            continue  # counts for lift, never for attributed revenue
        before = [(at, channel) for at, channel in sends.get(customer_id, []) if at <= placed_at]
        if not before or placed_at - before[-1][0] > window:
            continue
        channel = before[-1][1]
        attributed["revenue"][channel] += total - refunded
        attributed["customers"][channel].add(customer_id)
        attributed["orders"][channel] += 1
    treated_rate = _ratio(len(converted_treated), treated_total)
    holdout_rate = _ratio(len(converted_holdout), len(holdout_ids))
    lift = dict(empty_lift)
    lift.update(
        {
            "treated": treated_total,
            "treated_converted": len(converted_treated),
            "holdout": len(holdout_ids),
            "holdout_converted": len(converted_holdout),
            "treated_conversion_rate": treated_rate,
            "holdout_conversion_rate": holdout_rate,
        }
    )
    if treated_rate is not None and holdout_rate is not None:
        lift["absolute"] = round(treated_rate - holdout_rate, 4)
        lift["relative"] = round(treated_rate / holdout_rate - 1, 4) if holdout_rate else None
        lift["incremental_conversions"] = round((treated_rate - holdout_rate) * treated_total, 1)
    lift["as_of"] = timezone.now()
    return attributed, lift
