"""A real worker on Redis is killed (SIGKILL) in the middle of a campaign's fan-out, then restarted: every person of
the audience gets their message exactly once (one delivery row, one queued event, one acceptance at the provider),
and nobody is skipped."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.celery import app as celery_app
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.tasks import messages_drain_task
from campaigns import services
from campaigns.models import AudienceMember, Delivery, Outcome
from campaigns.models import Status as CampaignStatus
from campaigns.tasks import campaigns_launch_due_task
from customers.services.ingestion import customer_register
from tests.factories import ConsentFactory

from .conftest import wait_for
from .workers import sms_through, worker_taking_every_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PEOPLE = 600
QUEUE = f"campaigns-kill-{os.getpid()}"


@pytest.fixture
def worker(provider, tmp_path):
    with worker_taking_every_task(
        tmp_path / "worker.log",
        queue=QUEUE,
        **sms_through(provider),
        CAMPAIGNS_BATCH_SIZE="20",
        CAMPAIGNS_SNAPSHOT_PAGE="100",
    ) as running:
        yield running


def test_a_worker_killed_mid_fan_out_and_restarted_sends_every_remaining_message_exactly_once(provider, worker):
    celery_app.conf.task_always_eager = True  # the audience is made in process: projections catch up here
    for n in range(PEOPLE):
        customer_id, _ = customer_register(customer={"phone": f"+3466{n:07d}"}, channel="web", actor="test")
        ConsentFactory(customer_id=customer_id, channel="sms")
    segment = services.segment_save(
        name="SMS", rules={"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "sms"}]}, actor="t"
    )
    campaign = services.campaign_save(
        campaign=None,
        values={
            "name": "Kill",
            "key_message": "Rebajas",
            "intent": "Vender",
            "channels": ["sms"],
            "starts_at": timezone.now() - timedelta(minutes=1),
            "ends_at": timezone.now() + timedelta(days=1),
            "sms_text": "Rebajas: 20% en tienda",
            "objective": "o",
            "kpi": "k",
            "target_value": 1,
            "budget": 10,
            "costs": {"sms": "0.05"},
        },
        actor="user:1",
        segment_ids=[segment.id],
    )
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    celery_app.conf.task_always_eager = False
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")  # the snapshot task goes to the broker

    def some_queued():
        """part of the audience has its messages queued"""
        return Delivery.objects.filter(campaign=campaign).count() >= 60

    wait_for(some_queued, timeout=90, interval=0.02)
    worker.kill()
    queued_before_kill = Delivery.objects.filter(campaign=campaign).count()
    worker.start()

    def all_decided():
        """every person of the audience is decided and every message sent"""
        campaigns_launch_due_task.delay()  # what beat does every minute
        messages_drain_task.delay()
        snapshot_done = AudienceMember.objects.filter(campaign=campaign).count() == PEOPLE
        pending = AudienceMember.objects.filter(campaign=campaign, outcome=Outcome.PENDING).exists()
        sent = OutboundMessage.objects.filter(campaign_id=str(campaign.id), status=Status.SENT).count()
        queued = Delivery.objects.filter(campaign=campaign).count()
        campaign.refresh_from_db()
        return snapshot_done and not pending and sent == queued and campaign.status == CampaignStatus.COMPLETED

    wait_for(all_decided, timeout=180, interval=1.0)

    audience = AudienceMember.objects.filter(campaign=campaign)
    treated = audience.filter(is_holdout=False)
    assert 0 < queued_before_kill < treated.count()
    assert treated.exclude(outcome=Outcome.SENT).count() == 0
    assert audience.filter(is_holdout=True, outcome=Outcome.HOLDOUT).count() == PEOPLE - treated.count()
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == treated.count()
    assert set(deliveries.values_list("customer_id", flat=True)) == set(treated.values_list("customer_id", flat=True))
    keys = set(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("idempotency_key", flat=True))
    assert len(keys) == treated.count()
    queued_events = Event.objects.filter(type="message.queued", data__campaign_id=str(campaign.id))
    assert queued_events.count() == treated.count()
    backends = set(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("backend", flat=True))
    assert backends == {"webhook"}  # sent by this test's worker
    assert set(provider.accepted) == keys  # every message reached the provider
    assert set(provider.acceptances.values()) == {1}  # and none twice
    assert Event.objects.filter(type="campaign.completed", stream=f"campaign-{campaign.id}").count() == 1
