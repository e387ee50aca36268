"""On PostgreSQL, batches of two campaigns fanned out at the same time by different connections never spend more of
one person's contact-pressure budget than there is."""

import threading

import pytest
from django.db import connection

from backoffice.messaging.models import OutboundMessage
from campaigns import services, tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_campaigns_fanning_out_concurrently_respect_one_budget(person, make_campaign, settings, monkeypatch):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 2, "days": 7}
    people = [person(consents=("email", "sms")) for _ in range(30)]
    monkeypatch.setattr(tasks.campaign_snapshot_task, "delay", lambda *args: None)  # the threads do the work
    racing = []
    for channels in (["email"], ["sms"], ["email", "sms"]):
        campaign = make_campaign(channel_mode="every", channels=channels, holdout_share="0")
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")
        services.campaign_launch(campaign_id=campaign.id, actor="user:2")
        services.campaign_snapshot(campaign_id=campaign.id)
        racing.append(campaign)

    barrier = threading.Barrier(len(racing))
    errors = []

    def fan_out(campaign_id):
        try:
            barrier.wait()
            while services.campaign_fan_out_batch(campaign_id=campaign_id, batch_size=5).taken:
                pass
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=fan_out, args=(c.id,)) for c in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    per_person = {p: OutboundMessage.objects.filter(customer_id=p, purpose="marketing").count() for p in people}
    assert max(per_person.values()) == 2
    assert min(per_person.values()) == 2
