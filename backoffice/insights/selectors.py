"""Reads: every figure of the dashboard and of GET /api/v1/metrics, from the rollups and facts of
insights.rollups and from the customers app's cases. Never from the log. Formulas: docs/metrics.md.

Money is a Decimal rounded to cents, ratios a Decimal rounded to 4 places, and None where a figure is undefined
(nothing to divide by). `channel` filters each figure by the channel it is broken down by: the sales channel for
revenue, the acquisition channel for customer-level figures, the case's channel for service, the message channel
for campaigns, the event's channel for the funnel, the order's channel for click-and-collect.
"""

import calendar
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from backoffice.eventstore.backends import recorder
from backoffice.eventstore.money import money, per, ratio
from backoffice.eventstore.selectors import projection_checkpoint_stamp
from backoffice.replica import read_connection
from customers.selectors import case_csat_answers, case_service_per_channel

from .campaign_figures import campaign_figures
from .models import AcquisitionSpend, DailyMetric, OrderFact, PersonFact
from .rollups import month_index

FUNNEL = ("browse", "plan", "buy", "keep_in_touch", "share")
ORDER_METRICS = ("orders.count", "orders.gross", "orders.refunds")
STOCK_METRICS = ("stock.counts", "stock.expected", "stock.counted", "stock.abs_difference", "stock.exact")
PICKUP_METRICS = ("pickup.orders", "pickup.stock_cancelled")
RETENTION_MONTHS = 12
SCAN_CACHE_SECONDS = 3600
CLTV_MONTHS = 12


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        return (
            timezone.make_aware(datetime.combine(self.start, time.min), tz),
            timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min), tz),
        )


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def metrics_report(*, start: date, end: date, channel: str | None = None, churn_days: int | None = None) -> dict:
    """Every figure for the period [start, end] (local days, both included)."""
    period = Period(start, end)
    churn_days = churn_days or settings.INSIGHTS_CHURN_DAYS
    scan = customer_scan_cached(period, channel, churn_days)
    acquisition = acquisition_figures(period, channel)
    return {
        "period": {"from": start, "to": end, "days": period.days, "channel": channel or ""},
        "settings": {
            "gross_margin": settings.INSIGHTS_GROSS_MARGIN,
            "expected_lifespan_years": settings.INSIGHTS_EXPECTED_LIFESPAN_YEARS,
            "churn_days": churn_days,
            "campaign_attribution_days": settings.INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS,
        },
        "acquisition": acquisition,
        "revenue": revenue_figures(period, channel, scan.people),
        "cltv": cltv_figures(period, channel, scan, acquisition),
        "retention": retention_figures(period, scan, churn_days),
        "omnichannel": omnichannel_figures(scan.people),
        "service": service_figures(period, channel),
        "campaigns": campaign_figures(start=start, end=end, channel=channel),
        "stock": stock_figures(period, channel),
        "funnel": funnel_figures(period, channel),
        "trends": trend_figures(period, channel),
    }


# --- Rollup reads -------------------------------------------------------------------------------------------------


def _rollup_totals(period: Period, metrics, channel: str | None, *, by_dimension: bool = False) -> list[dict]:
    rows = DailyMetric.objects.filter(day__gte=period.start, day__lte=period.end, metric__in=metrics)
    if channel:
        rows = rows.filter(channel=channel)
    keys = ["channel", "metric", "dimension"] if by_dimension else ["channel", "metric"]
    return list(rows.values(*keys).annotate(total=Sum("value")).order_by(*keys))


def _sql(query: str, params: list) -> list[tuple]:
    with read_connection().cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


_O = OrderFact._meta.db_table


@dataclass
class CustomerScan:
    """What one pass over the order facts (up to the end of the period) says about people."""

    people: dict[str, dict]  # per acquisition channel, people who ordered in the period
    churn: dict[str, int]  # people who ever ordered (up to the end), and those churned
    cohorts: dict[int, dict[int, int]]  # first-purchase month -> months after it -> people who bought then
    first_12_months: dict[tuple[int, str], Decimal]  # (registration month, channel) -> net revenue


