"""The Celery app. Tasks are thin wrappers around services; settings come from Django's (CELERY_ namespace).

Logging: worker and beat log through Django's LOGGING (not Celery's own format), so LOG_FORMAT=json gives them the
same JSON lines as the web, through the same personal-data mask. While a task runs, its lines carry `task_id` and a
`correlation_id`: the one of the request (or task) that enqueued it, carried in a message header, else the task id.
"""

import logging
import os
import sys
import threading
from contextvars import Token

from celery import Celery, signals

from backoffice import replica

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.local")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task reads on the primary, also when it runs eagerly inside a request that may read on the replica.
signals.task_prerun.connect(replica.task_starts, dispatch_uid="replica-task-starts")
signals.task_postrun.connect(replica.task_ends, dispatch_uid="replica-task-ends")


_import_lock = threading.Lock()


def _registered(name: str):
    """The task `name`, importing the apps' tasks modules on first use. Under a lock: a web process's threads ask at
    once, and one that found the import already under way saw no task yet (NotRegistered)."""
    if name not in app.tasks:
        with _import_lock:
            # Asked again under the lock: the threads that queued behind the first import would each run it again
            # (with Celery's Django fixup, the whole system check: ~70 ms of CPU each).
            if name not in app.tasks:
                app.loader.import_default_modules()
    return app.tasks[name]


def tasks_prepare(name: str) -> None:
    """Import the apps' tasks modules and load what sending `name` needs (its result backend) now, at a web process's
    start, rather than in the first request that sends it: that import runs Django's system check (Celery's Django
    fixup) and a scan of every installed package's entry points, ~70-150 ms of CPU, which its request and the threads
    waiting on it paid."""
    _ = _registered(name).backend


def task_send(name: str, *args, **kwargs):
    """Sends the registered task `name`: how services hand work to tasks without importing them (tasks import
    services; an import-linter contract forbids the other way). A web or command process imports the apps' tasks
    modules only when something asks, so the first call here imports them (autodiscovery). Through the task object,
    not `send_task`, so the embedded default's eager mode runs it in process as `.delay()` does."""
    return _registered(name).delay(*args, **kwargs)


def task_send_in(seconds: float, name: str, *args):
    """`task_send`, to run `seconds` from now (eagerly: at once)."""
    return _registered(name).apply_async(args=args, countdown=seconds)


# Not "correlation_id": Celery uses that name for the AMQP property, which is the task id.
CORRELATION_HEADER = "backoffice_correlation_id"


def log_unraisable(unraisable: "sys.UnraisableHookArgs") -> None:
    """sys.unraisablehook: an exception Python could not raise, as an ERROR record with its traceback."""
    message = unraisable.err_msg or "Exception ignored in"
    logging.getLogger("python.unraisable").error(
        "%s: %r",
        message,
        unraisable.object,
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback)
        if unraisable.exc_value is not None
        else None,
    )


@signals.setup_logging.connect
def _logging_from_django_settings(loglevel=None, **kwargs):
    """Connected, this replaces Celery's logging setup in worker and beat by Django's LOGGING."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    # Python warnings (Celery's own, a library's deprecations) become log records too: the same format and mask.
    logging.captureWarnings(True)
    # So do exceptions Python can only report, not raise (a __del__ failing, e.g. a task result's when beat stops):
    # printed raw to stderr they broke LOG_FORMAT=json's one JSON object per line.
    sys.unraisablehook = log_unraisable
    if loglevel:  # `-l info` on the command line, as before
        logging.getLogger().setLevel(loglevel if isinstance(loglevel, int) else str(loglevel).upper())


@signals.worker_process_init.connect
@signals.worker_ready.connect
def _start_up_done(**kwargs):
    """A pool process once forked (prefork), or the worker once ready (solo and thread pools run tasks in it)."""
    from backoffice.process import start_up_done

    start_up_done()


@signals.celeryd_init.connect
def _no_banner_in_json(instance=None, **kwargs):
    """The worker's start-up banner is a print to stdout, not a log record: with LOG_FORMAT=json it is left out, so
    the stream is JSON lines (`celery inspect`/`report` still tell what the banner told). Celery still prints
    "worker: Warm shutdown" to the terminal when stopped: the one line that is not JSON."""
    from django.conf import settings

    if settings.LOG_FORMAT == "json" and instance is not None:
        instance.quiet = True
        # Warnings at start-up (running as root...) come before Celery sets logging up: JSON them already.
        _logging_from_django_settings()


@signals.before_task_publish.connect
def _carry_correlation_id(headers=None, **kwargs):
    from backoffice.logs import correlation_id_var

    correlation_id = correlation_id_var.get()
    if correlation_id and headers is not None:
        headers.setdefault(CORRELATION_HEADER, correlation_id)


# Per task id, what to restore after it (an eager task runs inside a request: the request's ids come back).
_task_context: dict[str, tuple[Token, Token]] = {}


@signals.task_prerun.connect
def _task_log_context(task_id=None, task=None, **kwargs):
    from backoffice.logs import correlation_id_var, task_id_var

    correlation_id = getattr(task.request, CORRELATION_HEADER, None) if task is not None else None
    if not correlation_id:
        correlation_id = correlation_id_var.get() if task is not None and task.request.is_eager else None
    _task_context[task_id] = (task_id_var.set(task_id), correlation_id_var.set(correlation_id or task_id))


@signals.task_postrun.connect
def _task_log_context_end(task_id=None, **kwargs):
    from backoffice.logs import correlation_id_var, task_id_var

    tokens = _task_context.pop(task_id, None)
    if tokens is not None:
        task_id_var.reset(tokens[0])
        correlation_id_var.reset(tokens[1])
