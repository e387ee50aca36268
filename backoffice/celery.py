"""The Celery app. Tasks are thin wrappers around services; settings come from Django's (CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

from backoffice import replica

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.local")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task reads on the primary, also when it runs eagerly inside a request that may read on the replica.
task_prerun.connect(replica.task_starts, dispatch_uid="replica-task-starts")
task_postrun.connect(replica.task_ends, dispatch_uid="replica-task-ends")
