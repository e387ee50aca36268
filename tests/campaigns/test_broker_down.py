"""The broker down when a launch commits: the launch has happened (the campaign is running and its launch is in the
log), so the client is told so; beat's launch_due asks again for the snapshot and the batches."""

import pytest
from kombu.exceptions import OperationalError

from campaigns import services
from campaigns.models import Campaign
from campaigns.tasks import campaign_snapshot_task, campaigns_launch_due_task

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_launch_with_the_broker_down_is_answered_as_the_launch_it_was(
    person, make_campaign, api_client_for, monkeypatch
):
    for _ in range(3):
        person()
    campaign = make_campaign()
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    client = api_client_for("marketing")
    client.raise_request_exception = False
    with monkeypatch.context() as broker:
        broker.setattr(campaign_snapshot_task, "delay", lambda *a, **k: (_ for _ in ()).throw(OperationalError("down")))
        response = client.post(f"/api/v1/campaigns/{campaign.id}/launch")

    assert response.status_code == 202
    campaign.refresh_from_db()
    assert (campaign.status, campaign.is_snapshot_done) == ("running", False)

    campaigns_launch_due_task()  # the broker is back: beat's next minute
    campaign.refresh_from_db()
    assert campaign.is_snapshot_done
    assert Campaign.objects.get(id=campaign.id).audience.count() == 3
