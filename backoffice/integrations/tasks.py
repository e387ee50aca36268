"""Celery tasks of the integrations app: thin wrappers around its services."""

from celery import shared_task

from .services.dead_letters import dead_letters_expire


@shared_task(name="integrations.dead_letters_expire", acks_late=True, ignore_result=True)
def dead_letters_expire_task() -> int:
    return dead_letters_expire()