def customer_scan(period: Period, channel: str | None, churn_days: int) -> CustomerScan:
    """One aggregate over the orders, grouped per person (merges folded by the projection), then per acquisition
    channel, first-purchase month with the set of months the person bought in (a bit mask), and registration month.
    The bit mask gives the retention cells without a second pass over the orders."""
    first_month, last_month = month_index(period.start), month_index(period.end)
    reader = read_connection()
    dialect = recorder(reader.alias)  # the database's words for a bit mask and a byte-order comparison
    mask = dialect.bit_or_of_powers_of_two("o.placed_month - %(ms)s", "o.placed_month >= %(ms)s")
    channel_column = dialect.bytewise("o.channel")
    in_period = "o.placed_day >= %(start)s"
    channel_filter = "AND o.acquisition_channel = %(channel)s" if channel else ""
    query = f"""
        SELECT t.acq,
               CASE WHEN t.fm >= %(ms)s THEN t.fm ELSE -1 END,
               CASE WHEN t.fm >= %(ms)s THEN t.mask ELSE 0 END,
               CASE WHEN t.reg_m BETWEEN %(ms)s AND %(me)s THEN t.reg_m ELSE -1 END,
               COUNT(*),
               SUM(CASE WHEN t.n > 0 THEN 1 ELSE 0 END),
               SUM(t.n), SUM(t.net),
               SUM(CASE WHEN t.n >= 2 THEN 1 ELSE 0 END),
               SUM(CASE WHEN t.ch_min <> t.ch_max THEN 1 ELSE 0 END),
               SUM(CASE WHEN t.ch_min <> t.ch_max THEN t.net ELSE 0 END),
               SUM(CASE WHEN t.last_day <= %(cutoff)s THEN 1 ELSE 0 END),
               SUM(t.first12)
        FROM (
            SELECT o.person_id AS person, o.acquisition_channel AS acq, o.registered_month AS reg_m,
                   MIN(o.placed_month) AS fm, MAX(o.placed_day) AS last_day,
                   SUM(CASE WHEN {in_period} THEN 1 ELSE 0 END) AS n,
                   SUM(CASE WHEN {in_period} THEN o.net_cents ELSE 0 END) AS net,
                   MIN(CASE WHEN {in_period} THEN {channel_column} END) AS ch_min,
                   MAX(CASE WHEN {in_period} THEN {channel_column} END) AS ch_max,
                   {mask} AS mask,
                   SUM(CASE WHEN o.placed_month BETWEEN o.registered_month AND o.registered_month + %(m11)s
                       THEN o.net_cents ELSE 0 END) AS first12
            FROM {_O} o
            WHERE o.is_cancelled = %(no)s AND o.person_id IS NOT NULL AND o.placed_day <= %(end)s {channel_filter}
            GROUP BY o.person_id, o.acquisition_channel, o.registered_month
        ) t
        GROUP BY t.acq, CASE WHEN t.fm >= %(ms)s THEN t.fm ELSE -1 END, CASE WHEN t.fm >= %(ms)s THEN t.mask ELSE 0 END,
                 CASE WHEN t.reg_m BETWEEN %(ms)s AND %(me)s THEN t.reg_m ELSE -1 END
        """  # noqa: S608 - table name, fixed SQL fragments and placeholders only
    params = {
        "ms": first_month,
        "me": last_month,
        "m11": CLTV_MONTHS - 1,
        "start": period.start,
        "end": period.end,
        "cutoff": period.end - timedelta(days=churn_days),
        "no": False,
        "channel": channel,
    }
    with transaction.atomic(using=reader.alias), reader.cursor() as cursor:
        # One hash aggregate over every order: in memory, and not split across workers on a small machine.
        dialect.next_aggregate_in_memory(work_mem="64MB")
        cursor.execute(query, params)
        rows = cursor.fetchall()
    people: dict[str, dict] = defaultdict(
        lambda: (
            dict.fromkeys(("customers", "orders", "repeat_customers", "omnichannel_customers"), 0)
            | {"net": Decimal(0), "omnichannel_net": Decimal(0)}
        )
    )
    churn = {"customers": 0, "churned": 0}
    cohorts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    first_12: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for acq, fm, mask, reg_m, n_all, buyers, orders, net, repeat, omni, omni_net, churned, first12 in rows:
        churn["customers"] += int(n_all)
        churn["churned"] += int(churned or 0)
        if buyers:
            p = people[acq]
            p["customers"] += int(buyers)
            p["orders"] += int(orders or 0)
            p["net"] += Decimal(int(net or 0)) / 100
            p["repeat_customers"] += int(repeat or 0)
            p["omnichannel_customers"] += int(omni or 0)
            p["omnichannel_net"] += Decimal(int(omni_net or 0)) / 100
        if fm >= 0:
            mask, offset = int(mask), int(fm) - first_month
            for k in range(RETENTION_MONTHS + 1):
                if mask >> (offset + k) & 1:
                    cohorts[int(fm)][k] += int(n_all)
        if reg_m >= 0:
            first_12[(int(reg_m), acq)] += Decimal(int(first12 or 0)) / 100
    for p in people.values():
        p["net"], p["omnichannel_net"] = money(p["net"]), money(p["omnichannel_net"])
    return CustomerScan(
        {acq: dict(p) for acq, p in people.items()},
        churn,
        {fm: dict(cells) for fm, cells in cohorts.items()},
        dict(first_12),
    )


