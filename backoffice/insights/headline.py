"""The dashboard's headline: eight figures for a range and channel, each beside the same figure for the period of the
same length just before it, so the first screen answers "how are we doing" before any table. Reads the same
selectors as the rest of the dashboard (the numbers match the blocks below); formulas in docs/metrics.md."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.money import money, per, ratio
from customers.selectors import cases_open_between

from .charts import value_text
from .selectors import (
    Period,
    acquisition_figures,
    cltv_figures,
    customer_scan_cached,
    retention_figures,
    revenue_figures,
    service_figures,
)

# key, label, kind (money, count, ratio), whether a rise is good news, formula
HEADLINE = (
    (
        "revenue",
        _("Net revenue"),
        "money",
        True,
        _("Totals of the orders placed in the period, not cancelled, minus their refunds."),
    ),
    ("orders", _("Orders"), "count", True, _("Orders placed in the period and not cancelled.")),
    (
        "new_customers",
        _("New customers"),
        "count",
        True,
        _("Profiles registered in the period (a merged profile counts once)."),
    ),
    (
        "cac",
        _("CAC"),
        "money",
        False,
        _("Acquisition spend in the period / new customers (each month's spend pro rata of its days in the period)."),
    ),
    (
        "cltv",
        _("CLTV (historic)"),
        "money",
        True,
        _("Net revenue of each customer acquired in the period in their first 12 months, averaged over them."),
    ),
    (
        "repeat_rate",
        _("Repeat rate"),
        "ratio",
        True,
        _("Customers with two or more orders in the period / customers with an order in it."),
    ),
    ("csat", _("CSAT"), "ratio", True, _("Survey answers of 4 or 5 / answers, by answer date.")),
    (
        "open_breaching",
        _("Open cases past SLA"),
        "count",
        False,
        _(
            "Cases opened in the period and still open whose first response or resolution is later than the SLA "
            "(or still missing past it) now."
        ),
    ),
)


_UNIT_OF_KIND = {"money": "€", "ratio": "%", "count": ""}


def shown(value, kind: str) -> str:
    """A figure as staff read it, in the page's language: "1.234,50 €", "37,5 %", "12"; "—" when undefined."""
    return value_text(value, _UNIT_OF_KIND[kind], missing="—")


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    kind: str
    is_rise_good: bool
    formula: str
    value: Decimal | int | None
    previous: Decimal | int | None

    @property
    def change(self) -> Decimal | None:
        """Relative change for money and counts, difference in share points for ratios; None with nothing to
        compare (no figure, or a previous count of zero)."""
        if self.value is None or self.previous is None:
            return None
        if self.kind == "ratio":
            return (Decimal(self.value) - Decimal(self.previous)) * 100
        if not self.previous:
            return None
        return ratio(Decimal(self.value) - Decimal(self.previous), abs(Decimal(self.previous))) * 100

    @property
    def shown(self) -> str:
        return shown(self.value, self.kind)

    @property
    def change_shown(self) -> str:
        """ "+12,5 %" (relative) or "+2,1 pt" (share points); empty with nothing to compare."""
        change = self.change
        if change is None:
            return ""
        sign = "+" if change > 0 else ("−" if change < 0 else "±")
        unit = _("pt") if self.kind == "ratio" else "%"
        return f"{sign}{number_format(abs(change), 1, use_l10n=True)} {unit}"

    @property
    def previous_shown(self) -> str:
        return shown(self.previous, self.kind)

    @property
    def trend(self) -> str:
        """up, down or flat; `is_good` says whether that is good news."""
        change = self.change
        if change is None or change == 0:
            return "flat"
        return "up" if change > 0 else "down"

    @property
    def is_good(self) -> bool | None:
        if self.trend == "flat":
            return None
        return (self.trend == "up") == self.is_rise_good


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same number of days that ends the day before `start`."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def open_cases_breaching(period: Period, channel: str | None, *, now=None) -> int:
    now = now or timezone.now()
    start, end = period.bounds()
    first, resolution = settings.CASES_SLA["first_response"], settings.CASES_SLA["resolution"]
    breaching = 0
    for opened_at, first_at in cases_open_between(start=start, end=end, channel=channel):
        breaching += (first_at or now) - opened_at > first or now - opened_at > resolution
    return breaching


def headline_values(*, start: date, end: date, channel: str | None, churn_days: int | None) -> dict:
    period = Period(start, end)
    churn_days = churn_days or settings.INSIGHTS_CHURN_DAYS
    scan = customer_scan_cached(period, channel, churn_days)
    acquisition = acquisition_figures(period, channel)
    revenue = revenue_figures(period, channel, scan.people)
    cohorts = cltv_figures(period, channel, scan, acquisition)["by_cohort"]
    cohort_people = sum(row["customers"] for row in cohorts)
    cohort_net = sum((row["net_first_12_months"] for row in cohorts), money(0))
    return {
        "revenue": revenue["total"]["net"],
        "orders": revenue["total"]["orders"],
        "new_customers": acquisition["total"]["customers_acquired"],
        # Without any spend entered there is no CAC to show ("—"), not a CAC of 0,00 €.
        "cac": acquisition["total"]["cac"] if acquisition["total"]["spend"] else None,
        "cltv": per(cohort_net, cohort_people),
        "repeat_rate": retention_figures(period, scan, churn_days)["repeat_purchase"]["rate"],
        "csat": service_figures(period, channel)["total"]["csat"],
        "open_breaching": open_cases_breaching(period, channel),
    }


def headline(*, start: date, end: date, channel: str | None = None, churn_days: int | None = None) -> list[Headline]:
    now = headline_values(start=start, end=end, channel=channel, churn_days=churn_days)
    before_start, before_end = previous_period(start, end)
    before = headline_values(start=before_start, end=before_end, channel=channel, churn_days=churn_days)
    return [
        Headline(key, label, kind, is_rise_good, formula, now[key], before[key])
        for key, label, kind, is_rise_good, formula in HEADLINE
    ]
