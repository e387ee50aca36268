"""The dashboard's figures: each one a table (the CSV export is that table, cell for cell), a chart drawn from the
same cells, and its formula as help text (the same words as docs/metrics.md)."""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from customers.wording import channel_label

from . import charts


@dataclass
class Figure:
    key: str
    title: str
    formula: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    chart: SafeString | None = None
    # Columns holding a channel's code: the CSV keeps the code, the page shows the channel's name.
    channel_columns: tuple[int, ...] = ()

    @property
    def display_rows(self) -> list[list[str]]:
        """The table as the page shows it: numbers in the page's language (1 181,50 in Spanish, where a bare
        1181.50 reads as a thousands separator), channels by name, "—" for an undefined cell."""
        return [
            [channel_label(value) if i in self.channel_columns else display_cell(value) for i, value in enumerate(row)]
            for row in self.rows
        ]


# The dashboard's blocks, each a tab, in the order a marketing manager reads them; every figure belongs to one.
SECTIONS = (
    ("revenue", _("Revenue"), ("trends", "revenue_sales", "revenue_acquisition")),
    ("acquisition", _("Acquisition"), ("acquisition", "cltv", "cltv_cohorts")),
    ("retention", _("Retention"), ("retention", "loyalty", "omnichannel")),
    ("service", _("Service"), ("service",)),
    ("campaigns", _("Campaigns"), ("campaigns", "campaign_lift")),
    ("stock", _("Stock"), ("stock",)),
    ("funnel", _("Journey funnel"), ("funnel",)),
)


@dataclass
class Section:
    key: str
    title: str
    figures: list


def dashboard_sections(figures: list) -> list[Section]:
    by_key = {figure.key: figure for figure in figures}
    return [Section(key, title, [by_key[k] for k in keys if k in by_key]) for key, title, keys in SECTIONS]


# What a spreadsheet reads as the start of a formula (OWASP, CSV injection): = + - @, and tab and carriage return,
# which some strip before they look at the next character.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number is never a formula, whatever its sign: it stays a number for the spreadsheet.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def cell(value) -> str:
    """A CSV cell. Numbers as they are (a negative amount stays a number); text that a spreadsheet would run as a
    formula (a campaign's name is free text) starts with a quote, which shows it as text."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
            return "'" + text
    return text


def display_cell(value) -> str:
    """A table cell for the page: a number grouped and with the page's decimal mark, keeping its own decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, int):
        return number_format(value, 0, use_l10n=True, force_grouping=True)
    exact = Decimal(str(value))
    places = max(0, -int(exact.as_tuple().exponent))
    return number_format(exact, places, use_l10n=True, force_grouping=True)


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


def table(key: str, title, columns: list[tuple], rows: list[dict], chart: SafeString | None = None) -> Figure:
    """A figure whose table has one column per (header, key of the row)."""
    return Figure(
        key,
        title,
        FORMULAS[key],
        [header for header, _name in columns],
        [[row[name] for _header, name in columns] for row in rows],
        chart,
        tuple(i for i, (_header, name) in enumerate(columns) if name == "channel"),
    )


def _with_total(rows: list[dict], total: dict, key: str = "channel") -> list[dict]:
    return [*rows, {**total, key: str(_("total"))}]


CAMPAIGN_COLUMNS = [
    (_("campaign"), "campaign"),
    (_("name"), "name"),
    (_("channel"), "channel"),
    (_("sent"), "sent"),
    (_("delivered"), "delivered"),
    (_("read"), "read"),
    (_("clicked"), "clicked"),
    (_("unsubscribed"), "unsubscribed"),
    (_("orders"), "orders"),
    (_("revenue"), "revenue"),
    (_("cost"), "cost"),
    (_("ROI"), "roi"),
    (_("lift"), "lift"),
]
LIFT_COLUMNS = [
    (_("campaign"), "campaign"),
    (_("name"), "name"),
    (_("treated"), "treated"),
    (_("treated who ordered"), "treated_converted"),
    (_("holdout"), "holdout"),
    (_("holdout who ordered"), "holdout_converted"),
    (_("treated conversion"), "treated_conversion_rate"),
    (_("holdout conversion"), "holdout_conversion_rate"),
    (_("lift"), "lift"),
]