def customer_scan_cached(period: Period, channel: str | None, churn_days: int) -> CustomerScan:
    """The scan reads only insights.rollups' tables, which change only when that projection moves (or is rebuilt):
    keyed by its checkpoint, a cached scan is never stale."""
    position, updated_at = projection_checkpoint_stamp("insights.rollups")
    stamp = updated_at.timestamp() if updated_at else 0
    key = f"insights:scan:{position}:{stamp}:{period.start}:{period.end}:{channel or '-'}:{churn_days}"
    scan = cache.get(key)
    if scan is None:
        scan = customer_scan(period, channel, churn_days)
        cache.set(key, scan, SCAN_CACHE_SECONDS)
    return scan


def _acquired(period: Period) -> dict[str, int]:
    rows = (
        PersonFact.objects.filter(merged_into=None, registered_day__gte=period.start, registered_day__lte=period.end)
        .values("acquisition_channel")
        .annotate(n=Count("customer_id"))
    )
    return {row["acquisition_channel"]: int(row["n"]) for row in rows}


def spend_in_period(period: Period) -> dict[str, Decimal]:
    """Spend per channel, each month's amount pro rata of its days inside the period."""
    first_month = period.start.replace(day=1)
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for row in AcquisitionSpend.objects.filter(month__gte=first_month, month__lte=period.end):
        month_days = calendar.monthrange(row.month.year, row.month.month)[1]
        month_end = row.month + timedelta(days=month_days - 1)
        overlap = (min(month_end, period.end) - max(row.month, period.start)).days + 1
        if overlap > 0:
            spend[row.channel] += row.amount * overlap / month_days
    return {key: money(value) for key, value in spend.items()}


# --- 1. Acquisition -----------------------------------------------------------------------------------------------


def _revenue_of_acquired(period: Period) -> dict[str, Decimal]:
    """Per acquisition channel, the net revenue of the orders placed in the period by the people acquired in it
    (the person's first profile registered in the period through the channel, as CAC counts them)."""
    people = PersonFact._meta.db_table
    rows = _sql(
        f"""
        SELECT p.acquisition_channel, SUM(o.net_cents)
        FROM {_O} o JOIN {people} p ON p.customer_id = o.person_id
        WHERE o.placed_day >= %(start)s AND o.placed_day <= %(end)s AND o.is_cancelled = %(no)s
          AND p.registered_day >= %(start)s AND p.registered_day <= %(end)s
        GROUP BY p.acquisition_channel
        """,  # noqa: S608 - table names and placeholders only
        {"start": period.start, "end": period.end, "no": False},
    )
    return {channel: money(Decimal(int(cents or 0)) / 100) for channel, cents in rows}


def acquisition_roi(*, spend: Decimal, revenue: Decimal) -> tuple[Decimal, Decimal | None]:
    """(margin, ROI) of a channel's acquisition spend: margin = INSIGHTS_GROSS_MARGIN x net revenue of the customers
    it acquired; ROI = (margin - spend) / spend."""
    margin = money(revenue * settings.INSIGHTS_GROSS_MARGIN)
    return margin, ratio(margin - spend, spend)


