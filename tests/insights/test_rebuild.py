"""The rollups are a projection of the log: rebuilt, or caught up in small batches, they give the same figures."""

from datetime import date

import pytest
from django.core.management import call_command

from backoffice.eventstore import projector
from backoffice.insights.models import DailyMetric, OrderFact, PersonFact
from backoffice.insights.selectors import metrics_report

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
    from tests.insights.conftest import SPRING

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
