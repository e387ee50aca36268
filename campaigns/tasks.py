"""Celery tasks of campaigns: thin and idempotent (they work from the audience rows' state, never from arguments
beyond ids)."""

from celery import shared_task

from . import services


@shared_task(name="campaigns.snapshot", acks_late=True, ignore_result=True)
def campaign_snapshot_task(campaign_id: str) -> int:
    return services.campaign_snapshot(campaign_id=campaign_id, enqueue=_enqueue_batch)


@shared_task(name="campaigns.fan_out_batch", acks_late=True, ignore_result=True)
def campaign_fan_out_batch_task(campaign_id: str) -> int:
    return services.campaign_fan_out_batch(campaign_id=campaign_id).taken


@shared_task(name="campaigns.launch_due", acks_late=True, ignore_result=True)
def campaigns_launch_due_task() -> int:
    """Beat: start scheduled campaigns, and ask for batches wherever people are due (send windows that opened,
    batches a dead worker dropped)."""
    started = services.campaigns_launch_due()
    for campaign_id in services.campaigns_snapshot_unfinished():
        campaign_snapshot_task.delay(str(campaign_id))
    for campaign_id, batches in services.campaigns_due_batches().items():
        for _ in range(batches):
            campaign_fan_out_batch_task.delay(str(campaign_id))
    return len(started)


def _enqueue_batch(campaign_id) -> None:
    campaign_fan_out_batch_task.delay(str(campaign_id))