def acquisition_figures(period: Period, channel: str | None) -> dict:
    acquired, spend, revenue = _acquired(period), spend_in_period(period), _revenue_of_acquired(period)
    channels = sorted((set(acquired) | set(spend)) - {""} if not channel else {channel})
    rows = []
    for ch in channels:
        channel_spend, channel_revenue = spend.get(ch, money(0)), revenue.get(ch, money(0))
        margin, roi = acquisition_roi(spend=channel_spend, revenue=channel_revenue)
        rows.append(
            {
                "channel": ch,
                "spend": channel_spend,
                "customers_acquired": acquired.get(ch, 0),
                "cac": per(channel_spend, acquired.get(ch, 0)),
                "acquired_net_revenue": channel_revenue,
                "acquired_margin": margin,
                "roi": roi,
            }
        )
    total_spend = sum((r["spend"] for r in rows), money(0))
    total_acquired = sum(r["customers_acquired"] for r in rows)
    total_revenue = sum((r["acquired_net_revenue"] for r in rows), money(0))
    total_margin, total_roi = acquisition_roi(spend=total_spend, revenue=total_revenue)
    return {
        "by_channel": rows,
        "total": {
            "spend": total_spend,
            "customers_acquired": total_acquired,
            "cac": per(total_spend, total_acquired),
            "acquired_net_revenue": total_revenue,
            "acquired_margin": total_margin,
            "roi": total_roi,
        },
    }


# --- 2. Revenue ---------------------------------------------------------------------------------------------------


def revenue_figures(period: Period, channel: str | None, people: dict[str, dict]) -> dict:
    sums: dict[str, dict] = defaultdict(lambda: {"orders": 0, "gross": Decimal(0), "refunds": Decimal(0)})
    for row in _rollup_totals(period, ORDER_METRICS, channel):
        key = {"orders.count": "orders", "orders.gross": "gross", "orders.refunds": "refunds"}[row["metric"]]
        sums[row["channel"]][key] += row["total"]
    by_sales = []
    for ch in sorted(sums):
        s = sums[ch]
        net = s["gross"] - s["refunds"]
        by_sales.append(
            {
                "channel": ch,
                "orders": int(s["orders"]),
                "gross": money(s["gross"]),
                "refunds": money(s["refunds"]),
                "net": money(net),
                "aov": per(net, s["orders"]),
            }
        )
    orders = sum(r["orders"] for r in by_sales)
    net = sum((r["net"] for r in by_sales), money(0))
    by_acquisition = [
        {
            "channel": acq,
            "customers": p["customers"],
            "orders": p["orders"],
            "net": p["net"],
            "net_per_customer": per(p["net"], p["customers"]),
        }
        for acq, p in sorted(people.items())
    ]
    return {
        "by_sales_channel": by_sales,
        "by_acquisition_channel": by_acquisition,
        "total": {
            "orders": orders,
            "gross": sum((r["gross"] for r in by_sales), money(0)),
            "refunds": sum((r["refunds"] for r in by_sales), money(0)),
            "net": net,
            "aov": per(net, orders),
        },
    }


# --- 3. CLTV ------------------------------------------------------------------------------------------------------


def _historic_cltv_rows(period: Period, channel: str | None, scan: CustomerScan) -> list[tuple]:
    """(registration month, acquisition channel, people, net revenue in their first 12 months)."""
    people = PersonFact.objects.filter(
        merged_into=None, registered_month__gte=month_index(period.start), registered_month__lte=month_index(period.end)
    )
    if channel:
        people = people.filter(acquisition_channel=channel)
    sizes = people.values_list("registered_month", "acquisition_channel").annotate(n=Count("customer_id")).order_by()
    return sorted((reg_m, acq, n, scan.first_12_months.get((reg_m, acq), Decimal(0))) for reg_m, acq, n in sizes)


