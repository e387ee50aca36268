"""Attribution, lift against the holdout, cost and ROI per channel, against a fixture computed by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.messaging.models import OutboundMessage
from campaigns.report import campaign_report
from campaigns.services.fan_out import is_holdout

from .conftest import segment

pytestmark = pytest.mark.django_db

EITHER = {
    "op": "or",
    "rules": [
        {"field": "consent", "cmp": "eq", "value": "email"},
        {"field": "consent", "cmp": "eq", "value": "sms"},
    ],
}


def people_on_each_side(person, campaign, *, consents, treated, holdout):
    """Make people until `treated` fall outside the holdout and `holdout` inside it (the draw is a hash)."""
    out, held = [], []
    while len(out) < treated or len(held) < holdout:
        customer = person(consents=consents)
        side = held if is_holdout(campaign.id, customer, campaign.holdout_share) else out
        if (side is held and len(held) < holdout) or (side is out and len(out) < treated):
            side.append(customer)
        else:
            from customers.models import Customer

            Customer.objects.filter(id=customer).update(erased_at=timezone.now())  # not a person of the audience
    return out, held


def test_holdout_orders_count_for_lift_not_revenue_and_roi_per_channel_matches_the_hand_computation(
    person, shop, make_campaign, launched
):
    campaign = make_campaign(segments=[segment(EITHER)], holdout_share="0.500", channels=["email", "sms"])
    (a1, a2), held_email = people_on_each_side(person, campaign, consents=("email",), treated=2, holdout=2)
    (b1, b2), held_sms = people_on_each_side(person, campaign, consents=("sms",), treated=2, holdout=2)
    launched(campaign)
    late = timezone.now() - timedelta(days=10)
    OutboundMessage.objects.filter(customer_id=b2).update(sent_at=late)  # its order comes 10 days after: too late

    shop(a1, ["ZAP-RUN", "CAM-BLA"])  # 89.80 -> email
    shop(b1, ["PAN-VAQ"])  # 49.90 -> sms
    shop(b2, ["GOR-AZU"])  # 12.00: converted (lift), not attributed
    shop(held_email[0], ["ZAP-RUN"])  # 69.90: holdout, lift only

    report = campaign_report(campaign=campaign)

    channels = {row["channel"]: row for row in report["channels"]}
    assert channels["email"]["sent"] == 2
    assert channels["sms"]["sent"] == 2
    assert channels["email"]["revenue"] == "89.80"
    assert channels["sms"]["revenue"] == "49.90"
    assert channels["email"]["cost"] == "0.02"
    assert channels["sms"]["cost"] == "0.10"
    assert channels["email"]["roi"] == 4489.0
    assert channels["sms"]["roi"] == 498.0
    assert channels["email"]["converted"] == 1
    assert report["totals"]["revenue"] == "139.70"
    lift = report["lift"]
    assert (lift["treated"], lift["treated_converted"]) == (4, 3)
    assert (lift["holdout"], lift["holdout_converted"]) == (4, 1)
    assert lift["treated_conversion_rate"] == 0.75
    assert lift["holdout_conversion_rate"] == 0.25
    assert lift["absolute"] == 0.5
    assert lift["relative"] == 2.0
    assert lift["incremental_conversions"] == 2.0
    assert a2 not in held_email + held_sms


def test_report_api_serves_marketing_and_integration(api_client_for, person, launched):
    person()
    campaign = launched(holdout_share="0")

    response = api_client_for("integration").get(f"/api/v1/campaigns/{campaign.id}/report")

    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["sent"] == 1
    assert {row["channel"] for row in body["channels"]} == {"email", "sms"}
    assert api_client_for("support").get(f"/api/v1/campaigns/{campaign.id}/report").status_code == 403
