"""On PostgreSQL, a cancellation that comes while a fan-out batch is queueing messages leaves nothing of the campaign
to send: the batch commits, and the cancellation withdraws what it queued, in its own transaction."""

import threading

import pytest
from django.db import connection

from backoffice.messaging.models import ChannelSetting, OutboundMessage
from backoffice.messaging.vocabulary import Status as MessageStatus
from campaigns import services, tasks
from campaigns.models import AudienceMember, Campaign, Outcome, Status
from campaigns.services import fan_out

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_cancellation_during_a_fan_out_batch_withdraws_what_the_batch_queued(person, make_campaign, monkeypatch):
    for _ in range(4):
        person()
    # The drain must not send before the race is over: the channel is paused, so messages wait in the outbox.
    ChannelSetting.objects.create(channel="email", is_paused=True)
    monkeypatch.setattr(tasks.campaign_snapshot_task, "delay", lambda *args: None)  # batches by hand, below
    campaign = make_campaign(holdout_share="0")
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")
    services.campaign_snapshot(campaign_id=campaign.id)

    queued, release = threading.Event(), threading.Event()
    real_queue = fan_out._queue

    def queue_then_wait(*args, **kwargs):
        answer = real_queue(*args, **kwargs)
        queued.set()  # the batch's messages are written, its people locked, nothing committed
        release.wait(timeout=10)
        return answer

    monkeypatch.setattr(fan_out, "_queue", queue_then_wait)
    errors = []

    def run(call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    batch = threading.Thread(
        target=run, args=(lambda: services.campaign_fan_out_batch(campaign_id=campaign.id, batch_size=2),)
    )
    cancel = threading.Thread(
        target=run, args=(lambda: services.campaign_cancel(campaign_id=campaign.id, actor="user:2"),)
    )
    batch.start()
    assert queued.wait(timeout=10)
    cancel.start()
    cancel.join(timeout=1)  # it waits for the batch's people, to cancel them
    assert cancel.is_alive()
    release.set()
    batch.join(timeout=20)
    cancel.join(timeout=20)

    assert errors == []
    assert Campaign.objects.get(pk=campaign.pk).status == Status.CANCELLED
    outcomes = sorted(AudienceMember.objects.filter(campaign=campaign).values_list("outcome", flat=True))
    assert outcomes == [Outcome.CANCELLED, Outcome.CANCELLED, Outcome.SENT, Outcome.SENT]
    messages = OutboundMessage.objects.filter(campaign_id=str(campaign.id))
    assert messages.count() == 2
    assert set(messages.values_list("status", "reason")) == {(MessageStatus.SUPPRESSED, "campaign_cancelled")}
