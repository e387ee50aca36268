"""Every figure of the shop fixture (conftest.py), against arithmetic done by hand.

Period 2026-01-01..2026-03-31 (90 days). Customers: E (web, 2025-12-15: before the period), A (web), B (store),
C (web, merged into A on 01-30: one person with A), D (app, erased at the end: still counted).
Orders (sales channel, net): o1 A web 100; o4 B store 40; o5 B store 60 cancelled; o3 C(=A) app 80;
o6 D app 200; o2 A store 50 - 20 refunded = 30; o7 E web 30 (pickup MAD-01); o8 E web 25 pickup cancelled for stock.
"""

from datetime import date
from decimal import Decimal as D

import pytest

from backoffice.eventstore import projector
from backoffice.insights.selectors import metrics_report

from .conftest import SPRING, Shop, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(shop):
    return metrics_report(start=date(2026, 1, 1), end=date(2026, 3, 31), churn_days=30)


def by(rows, key, value):
    return next(row for row in rows if row[key] == value)


def test_cac_is_spend_over_customers_acquired_counting_merged_once_and_erased_still(report):
    # web: A only (C merged into A, E registered before); spend 300 + 100. store: B, 100. app: D (erased), 50.
    rows = {r["channel"]: r for r in report["acquisition"]["by_channel"]}

    cac = ("channel", "spend", "customers_acquired", "cac")
    assert {k: rows["web"][k] for k in cac} == {
        "channel": "web",
        "spend": D("400.00"),
        "customers_acquired": 1,
        "cac": D("400.00"),
    }
    assert {k: rows["store"][k] for k in cac} == {
        "channel": "store",
        "spend": D("100.00"),
        "customers_acquired": 1,
        "cac": D("100.00"),
    }
    assert {k: rows["app"][k] for k in cac} == {
        "channel": "app",
        "spend": D("50.00"),
        "customers_acquired": 1,
        "cac": D("50.00"),
    }
    total = report["acquisition"]["total"]
    assert {k: total[k] for k in cac[1:]} == {"spend": D("550.00"), "customers_acquired": 3, "cac": D("183.33")}


def test_roi_per_acquisition_channel_is_the_margin_on_the_revenue_of_the_customers_it_acquired_against_its_spend(
    report,
):
    # Acquired in the period: A through web (with C merged into A: o1 100 + o3 80 + o2 50 - 20 refunded = 210), B
    # through the store (o4 40; o5 cancelled) and D through the app (o6 200, erased since: the amounts still count).
    # E ordered, but was acquired before the period. Margin 0.40; ROI = (margin - spend) / spend.
    rows = {r["channel"]: r for r in report["acquisition"]["by_channel"]}
    figures = ("acquired_net_revenue", "acquired_margin", "roi")

    assert [rows["web"][k] for k in figures] == [D("210.00"), D("84.00"), D("-0.7900")]
    assert [rows["store"][k] for k in figures] == [D("40.00"), D("16.00"), D("-0.8400")]
    assert [rows["app"][k] for k in figures] == [D("200.00"), D("80.00"), D("0.6000")]
    assert [report["acquisition"]["total"][k] for k in figures] == [D("450.00"), D("180.00"), D("-0.6727")]


def test_acquisition_roi_is_undefined_without_spend(shop):
    figures = metrics_report(start=date(2026, 3, 1), end=date(2026, 3, 31))

    assert figures["acquisition"]["by_channel"] == []
    assert figures["acquisition"]["total"]["roi"] is None


def test_spend_of_a_month_partly_in_the_range_counts_pro_rata(shop):
    # web: January 300 x 10/31 days.
    figures = metrics_report(start=date(2026, 1, 1), end=date(2026, 1, 10))

    assert by(figures["acquisition"]["by_channel"], "channel", "web")["spend"] == D("96.77")


