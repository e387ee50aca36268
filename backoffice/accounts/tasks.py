"""Celery tasks of the accounts app: thin wrappers around its services."""

from celery import shared_task

from .services import personal_data_accesses_purge


@shared_task(name="accounts.personal_data_accesses_purge", acks_late=True, ignore_result=True)
def personal_data_accesses_purge_task() -> int:
    return personal_data_accesses_purge()
