"""The rollups are a projection of the log: rebuilt, or caught up in small batches, they give the same figures."""

import uuid
from datetime import date

import pytest
from django.core.management import call_command

from backoffice.eventstore import projector
from backoffice.insights.models import DailyMetric, OrderFact, PersonFact
from backoffice.insights.selectors import metrics_report

from .conftest import SPRING, Shop, at

pytestmark = pytest.mark.django_db


def _figures():
    return metrics_report(start=date(2026, 1, 1), end=date(2026, 3, 31), churn_days=30)


def test_figures_are_the_same_after_rebuild_projections(shop):
    before = _figures()

    call_command("rebuild_projections")

    assert _figures() == before


def test_rebuilding_only_the_rollups_gives_the_same_rows(shop):
    rows = sorted(DailyMetric.objects.values_list("day", "channel", "metric", "dimension", "value"))

    call_command("rebuild_projections", "insights.rollups")

    assert sorted(DailyMetric.objects.values_list("day", "channel", "metric", "dimension", "value")) == rows


def test_catching_up_three_events_at_a_time_gives_the_same_figures(shop):
    before = _figures()
    projection = projector.projection("insights.rollups")
    projection.reset()
    from backoffice.eventstore.models import ProjectionCheckpoint

    ProjectionCheckpoint.objects.filter(name="insights.rollups").update(position=0)

    projector.catch_up("insights.rollups", batch_size=3)

    assert _figures() == before
    assert OrderFact.objects.count() == 8
    assert PersonFact.objects.count() == 5


def test_rebuild_projections_gives_back_the_campaign_audiences_and_windows(shop):
    from backoffice.insights.campaign_figures import campaign_lifts
    from backoffice.insights.models import AudienceFact, CampaignFact

    audience = sorted(AudienceFact.objects.values_list("campaign_id", "profile_id", "is_holdout"))
    windows = sorted(CampaignFact.objects.values_list("campaign_id", "attribution_days", "launched_at", "window_end"))
    lifts = campaign_lifts([SPRING])
    assert len(audience) == 4
    assert lifts[SPRING]["holdout"] == 2

    AudienceFact.objects.all().delete()
    CampaignFact.objects.all().delete()
    call_command("rebuild_projections", "insights.campaign_audience")

    assert sorted(AudienceFact.objects.values_list("campaign_id", "profile_id", "is_holdout")) == audience
    assert (
        sorted(CampaignFact.objects.values_list("campaign_id", "attribution_days", "launched_at", "window_end"))
        == windows
    )
    assert campaign_lifts([SPRING]) == lifts


def _catch_up():
    projector.catch_up_all(["insights.rollups"])


def _order_then_registration(s, *, catch_up_between: bool) -> None:
    """X orders at the counter and registers on the web a moment later: order.placed comes before
    customer.registered in the log, in one catch-up or in two."""
    s.customers["X"] = cid = uuid.uuid4()
    s.order("ox", "X", "store", "2026-01-10", "100.00")
    if catch_up_between:
        _catch_up()
    s.emit(
        f"customer-{cid}",
        "customer.registered",
        {"customer_id": str(cid), "identifiers": [{"kind": "email", "value": "x@example.es"}]},
        channel="web",
        customer="X",
        when=at("2026-01-10", "12:05"),
    )
    _catch_up()


@pytest.mark.parametrize("catch_up_between", [True, False], ids=["two_batches", "one_batch"])
def test_an_order_placed_just_before_its_customers_registration_takes_the_acquisition_channel(
    insights_settings, catch_up_between
):
    _order_then_registration(Shop(), catch_up_between=catch_up_between)

    report = metrics_report(start=date(2026, 1, 1), end=date(2026, 1, 31))
    by_acquisition = {r["channel"]: r["net"] for r in report["revenue"]["by_acquisition_channel"]}
    cohorts = {(r["cohort"], r["channel"]): r["net_first_12_months"] for r in report["cltv"]["by_cohort"]}
    assert by_acquisition == {"web": 100}
    assert cohorts[("2026-01", "web")] == 100
    assert OrderFact.objects.values_list("acquisition_channel", "registered_month").get(order_id="ox") == (
        "web",
        2026 * 12,
    )


@pytest.mark.parametrize("catch_up_between", [True, False], ids=["two_batches", "one_batch"])
def test_a_rebuild_gives_the_order_placed_before_registration_the_same_person_and_channel(
    insights_settings, catch_up_between
):
    _order_then_registration(Shop(), catch_up_between=catch_up_between)
    columns = ("order_id", "person_id", "acquisition_channel", "registered_month")
    live = list(OrderFact.objects.values_list(*columns))

    projector.rebuild(["insights.rollups"])

    assert list(OrderFact.objects.values_list(*columns)) == live


@pytest.mark.parametrize("catch_up_after_merge", [True, False], ids=["two_batches", "one_batch"])
def test_an_order_by_a_merged_profile_is_attributed_to_the_message_its_person_got(
    insights_settings, catch_up_after_merge
):
    s = Shop()
    s.register("A", "web", "2026-01-05")
    s.register("C", "app", "2026-01-06")
    s.message("message.sent", "A", "email", "2026-01-08", SPRING, "m-a", attempt=1)
    _catch_up()
    s.merge("C", "A", "2026-01-09")
    if catch_up_after_merge:
        _catch_up()
    # Under C's id (an import, say), after C became part of A's person: A's message counts, A's channel is C's.
    s.order("oc", "C", "web", "2026-01-10", "40.00")
    _catch_up()
    columns = ("person_id", "acquisition_channel", "registered_month", "campaign_id", "campaign_channel")
    live = OrderFact.objects.values_list(*columns).get(order_id="oc")

    projector.rebuild(["insights.rollups"])

    assert live == (s.customers["A"], "web", 2026 * 12, SPRING, "email")
    assert OrderFact.objects.values_list(*columns).get(order_id="oc") == live
