"""Celery tasks of messaging: thin, idempotent (they work from the outbox rows' state, never from arguments)."""

from celery import shared_task

from . import services
from .services.received import received_callbacks_apply
from .services.unmatched import unmatched_callbacks_retry


@shared_task(name="messaging.drain", acks_late=True, ignore_result=True)
def messages_drain_task() -> dict[str, int]:
    """Send what is due. Woken after each commit that queued messages, and by beat (retries, recoveries)."""
    return vars(services.messages_drain())


@shared_task(name="messaging.release_deferred", acks_late=True, ignore_result=True)
def messages_release_deferred_task() -> int:
    return services.messages_release_deferred()


@shared_task(name="messaging.unmatched_callbacks_retry", acks_late=True, ignore_result=True)
def unmatched_callbacks_retry_task() -> dict[str, int]:
    return unmatched_callbacks_retry()


@shared_task(name="messaging.callbacks_apply", acks_late=True, ignore_result=True)
def received_callbacks_apply_task() -> int:
    """Apply the status callbacks received one per request. Woken after their commits, and by beat."""
    return received_callbacks_apply()
