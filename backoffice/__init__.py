"""The project package: settings, URLs, the Celery app, and the shared lower layers (event store, accounts, API)."""

from .celery import app as celery_app

__all__ = ("celery_app",)
