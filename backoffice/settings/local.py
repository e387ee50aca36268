"""Local development: DEBUG on unless the environment says otherwise; SQLite and eager Celery by default."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F403