def test_revenue_per_sales_channel_is_net_of_refunds_and_cancellations(report):
    rows = {r["channel"]: r for r in report["revenue"]["by_sales_channel"]}

    assert rows["web"] == {
        "channel": "web",
        "orders": 2,
        "gross": D("130.00"),
        "refunds": D("0.00"),
        "net": D("130.00"),
        "aov": D("65.00"),
    }
    assert rows["store"] == {
        "channel": "store",
        "orders": 2,
        "gross": D("90.00"),
        "refunds": D("20.00"),
        "net": D("70.00"),
        "aov": D("35.00"),
    }
    assert rows["app"] == {
        "channel": "app",
        "orders": 2,
        "gross": D("280.00"),
        "refunds": D("0.00"),
        "net": D("280.00"),
        "aov": D("140.00"),
    }
    assert report["revenue"]["total"] == {
        "orders": 6,
        "gross": D("500.00"),
        "refunds": D("20.00"),
        "net": D("480.00"),
        "aov": D("80.00"),
    }


def test_revenue_per_acquisition_channel_folds_merged_profiles_into_one_person(report):
    # web: A (o1 100 + o2 30 + C's o3 80 = 210) and E (30). store: B 40. app: D 200.
    rows = {r["channel"]: r for r in report["revenue"]["by_acquisition_channel"]}

    assert rows["web"] == {
        "channel": "web",
        "customers": 2,
        "orders": 4,
        "net": D("240.00"),
        "net_per_customer": D("120.00"),
    }
    assert rows["store"]["net"] == D("40.00")
    assert rows["app"] == {
        "channel": "app",
        "customers": 1,
        "orders": 1,
        "net": D("200.00"),
        "net_per_customer": D("200.00"),
    }


def test_historic_cltv_is_net_revenue_in_the_first_twelve_months_per_cohort_and_channel(report):
    assert report["cltv"]["by_cohort"] == [
        {
            "cohort": "2026-01",
            "channel": "store",
            "customers": 1,
            "net_first_12_months": D("40.00"),
            "historic_cltv": D("40.00"),
        },
        {
            "cohort": "2026-01",
            "channel": "web",
            "customers": 1,
            "net_first_12_months": D("210.00"),
            "historic_cltv": D("210.00"),
        },
        {
            "cohort": "2026-02",
            "channel": "app",
            "customers": 1,
            "net_first_12_months": D("200.00"),
            "historic_cltv": D("200.00"),
        },
    ]


def test_predictive_cltv_and_cltv_to_cac_per_channel(report):
    # web: AOV 240/4 = 60.00; orders per customer per year 4 / (90/365) / 2 = 8.1111;
    # 60.00 x 8.1111 x 0.40 x 3 = 583.9992 -> 584.00; / CAC 400 = 1.46. Historic 210 / 400 = 0.525.
    # app: 200.00 x 4.0556 x 1.2 = 973.344 -> 973.34; / 50 = 19.4668. Historic 200 / 50 = 4.
    rows = {r["channel"]: r for r in report["cltv"]["by_channel"]}

    assert rows["web"] == {
        "channel": "web",
        "cohort_customers": 1,
        "historic_cltv": D("210.00"),
        "aov": D("60.00"),
        "orders_per_customer_per_year": D("8.1111"),
        "predictive_cltv": D("584.00"),
        "cac": D("400.00"),
        "historic_cltv_to_cac": D("0.5250"),
        "predictive_cltv_to_cac": D("1.4600"),
    }
    assert rows["app"]["predictive_cltv"] == D("973.34")
    assert rows["app"]["predictive_cltv_to_cac"] == D("19.4668")
    assert rows["app"]["historic_cltv_to_cac"] == D("4.0000")
    assert rows["store"]["predictive_cltv"] == D("194.67")  # 40.00 x 4.0556 x 1.2 = 194.6688


def test_retention_cohorts_by_first_purchase_month(report):
    # January: A and B (o5 cancelled does not count); A buys again in February. February: D. March: E.
    cohorts = {c["cohort"]: c for c in report["retention"]["cohorts"]}

    assert cohorts["2026-01"]["customers"] == 2
    assert cohorts["2026-01"]["retention"][:3] == [D("0.5000"), D("0.0000"), None]
    assert cohorts["2026-02"]["retention"][:2] == [D("0.0000"), None]
    assert cohorts["2026-03"] == {"cohort": "2026-03", "customers": 1, "retention": [None] * 12}