def cltv_figures(period: Period, channel: str | None, scan: CustomerScan, acquisition: dict) -> dict:
    margin, lifespan = settings.INSIGHTS_GROSS_MARGIN, settings.INSIGHTS_EXPECTED_LIFESPAN_YEARS
    people = scan.people
    historic_rows = _historic_cltv_rows(period, channel, scan)
    by_cohort = [
        {
            "cohort": month_label(reg_m),
            "channel": acq,
            "customers": int(n),
            "net_first_12_months": money(net),
            "historic_cltv": per(money(net), n),
        }
        for reg_m, acq, n, net in historic_rows
    ]
    historic: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for row in by_cohort:
        historic[row["channel"]][0] += row["customers"]
        historic[row["channel"]][1] += row["net_first_12_months"]
    cac = {row["channel"]: row["cac"] for row in acquisition["by_channel"]}
    years = Decimal(period.days) / Decimal(365)
    by_channel = []
    for ch in sorted((set(historic) | set(people)) - {""}):
        p = people.get(ch, {"customers": 0, "orders": 0, "net": Decimal(0)})
        aov = per(p["net"], p["orders"])
        frequency = ratio(Decimal(p["orders"]) / years, p["customers"]) if p["customers"] else None
        predictive = money(aov * frequency * margin * lifespan) if aov is not None and frequency is not None else None
        hist = per(historic[ch][1], historic[ch][0]) if ch in historic else None
        channel_cac = cac.get(ch)
        by_channel.append(
            {
                "channel": ch,
                "cohort_customers": historic[ch][0] if ch in historic else 0,
                "historic_cltv": hist,
                "aov": aov,
                "orders_per_customer_per_year": frequency,
                "predictive_cltv": predictive,
                "cac": channel_cac,
                "historic_cltv_to_cac": ratio(hist, channel_cac) if hist is not None and channel_cac else None,
                "predictive_cltv_to_cac": ratio(predictive, channel_cac)
                if predictive is not None and channel_cac
                else None,
            }
        )
    return {"by_channel": by_channel, "by_cohort": by_cohort}


# --- 4. Retention -------------------------------------------------------------------------------------------------


def retention_figures(period: Period, scan: CustomerScan, churn_days: int) -> dict:
    last_month = month_index(period.end)
    cohorts = []
    for fm in sorted(scan.cohorts):
        cells = scan.cohorts[fm]
        size = cells.get(0, 0)
        shares = [
            ratio(cells.get(k, 0), size) if fm + k <= last_month else None for k in range(1, RETENTION_MONTHS + 1)
        ]
        cohorts.append({"cohort": month_label(fm), "customers": size, "retention": shares})
    buyers = sum(p["customers"] for p in scan.people.values())
    repeat = sum(p["repeat_customers"] for p in scan.people.values())
    return {
        "cohorts": cohorts,
        "repeat_purchase": {"customers": buyers, "repeat_customers": repeat, "rate": ratio(repeat, buyers)},
        "churn": {
            "window_days": churn_days,
            "customers": scan.churn["customers"],
            "churned": scan.churn["churned"],
            "churn_rate": ratio(scan.churn["churned"], scan.churn["customers"]),
        },
    }


# --- 5. Omnichannel -----------------------------------------------------------------------------------------------


def omnichannel_figures(people: dict[str, dict]) -> dict:
    customers = sum(p["customers"] for p in people.values())
    omni = sum(p["omnichannel_customers"] for p in people.values())
    net = sum((p["net"] for p in people.values()), Decimal(0))
    omni_net = sum((p["omnichannel_net"] for p in people.values()), Decimal(0))
    return {
        "customers": customers,
        "omnichannel_customers": omni,
        "share": ratio(omni, customers),
        "omnichannel_net_per_customer": per(omni_net, omni),
        "single_channel_net_per_customer": per(net - omni_net, customers - omni),
    }


# --- 6. Service ---------------------------------------------------------------------------------------------------


def _minutes(delta: timedelta) -> Decimal:
    return (Decimal(delta.total_seconds()) / 60).quantize(Decimal("0.1"))


def _median_minutes(summary: dict, name: str) -> Decimal | None:
    if f"{name}_median" in summary:
        seconds = summary[f"{name}_median"]
        return None if seconds is None else (Decimal(str(seconds)) / 60).quantize(Decimal("0.1"))
    return _minutes(statistics.median(summary[name])) if summary[name] else None


