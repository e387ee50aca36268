"""Celery tasks of the event store: thin wrappers around the projector."""

from celery import shared_task
from django.core.cache import cache

from . import projector


@shared_task(name="eventstore.catch_up_projections", acks_late=True, ignore_result=True)
def catch_up_projections_task(names: list[str] | None = None) -> dict[str, int]:
    """Catch up these asynchronous projections (all of them by default) with one shared read of the log. Safe on
    several workers at once: each projection's checkpoint is its lease, a worker skips those another holds."""
    return projector.catch_up_all(names)


# At most one wake-up now and one a moment later per process and window: a catch-up reads everything committed
# before it starts, so one task per commit (thousands a minute under load) only queued duplicates ahead of real work.
WAKE_WINDOW_SECONDS = 1


def wake_async_projections() -> None:
    """After-commit hook (EVENTSTORE_AFTER_COMMIT_HOOKS): new events are in, let the catch-up readers run, one task
    per lane (settings.EVENTSTORE_PROJECTION_LANES), so several workers catch up different lanes at once.

    Coalesced when tasks go to a broker: the first commit of a window wakes the readers at once; later ones in the
    window leave one wake-up due at its end, so every commit is still followed by a catch-up that starts after it.
    Eager (no broker) runs each one, as before."""
    lanes = projector.lanes()
    if catch_up_projections_task.app.conf.task_always_eager:
        for lane in lanes:
            catch_up_projections_task.delay(lane)
        return
    for number, lane in enumerate(lanes):
        if cache.add(f"eventstore:wake:{number}:now", 1, WAKE_WINDOW_SECONDS):
            catch_up_projections_task.delay(lane)
        elif cache.add(f"eventstore:wake:{number}:later", 1, WAKE_WINDOW_SECONDS):
            catch_up_projections_task.apply_async((lane,), countdown=WAKE_WINDOW_SECONDS)


@shared_task(name="eventstore.create_partitions_ahead", acks_late=True, ignore_result=True)
def create_partitions_ahead_task(ahead: int | None = None) -> list[str]:
    """The log's partitions of this month and the next ones (PostgreSQL; nothing on SQLite). Idempotent."""
    from django.conf import settings

    from . import partitioning

    return partitioning.partitions_create_ahead(ahead=settings.EVENTSTORE_PARTITIONS_AHEAD if ahead is None else ahead)