def test_repeat_purchase_rate_and_churn(report):
    # Buyers in the period: A (3 orders), B, D, E; churned (no order in the 30 days to 03-31): A, B, D.
    assert report["retention"]["repeat_purchase"] == {"customers": 4, "repeat_customers": 1, "rate": D("0.2500")}
    assert report["retention"]["churn"] == {"window_days": 30, "customers": 4, "churned": 3, "churn_rate": D("0.7500")}


def test_omnichannel_share_and_value(report):
    # A bought on web, store and app (210); B, D, E on one channel each ((40 + 200 + 30) / 3 = 90).
    assert report["omnichannel"] == {
        "customers": 4,
        "omnichannel_customers": 1,
        "share": D("0.2500"),
        "omnichannel_net_per_customer": D("210.00"),
        "single_channel_net_per_customer": D("90.00"),
    }


def test_csat_service_times_and_sla_breaches_per_channel(report):
    # SLA: first response 240 min, resolution 2880 min. E's phone case is still unanswered: both breached.
    rows = {r["channel"]: r for r in report["service"]["by_channel"]}

    assert rows["phone"] == {
        "channel": "phone",
        "csat_answers": 1,
        "csat_satisfied": 1,
        "csat": D("1.0000"),
        "cases_opened": 2,
        "median_first_response_minutes": D("30.0"),
        "median_resolution_minutes": D("120.0"),
        "first_response_breaches": 1,
        "resolution_breaches": 1,
    }
    assert rows["whatsapp"] == {
        "channel": "whatsapp",
        "csat_answers": 2,
        "csat_satisfied": 1,
        "csat": D("0.5000"),
        "cases_opened": 2,
        "median_first_response_minutes": D("185.0"),
        "median_resolution_minutes": D("2195.0"),
        "first_response_breaches": 1,
        "resolution_breaches": 1,
    }
    assert report["service"]["total"] == {"csat_answers": 3, "csat_satisfied": 2, "csat": D("0.6667")}


def test_campaign_roi_attributes_orders_within_the_window_net_of_refunds(report):
    # A got "spring" by email on 02-08 and ordered o2 (50 - 20 refunded) on 02-10; B's SMS on 01-02 was 10 days
    # before o4: outside the 7-day window. ROI = (revenue - cost) / cost.
    rows = {(r["campaign"], r["channel"]): r for r in report["campaigns"]["by_campaign"]}

    assert rows[(SPRING, "email")] == {
        "campaign": SPRING,
        "name": "Primavera",
        "channel": "email",
        "sent": 1,
        "delivered": 1,
        "read": 0,
        "clicked": 1,
        "bounced": 0,
        "unsubscribed": 0,
        "suppressed": 0,
        "orders": 1,
        "revenue": D("30.00"),
        "cost": D("0.50"),
        "roi": D("59.0000"),
        "lift": D("0.5000"),
    }
    assert rows[(SPRING, "sms")]["orders"] == 0
    assert rows[(SPRING, "sms")]["roi"] == D("-1.0000")


def test_stock_accuracy_and_click_and_collect_cancelled_for_stock_per_store(report):
    rows = {r["location"]: r for r in report["stock"]["by_location"]}

    assert rows["MAD-01"] == {
        "location": "MAD-01",
        "counts": 2,
        "expected_units": 15,
        "counted_units": 13,
        "absolute_difference": 2,
        "accuracy": D("0.8667"),
        "exact_counts_share": D("0.5000"),
        "pickup_orders": 2,
        "pickup_cancelled_for_stock": 1,
        "pickup_stock_failure_rate": D("0.5000"),
    }
    assert rows["BCN-01"]["accuracy"] == D("0.5000")
    assert rows["BCN-01"]["pickup_stock_failure_rate"] is None


