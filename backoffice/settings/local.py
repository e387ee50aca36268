"""Local development: DEBUG on unless the environment says otherwise; SQLite and eager Celery by default."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F403

if CELERY_TASK_ALWAYS_EAGER:  # noqa: F405
    # In-process tasks would log a success line per append; a worker's log is where those belong.
    LOGGING["loggers"]["celery.app.trace"] = {"level": "WARNING"}  # noqa: F405
