"""The dashboard's figures: each one a table (the CSV export is that table, cell for cell), a chart drawn from the
same cells, and its formula as help text (the same words as docs/metrics.md)."""

import csv
import io
from dataclasses import dataclass, field

from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from . import charts


@dataclass
class Figure:
    key: str
    title: str
    formula: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    chart: SafeString | None = None


def cell(value) -> str:
    return "" if value is None else str(value)


FORMULAS = {
    "trends": _(
        "Per month: orders = orders placed and not cancelled; net revenue = their totals minus their refunds; "
        "customers acquired = profiles registered that month, merged profiles once."
    ),
    "acquisition": _(
        "CAC = acquisition spend of the channel in the period (each month pro rata of its days in the period) / "
        "customers acquired through the channel (registered in the period; a merged profile counts once, "
        "erased customers count). Acquisition ROI = (gross margin x net revenue of the orders those customers "
        "placed in the period - spend) / spend."
    ),
    "revenue_sales": _(
        "Net revenue = totals of the orders placed in the period in the sales channel, not cancelled, minus their "
        "refunds. AOV = net revenue / orders."
    ),
    "revenue_acquisition": _(
        "Net revenue of the orders placed in the period by people (merged profiles folded into one) grouped by the "
        "channel that acquired them; anonymous orders are left out."
    ),
    "cltv": _(
        "Historic CLTV = net revenue of each person in their registration month and the 11 after it, averaged over "
        "the people acquired in the period. Predictive CLTV = AOV x orders per customer per year x gross margin x "
        "expected lifespan. CLTV/CAC = CLTV / CAC of the channel."
    ),
    "cltv_cohorts": _(
        "Per registration month and acquisition channel: net revenue of the cohort's first 12 months / people in "
        "the cohort."
    ),
    "retention": _(
        "Cohort = people by the month of their first purchase; cell +k = share of the cohort that bought in the "
        "k-th month after it. Empty cells have not happened yet."
    ),
    "loyalty": _(
        "Repeat purchase rate = people with two or more orders in the period / people with an order in it. "
        "Churned = people whose last order (up to the end of the period) is at least the churn window old / "
        "people who ever ordered."
    ),
    "omnichannel": _(
        "Omnichannel share = people who bought in two or more sales channels in the period / people who bought; "
        "average net revenue per person of each group."
    ),
    "service": _(
        "CSAT = answers of 4 or 5 / answers (by answer date). Medians of first response and resolution times of the "
        "cases opened in the period; a breach is a first response or a resolution later than the SLA, or still "
        "missing past it."
    ),
    "campaigns": _(
        "Orders placed within the attribution window after a campaign message to the customer (last touch), net of "
        "refunds. Cost = messages sent x the campaign's cost per message of the channel. ROI = (revenue - cost) / "
        "cost, as in the campaign report. Lift: the campaign's lift against its holdout (next figure)."
    ),
    "campaign_lift": _(
        "Conversion = share of the group with an order within the attribution window from the launch (everyone not "
        "held out, reached or not, against the holdout). Lift = treated conversion - holdout conversion."
    ),
    "stock": _(
        "Accuracy = 1 - sum of |expected - counted| / sum of expected units over the counts in the period. "
        "Click-and-collect failure rate = pickup orders cancelled for lack of stock / pickup orders placed."
    ),
    "funnel": _(
        "Events per channel: browse = pages, products viewed and searches; plan = items added to carts; buy = "
        "orders placed; keep in touch = messages read or clicked and consents granted; share = reviews and shares."
    ),
}


ACQUISITION_COLUMNS = ("spend", "customers_acquired", "cac", "acquired_net_revenue", "acquired_margin", "roi")


