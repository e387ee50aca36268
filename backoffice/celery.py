"""The Celery app. Tasks are thin wrappers around services; settings come from Django's (CELERY_ namespace)."""

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.local")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Without a broker tasks run eagerly in process (settings: CELERY_TASK_ALWAYS_EAGER), and Celery still builds a
# producer for each one; an in-memory transport keeps it from reaching for a broker on localhost and warning
# "No hostname was supplied" on a run where no broker is meant. A configured broker is left as it is.
if not settings.CELERY_BROKER_URL:
    app.conf.broker_url = "memory://localhost/"
app.autodiscover_tasks()
