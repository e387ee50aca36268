"""Celery tasks of campaigns: thin and idempotent (they work from the audience rows' state, never from arguments
beyond ids)."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

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


# --- Journeys -------------------------------------------------------------------------------------------------------

# Wake-ups are coalesced like the async projections' (eventstore.tasks): at most one now and one at the window's end.
JOURNEYS_WAKE_SECONDS = 1


@shared_task(name="campaigns.journeys_consume", acks_late=True, ignore_result=True)
def journeys_consume_task() -> int:
    """Read the log from the journeys' cursor (entries, goals, awaited events); ask for step batches if runs are due."""
    read, woke = services.journeys_consume()
    if woke:
        journey_runs_advance_task.delay()
    return read


@shared_task(name="campaigns.journey_runs_advance", acks_late=True, ignore_result=True)
def journey_runs_advance_task() -> int:
    """One batch of due runs; another task for the next batch while there are more (any number of workers share
    them: each takes rows the others have not locked)."""
    taken = services.journey_runs_advance()
    if taken:
        journey_runs_advance_task.delay()
    return taken


@shared_task(name="campaigns.journeys_tick", acks_late=True, ignore_result=True)
def journeys_tick_task() -> None:
    """Beat: catch the process manager up, and start the step workers when waits have come due."""
    journeys_consume_task.delay()
    services.journeys_enter_segments()
    services.journeys_enter_dates()
    due = services.journey_runs_due_count()
    batches = min(-(-due // settings.JOURNEYS_BATCH_SIZE), 8)
    for _ in range(batches):
        journey_runs_advance_task.delay()


def wake_journeys() -> None:
    """After-commit hook (EVENTSTORE_AFTER_COMMIT_HOOKS): new events may enter, move or take out people."""
    if journeys_consume_task.app.conf.task_always_eager:
        journeys_consume_task.delay()
    elif cache.add("journeys:wake:now", 1, JOURNEYS_WAKE_SECONDS):
        journeys_consume_task.delay()
    elif cache.add("journeys:wake:later", 1, JOURNEYS_WAKE_SECONDS):
        journeys_consume_task.apply_async(countdown=JOURNEYS_WAKE_SECONDS)