def dashboard_figures(report: dict) -> list[Figure]:
    figures = []
    trends = report["trends"]
    months = [m["month"] for m in trends["months"]]
    by_channel = trends["net_revenue_by_sales_channel"]
    f = Figure(
        "trends",
        _("Monthly trend"),
        FORMULAS["trends"],
        [_("month"), _("orders"), _("net revenue"), _("customers acquired")]
        + [_("net revenue %(channel)s") % {"channel": channel_label(ch)} for ch in by_channel],
    )
    for i, m in enumerate(trends["months"]):
        f.rows.append(
            [m["month"], m["orders"], m["net_revenue"], m["customers_acquired"]]
            + [by_channel[ch][i] for ch in by_channel]
        )
    series = {str(_("total")): [m["net_revenue"] for m in trends["months"]], **by_channel}
    start, end = report["period"]["from"], report["period"]["to"]
    f.chart = charts.line_chart(
        "trends", months, series, unit="€", partial=(start.day != 1, (end + timedelta(days=1)).day != 1)
    )
    figures.append(f)

    acq = report["acquisition"]
    figures.append(
        table(
            "acquisition",
            _("Acquisition spend and CAC"),
            [
                (_("channel"), "channel"),
                (_("spend"), "spend"),
                (_("customers acquired"), "customers_acquired"),
                (_("CAC"), "cac"),
                (_("net revenue of the customers acquired"), "acquired_net_revenue"),
                (_("margin"), "acquired_margin"),
                (_("acquisition ROI"), "roi"),
            ],
            _with_total(acq["by_channel"], acq["total"]),
            # A channel nobody paid for (the store, the phone) has no CAC to show, not a CAC of 0,00 €.
            charts.bar_chart(
                "acquisition",
                [(r["channel"], r["cac"] if r["spend"] else None) for r in acq["by_channel"]],
                unit="€",
                missing=str(_("no spend recorded")),
            ),
        )
    )

    rev = report["revenue"]
    figures.append(
        table(
            "revenue_sales",
            _("Revenue per sales channel"),
            [
                (_("channel"), "channel"),
                (_("orders"), "orders"),
                (_("gross"), "gross"),
                (_("refunds"), "refunds"),
                (_("net revenue"), "net"),
                (_("AOV"), "aov"),
            ],
            _with_total(rev["by_sales_channel"], rev["total"]),
            charts.bar_chart("revenue_sales", [(r["channel"], r["net"]) for r in rev["by_sales_channel"]], unit="€"),
        )
    )
    figures.append(
        table(
            "revenue_acquisition",
            _("Revenue per acquisition channel"),
            [
                (_("channel"), "channel"),
                (_("customers"), "customers"),
                (_("orders"), "orders"),
                (_("net revenue"), "net"),
                (_("net revenue per customer"), "net_per_customer"),
            ],
            rev["by_acquisition_channel"],
            charts.bar_chart(
                "revenue_acquisition", [(r["channel"], r["net"]) for r in rev["by_acquisition_channel"]], unit="€"
            ),
        )
    )

    cltv = report["cltv"]
    figures.append(
        table(
            "cltv",
            _("Customer lifetime value"),
            [
                (_("channel"), "channel"),
                (_("cohort customers"), "cohort_customers"),
                (_("historic CLTV"), "historic_cltv"),
                (_("AOV"), "aov"),
                (_("orders per customer per year"), "orders_per_customer_per_year"),
                (_("predictive CLTV"), "predictive_cltv"),
                (_("CAC"), "cac"),
                (_("historic CLTV / CAC"), "historic_cltv_to_cac"),
                (_("predictive CLTV / CAC"), "predictive_cltv_to_cac"),
            ],
            cltv["by_channel"],
            charts.bar_chart("cltv", [(r["channel"], r["predictive_cltv"]) for r in cltv["by_channel"]], unit="€"),
        )
    )
    figures.append(
        table(
            "cltv_cohorts",
            _("Historic CLTV per cohort"),
            [
                (_("cohort"), "cohort"),
                (_("channel"), "channel"),
                (_("customers"), "customers"),
                (_("net revenue, first 12 months"), "net_first_12_months"),
                (_("historic CLTV"), "historic_cltv"),
            ],
            cltv["by_cohort"],
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

    figures.append(
        table(
            "omnichannel",
            _("Omnichannel customers"),
            [
                (_("customers"), "customers"),
                (_("omnichannel customers"), "omnichannel_customers"),
                (_("share of customers"), "share"),
                (_("net revenue per omnichannel customer"), "omnichannel_net_per_customer"),
                (_("net revenue per single-channel customer"), "single_channel_net_per_customer"),
            ],
            [report["omnichannel"]],
        )
    )

    service = report["service"]
    figures.append(
        table(
            "service",
            _("Service per channel: CSAT, times, SLA"),
            [
                (_("channel"), "channel"),
                (_("CSAT answers"), "csat_answers"),
                (_("satisfied (4-5)"), "csat_satisfied"),
                (_("CSAT"), "csat"),
                (_("cases opened"), "cases_opened"),
                (_("median first response (min)"), "median_first_response_minutes"),
                (_("median resolution (min)"), "median_resolution_minutes"),
                (_("first-response breaches"), "first_response_breaches"),
                (_("resolution breaches"), "resolution_breaches"),
            ],
            service["by_channel"],
            charts.bar_chart("service", [(r["channel"], r["csat"]) for r in service["by_channel"]], unit="%"),
        )
    )

    camp = report["campaigns"]
    figures.append(
        table(
            "campaigns",
            _("Campaign ROI per campaign and channel"),
            CAMPAIGN_COLUMNS,
            camp["by_campaign"],
            charts.campaign_roi(camp["by_channel"], name="campaigns"),
        )
    )
    figures.append(
        table(
            "campaign_lift",
            _("Campaign lift against the holdout"),
            LIFT_COLUMNS,
            camp["lift"],
            charts.lift_per_campaign(camp["lift"]),
        )
    )

    stock = report["stock"]
    figures.append(
        table(
            "stock",
            _("Stock accuracy and click-and-collect failures per store"),
            [
                (_("store"), "location"),
                (_("counts"), "counts"),
                (_("expected units"), "expected_units"),
                (_("counted units"), "counted_units"),
                (_("absolute difference"), "absolute_difference"),
                (_("accuracy"), "accuracy"),
                (_("exact counts"), "exact_counts_share"),
                (_("pickup orders"), "pickup_orders"),
                (_("cancelled for lack of stock"), "pickup_cancelled_for_stock"),
                (_("failure rate"), "pickup_stock_failure_rate"),
            ],
            stock["by_location"],
            charts.bar_chart("stock", [(r["location"], r["accuracy"]) for r in stock["by_location"]], unit="%"),
        )
    )

    funnel = report["funnel"]
    stages = ["browse", "plan", "buy", "keep_in_touch", "share"]
    figures.append(
        table(
            "funnel",
            _("Journey funnel by channel"),
            [
                (_("channel"), "channel"),
                (_("browse"), "browse"),
                (_("plan"), "plan"),
                (_("buy"), "buy"),
                (_("keep in touch"), "keep_in_touch"),
                (_("share"), "share"),
            ],
            funnel["by_channel"],
            charts.bar_chart("funnel", [(str(_(s.replace("_", " "))), funnel["total"][s]) for s in stages]),
        )
    )
    return figures


def figure_csv(figure: Figure) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([cell(str(h)) for h in figure.headers])
    for row in figure.rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
