"""Celery tasks of the event store: thin wrappers around the projector."""

from celery import shared_task

from . import projector


@shared_task(name="eventstore.catch_up_projections", acks_late=True, ignore_result=True)
def catch_up_projections_task() -> dict[str, int]:
    return projector.catch_up_all()


def wake_async_projections() -> None:
    """After-commit hook (EVENTSTORE_AFTER_COMMIT_HOOKS): new events are in, let the catch-up readers run."""
    catch_up_projections_task.delay()