@pytest.mark.parametrize("catch_up_between", [True, False], ids=["two_batches", "one_batch"])
def test_click_and_collect_failures_count_on_the_day_the_order_was_placed(insights_settings, catch_up_between):
    s = Shop()
    s.register("A", "web", "2026-03-01")
    # Two pickup orders placed on 31 March and cancelled for lack of stock on 1 April; one placed on 2 April.
    s.order("p1", "A", "web", "2026-03-31", "10.00", method="pickup", location="MAD-01")
    s.order("p2", "A", "web", "2026-03-31", "10.00", method="pickup", location="MAD-01")
    if catch_up_between:
        projector.catch_up_all(["insights.rollups"])
    s.cancel("p1", "A", "web", "2026-04-01", "Sin stock en tienda")
    s.cancel("p2", "A", "web", "2026-04-01", "Sin stock en tienda")
    s.order("p3", "A", "web", "2026-04-02", "10.00", method="pickup", location="MAD-01")
    projector.catch_up_all(["insights.rollups"])

    def store(start, end):
        row = by(metrics_report(start=start, end=end)["stock"]["by_location"], "location", "MAD-01")
        return [row[k] for k in ("pickup_orders", "pickup_cancelled_for_stock", "pickup_stock_failure_rate")]

    # March placed both orders that failed (2 of 2); April placed one and it did not fail (0 of 1).
    assert store(date(2026, 3, 1), date(2026, 3, 31)) == [2, 2, D("1.0000")]
    assert store(date(2026, 4, 1), date(2026, 4, 30)) == [1, 0, D("0.0000")]


def test_journey_funnel_by_channel(report):
    rows = {r["channel"]: r for r in report["funnel"]["by_channel"]}

    assert rows["web"] == {"channel": "web", "browse": 4, "plan": 2, "buy": 3, "keep_in_touch": 0, "share": 1}
    assert rows["app"] == {"channel": "app", "browse": 1, "plan": 0, "buy": 2, "keep_in_touch": 0, "share": 0}
    assert rows["store"]["buy"] == 3
    assert rows["store"]["keep_in_touch"] == 1
    assert rows["email"]["keep_in_touch"] == 1
    assert rows["instagram"]["share"] == 1


def test_monthly_trends(report):
    months = {m["month"]: m for m in report["trends"]["months"]}

    assert months["2026-01"] == {"month": "2026-01", "orders": 3, "net_revenue": D("220.00"), "customers_acquired": 2}
    assert months["2026-02"] == {"month": "2026-02", "orders": 2, "net_revenue": D("230.00"), "customers_acquired": 1}
    assert months["2026-03"] == {"month": "2026-03", "orders": 1, "net_revenue": D("30.00"), "customers_acquired": 0}


def test_a_channel_filter_keeps_that_channel_only(shop):
    figures = metrics_report(start=date(2026, 1, 1), end=date(2026, 3, 31), channel="store")

    assert [r["channel"] for r in figures["revenue"]["by_sales_channel"]] == ["store"]
    assert figures["revenue"]["total"]["net"] == D("70.00")
    assert [r["channel"] for r in figures["acquisition"]["by_channel"]] == ["store"]
    assert figures["omnichannel"]["customers"] == 1


def test_campaign_lift_against_the_holdout(report):
    # Launched 01-02 09:00, 7 days: treated A (o1 on 01-06) and B (o4 on 01-12, too late); holdout D and E (none).
    assert report["campaigns"]["lift"] == [
        {
            "campaign": SPRING,
            "name": "Primavera",
            "treated": 2,
            "treated_converted": 1,
            "holdout": 2,
            "holdout_converted": 0,
            "treated_conversion_rate": D("0.5000"),
            "holdout_conversion_rate": D("0.0000"),
            "lift": D("0.5000"),
            "relative_lift": None,  # nothing to compare with: no holdout conversion
            "incremental_conversions": D("1.0"),
        }
    ]


def test_an_unmerge_splits_the_person_again_in_every_figure(shop):
    # C stands on its own again: web has A (100 + 30), C (80) and E (30); A is no longer omnichannel.
    shop.emit(
        f"customer-{shop.customers['A']}",
        "customer.unmerged",
        {"customer_id": str(shop.customers["A"]), "unmerged": str(shop.customers["C"])},
        customer="A",
        when=at("2026-04-01"),
    )
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    figures = metrics_report(start=date(2026, 1, 1), end=date(2026, 3, 31), churn_days=30)

    web = by(figures["revenue"]["by_acquisition_channel"], "channel", "web")
    assert (web["customers"], web["orders"], web["net"]) == (3, 4, D("240.00"))
    assert figures["omnichannel"]["omnichannel_customers"] == 1  # A: web and store
    assert by(figures["acquisition"]["by_channel"], "channel", "web")["customers_acquired"] == 2
