"""Celery tasks of the orders app: thin wrappers around the services."""

from celery import shared_task

from .services import carts_abandon_idle


@shared_task(name="orders.abandon_idle_carts", acks_late=True, ignore_result=True)
def abandon_idle_carts_task() -> int:
    """Beat: mark idle carts abandoned and remind once. Safe to run twice (keyed by cart id and stream version)."""
    return len(carts_abandon_idle())