def dashboard_figures(report: dict) -> list[Figure]:
    figures = []
    trends = report["trends"]
    months = [m["month"] for m in trends["months"]]
    by_channel = trends["net_revenue_by_sales_channel"]
    f = Figure(
        "trends",
        _("Monthly trend"),
        FORMULAS["trends"],
        [_("month"), _("orders"), _("net revenue"), _("customers acquired")] + [f"net {ch}" for ch in by_channel],
    )
    for i, m in enumerate(trends["months"]):
        f.rows.append(
            [m["month"], m["orders"], m["net_revenue"], m["customers_acquired"]]
            + [by_channel[ch][i] for ch in by_channel]
        )
    series = {str(_("total")): [m["net_revenue"] for m in trends["months"]], **by_channel}
    f.chart = charts.line_chart("trends", months, series)
    figures.append(f)

    acq = report["acquisition"]
    f = Figure(
        "acquisition",
        _("Acquisition spend and CAC"),
        FORMULAS["acquisition"],
        [
            _("channel"),
            _("spend"),
            _("customers acquired"),
            _("CAC"),
            _("net revenue of the customers acquired"),
            _("margin"),
            _("acquisition ROI"),
        ],
        [
            [r["channel"], *(r[name] for name in ACQUISITION_COLUMNS)]
            for r in [*acq["by_channel"], {**acq["total"], "channel": str(_("total"))}]
        ],
    )
    f.chart = charts.bar_chart("acquisition", [(r["channel"], r["cac"]) for r in acq["by_channel"]])
    figures.append(f)

    rev = report["revenue"]
    f = Figure(
        "revenue_sales",
        _("Revenue per sales channel"),
        FORMULAS["revenue_sales"],
        [_("channel"), _("orders"), _("gross"), _("refunds"), _("net revenue"), _("AOV")],
        [[r["channel"], r["orders"], r["gross"], r["refunds"], r["net"], r["aov"]] for r in rev["by_sales_channel"]],
    )
    t = rev["total"]
    f.rows.append([str(_("total")), t["orders"], t["gross"], t["refunds"], t["net"], t["aov"]])
    f.chart = charts.bar_chart("revenue_sales", [(r["channel"], r["net"]) for r in rev["by_sales_channel"]])
    figures.append(f)

    f = Figure(
        "revenue_acquisition",
        _("Revenue per acquisition channel"),
        FORMULAS["revenue_acquisition"],
        [_("channel"), _("customers"), _("orders"), _("net revenue"), _("net revenue per customer")],
        [
            [r["channel"], r["customers"], r["orders"], r["net"], r["net_per_customer"]]
            for r in rev["by_acquisition_channel"]
        ],
    )
    f.chart = charts.bar_chart("revenue_acquisition", [(r["channel"], r["net"]) for r in rev["by_acquisition_channel"]])
    figures.append(f)

    cltv = report["cltv"]
    f = Figure(
        "cltv",
        _("Customer lifetime value"),
        FORMULAS["cltv"],
        [
            _("channel"),
            _("cohort customers"),
            _("historic CLTV"),
            _("AOV"),
            _("orders per customer per year"),
            _("predictive CLTV"),
            _("CAC"),
            _("historic CLTV / CAC"),
            _("predictive CLTV / CAC"),
        ],
        [
            [
                r["channel"],
                r["cohort_customers"],
                r["historic_cltv"],
                r["aov"],
                r["orders_per_customer_per_year"],
                r["predictive_cltv"],
                r["cac"],
                r["historic_cltv_to_cac"],
                r["predictive_cltv_to_cac"],
            ]
            for r in cltv["by_channel"]
        ],
    )
    f.chart = charts.bar_chart("cltv", [(r["channel"], r["predictive_cltv"]) for r in cltv["by_channel"]])
    figures.append(f)
    figures.append(
        Figure(
            "cltv_cohorts",
            _("Historic CLTV per cohort"),
            FORMULAS["cltv_cohorts"],
            [_("cohort"), _("channel"), _("customers"), _("net revenue, first 12 months"), _("historic CLTV")],
            [
                [r["cohort"], r["channel"], r["customers"], r["net_first_12_months"], r["historic_cltv"]]
                for r in cltv["by_cohort"]
            ],
        )
    )

    ret = report["retention"]
    f = Figure(
        "retention",
        _("Retention by first-purchase cohort"),
        FORMULAS["retention"],
        [_("cohort"), _("customers")] + [f"+{k}" for k in range(1, 13)],
        [[c["cohort"], c["customers"], *c["retention"]] for c in ret["cohorts"]],
    )
    f.chart = charts.heat_map("retention", ret["cohorts"])
    figures.append(f)

    repeat, churn = ret["repeat_purchase"], ret["churn"]
    figures.append(
        Figure(
            "loyalty",
            _("Repeat purchase and churn"),
            FORMULAS["loyalty"],
            [_("figure"), _("customers"), _("of which"), _("rate")],
            [
                [_("repeat purchase"), repeat["customers"], repeat["repeat_customers"], repeat["rate"]],
                [
                    _("churned (no order in %(days)s days)") % {"days": churn["window_days"]},
                    churn["customers"],
                    churn["churned"],
                    churn["churn_rate"],
                ],
            ],
        )
    )

    omni = report["omnichannel"]
    figures.append(
        Figure(
            "omnichannel",
            _("Omnichannel customers"),
            FORMULAS["omnichannel"],
            [
                _("customers"),
                _("omnichannel customers"),
                _("share of customers"),
                _("net revenue per omnichannel customer"),
                _("net revenue per single-channel customer"),
            ],
            [
                [
                    omni["customers"],
                    omni["omnichannel_customers"],
                    omni["share"],
                    omni["omnichannel_net_per_customer"],
                    omni["single_channel_net_per_customer"],
                ]
            ],
        )
    )

    service = report["service"]
    f = Figure(
        "service",
        _("Service per channel: CSAT, times, SLA"),
        FORMULAS["service"],
        [
            _("channel"),
            _("CSAT answers"),
            _("satisfied (4-5)"),
            _("CSAT"),
            _("cases opened"),
            _("median first response (min)"),
            _("median resolution (min)"),
            _("first-response breaches"),
            _("resolution breaches"),
        ],
        [
            [
                r["channel"],
                r["csat_answers"],
                r["csat_satisfied"],
                r["csat"],
                r["cases_opened"],
                r["median_first_response_minutes"],
                r["median_resolution_minutes"],
                r["first_response_breaches"],
                r["resolution_breaches"],
            ]
            for r in service["by_channel"]
        ],
    )
    f.chart = charts.bar_chart("service", [(r["channel"], r["csat"]) for r in service["by_channel"]])
    figures.append(f)

    camp = report["campaigns"]
    headers = [
        _("sent"),
        _("delivered"),
        _("read"),
        _("clicked"),
        _("unsubscribed"),
        _("orders"),
        _("revenue"),
        _("cost"),
        _("ROI"),
        _("lift"),
    ]
    names = ["sent", "delivered", "read", "clicked", "unsubscribed", "orders", "revenue", "cost", "roi", "lift"]
    f = Figure(
        "campaigns",
        _("Campaign ROI per campaign and channel"),
        FORMULAS["campaigns"],
        [_("campaign"), _("name"), _("channel"), *headers],
        [[r["campaign"], r["name"], r["channel"], *(r[n] for n in names)] for r in camp["by_campaign"]],
    )
    f.chart = charts.campaign_roi(camp["by_channel"], name="campaigns")
    figures.append(f)
    f = Figure(
        "campaign_lift",
        _("Campaign lift against the holdout"),
        FORMULAS["campaign_lift"],
        [
            _("campaign"),
            _("name"),
            _("treated"),
            _("treated who ordered"),
            _("holdout"),
            _("holdout who ordered"),
            _("treated conversion"),
            _("holdout conversion"),
            _("lift"),
        ],
        [
            [
                r["campaign"],
                r["name"],
                r["treated"],
                r["treated_converted"],
                r["holdout"],
                r["holdout_converted"],
                r["treated_conversion_rate"],
                r["holdout_conversion_rate"],
                r["lift"],
            ]
            for r in camp["lift"]
        ],
    )
    f.chart = charts.bar_chart("campaign_lift", [(r["name"] or r["campaign"][:8], r["lift"]) for r in camp["lift"]])
    figures.append(f)

    stock = report["stock"]
    f = Figure(
        "stock",
        _("Stock accuracy and click-and-collect failures per store"),
        FORMULAS["stock"],
        [
            _("store"),
            _("counts"),
            _("expected units"),
            _("counted units"),
            _("absolute difference"),
            _("accuracy"),
            _("exact counts"),
            _("pickup orders"),
            _("cancelled for lack of stock"),
            _("failure rate"),
        ],
        [
            [
                r["location"],
                r["counts"],
                r["expected_units"],
                r["counted_units"],
                r["absolute_difference"],
                r["accuracy"],
                r["exact_counts_share"],
                r["pickup_orders"],
                r["pickup_cancelled_for_stock"],
                r["pickup_stock_failure_rate"],
            ]
            for r in stock["by_location"]
        ],
    )
    f.chart = charts.bar_chart("stock", [(r["location"], r["accuracy"]) for r in stock["by_location"]])
    figures.append(f)

    funnel = report["funnel"]
    stages = ["browse", "plan", "buy", "keep_in_touch", "share"]
    f = Figure(
        "funnel",
        _("Journey funnel by channel"),
        FORMULAS["funnel"],
        [_("channel"), _("browse"), _("plan"), _("buy"), _("keep in touch"), _("share")],
        [[r["channel"], *(r[s] for s in stages)] for r in funnel["by_channel"]],
    )
    f.chart = charts.bar_chart("funnel", [(str(_(s.replace("_", " "))), funnel["total"][s]) for s in stages])
    figures.append(f)
    return figures


def figure_csv(figure: Figure) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(h) for h in figure.headers])
    for row in figure.rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