def service_figures(period: Period, channel: str | None, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    start, end = period.bounds()
    sla_first, sla_resolution = settings.CASES_SLA["first_response"], settings.CASES_SLA["resolution"]
    per_channel = case_service_per_channel(
        start=start, end=end, channel=channel, now=now, sla_first=sla_first, sla_resolution=sla_resolution
    )
    csat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ch, score in case_csat_answers(start=start, end=end, channel=channel):
        csat[ch][0] += 1
        csat[ch][1] += score >= 4
    rows = []
    for ch in sorted(set(per_channel) | set(csat)):
        s = per_channel[ch]
        rows.append(
            {
                "channel": ch,
                "csat_answers": csat[ch][0],
                "csat_satisfied": csat[ch][1],
                "csat": ratio(csat[ch][1], csat[ch][0]),
                "cases_opened": s["cases"],
                "median_first_response_minutes": _median_minutes(s, "first"),
                "median_resolution_minutes": _median_minutes(s, "resolution"),
                "first_response_breaches": int(s["first_breaches"]),
                "resolution_breaches": int(s["resolution_breaches"]),
            }
        )
    answers = sum(r["csat_answers"] for r in rows)
    satisfied = sum(r["csat_satisfied"] for r in rows)
    return {
        "by_channel": rows,
        "sla_minutes": {"first_response": _minutes(sla_first), "resolution": _minutes(sla_resolution)},
        "total": {"csat_answers": answers, "csat_satisfied": satisfied, "csat": ratio(satisfied, answers)},
    }


# --- 7. Campaigns: campaign_figures.py (the one owner of campaign figures, also read by the campaign report) ----


# --- 8. Stock -----------------------------------------------------------------------------------------------------


def stock_figures(period: Period, channel: str | None) -> dict:
    sums: dict[str, dict] = defaultdict(lambda: defaultdict(Decimal))
    for row in _rollup_totals(period, STOCK_METRICS, None, by_dimension=True):
        sums[row["dimension"]][row["metric"]] += row["total"]
    for row in _rollup_totals(period, PICKUP_METRICS, channel, by_dimension=True):
        sums[row["dimension"]][row["metric"]] += row["total"]
    rows = []
    for location in sorted(sums):
        s = sums[location]
        expected = s["stock.expected"]
        rows.append(
            {
                "location": location,
                "counts": int(s["stock.counts"]),
                "expected_units": int(expected),
                "counted_units": int(s["stock.counted"]),
                "absolute_difference": int(s["stock.abs_difference"]),
                "accuracy": (1 - ratio(s["stock.abs_difference"], expected)) if expected else None,
                "exact_counts_share": ratio(s["stock.exact"], s["stock.counts"]),
                "pickup_orders": int(s["pickup.orders"]),
                "pickup_cancelled_for_stock": int(s["pickup.stock_cancelled"]),
                "pickup_stock_failure_rate": ratio(s["pickup.stock_cancelled"], s["pickup.orders"]),
            }
        )
    return {"by_location": rows}


# --- 9. Funnel ----------------------------------------------------------------------------------------------------


def funnel_figures(period: Period, channel: str | None) -> dict:
    sums: dict[str, dict] = defaultdict(lambda: dict.fromkeys(FUNNEL, 0))
    for row in _rollup_totals(period, [f"funnel.{stage}" for stage in FUNNEL], channel):
        sums[row["channel"] or "unknown"][row["metric"].removeprefix("funnel.")] += int(row["total"])
    rows = [{"channel": ch, **stages} for ch, stages in sorted(sums.items())]
    total = {stage: sum(r[stage] for r in rows) for stage in FUNNEL}
    return {"by_channel": rows, "total": total}


# --- Trends -------------------------------------------------------------------------------------------------------


def trend_figures(period: Period, channel: str | None) -> dict:
    """Per month of the period: orders and net revenue per sales channel, and customers acquired."""
    rows = DailyMetric.objects.filter(
        day__gte=period.start, day__lte=period.end, metric__in=("orders.count", "orders.gross", "orders.refunds")
    )
    if channel:
        rows = rows.filter(channel=channel)
    months = list(range(month_index(period.start), month_index(period.end) + 1))
    net: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    orders: dict[int, Decimal] = defaultdict(Decimal)
    for day, ch, metric, value in rows.values_list("day", "channel", "metric").annotate(v=Sum("value")):
        m = month_index(day)
        if metric == "orders.count":
            orders[m] += value
        else:
            net[ch][m] += value if metric == "orders.gross" else -value
    acquired = PersonFact.objects.filter(
        merged_into=None, registered_day__gte=period.start, registered_day__lte=period.end
    )
    if channel:
        acquired = acquired.filter(acquisition_channel=channel)
    new = dict(acquired.values_list("registered_month").annotate(n=Count("customer_id")).order_by())
    return {
        "months": [
            {
                "month": month_label(m),
                "orders": int(orders[m]),
                "net_revenue": money(sum((net[ch][m] for ch in net), Decimal(0))),
                "customers_acquired": new.get(m, 0),
            }
            for m in months
        ],
        "net_revenue_by_sales_channel": {ch: [money(net[ch][m]) for m in months] for ch in sorted(net)},
    }
