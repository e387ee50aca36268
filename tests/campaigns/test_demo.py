"""Demo campaigns: two finished with deliveries, orders and a lift; one draft; seeding twice adds nothing."""

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from backoffice.insights.campaign_figures import campaign_report
from backoffice.messaging.models import OutboundMessage
from campaigns.demo import seed_campaigns
from campaigns.models import Campaign, Status
from customers.models import CustomerOrder

pytestmark = pytest.mark.django_db


def test_seed_campaigns_makes_two_finished_campaigns_with_a_lift_and_a_draft_and_is_idempotent(outbox):
    first = seed_campaigns()
    projector.catch_up("customers.commerce")  # the customers' order records: asynchronous, as a worker keeps them
    counts = (Event.objects.count(), OutboundMessage.objects.count(), CustomerOrder.objects.count())
    second = seed_campaigns()
    projector.catch_up("customers.commerce")

    assert (Event.objects.count(), OutboundMessage.objects.count(), CustomerOrder.objects.count()) == counts
    assert second["orders"] == 0
    assert first["orders"] > 0
    statuses = dict(Campaign.objects.values_list("name", "status"))
    assert statuses == {
        "Rebajas de invierno": Status.COMPLETED,
        "Nueva colección de primavera": Status.COMPLETED,
        "Black Friday": Status.DRAFT,
    }
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])
    for campaign in Campaign.objects.filter(status=Status.COMPLETED):
        report = campaign_report(campaign=campaign)
        assert report["totals"]["sent"] > 0
        assert sum(row["delivered"] for row in report["channels"]) > 0
        assert float(report["totals"]["revenue"]) > 0
        assert report["lift"]["treated_conversion_rate"] > report["lift"]["holdout_conversion_rate"]
