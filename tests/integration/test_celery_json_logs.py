"""LOG_FORMAT=json reaches Celery: a real worker and a real beat write JSON lines (Django's LOGGING, with its mask),
and a task's lines carry its task id and the correlation id of the request that enqueued it."""

import json
import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

import pytest

from backoffice.celery import app as celery_app
from backoffice.eventstore.tasks import catch_up_projections_task
from backoffice.logs import correlation_id_var

from .conftest import ROOT, _database_url, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_go_to_the_broker():
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


def _start(args, log_path, queue):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "LOG_FORMAT": "json",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    with log_path.open("w") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "backoffice", *args], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def _start_worker(name, log_path, queue):
    worker_args = ["worker", "--pool=solo", "-l", "INFO", "-Q", queue, "--without-gossip", "--without-mingle"]
    return _start([*worker_args, "-n", f"{name}-{os.getpid()}@%h"], log_path, queue)


# Celery prints this to the terminal when it stops (a print, not a log record).
SHUTDOWN_NOTICE = "worker: Warm shutdown"


def _json_lines(path) -> list[dict]:
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip() and not line.startswith(SHUTDOWN_NOTICE)]


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def _worker_writing_json(tmp_path, name):
    """A ready worker on a queue of its own, writing LOG_FORMAT=json to its log; stopped after. Yields (log, queue)."""
    queue = f"test-{name}-{os.getpid()}"
    log = tmp_path / "worker.log"
    worker = _start_worker(name, log, queue)
    try:
        wait_for(lambda: "ready" in log.read_text(), timeout=60)
        yield log, queue
    finally:
        _stop(worker)


def _task_lines(log, result) -> list[dict]:
    def task_line():
        """the worker logged the task's success"""
        return [e for e in _json_lines(log) if e.get("task_id") == result.id]

    return wait_for(task_line, timeout=60)


def test_a_worker_writes_json_lines_with_the_task_id_and_the_enqueuers_correlation_id(tmp_path):
    with _worker_writing_json(tmp_path, "logs") as (log, queue):
        correlation_id = f"corr-{uuid.uuid4()}"
        token = correlation_id_var.set(correlation_id)
        try:
            result = catch_up_projections_task.apply_async(queue=queue)
        finally:
            correlation_id_var.reset(token)
        lines = _task_lines(log, result)
    entries = _json_lines(log)  # every line is JSON: json.loads would have raised
    assert entries
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert lines[0]["correlation_id"] == correlation_id
    assert "succeeded" in lines[0]["message"]


def test_a_task_enqueued_outside_a_request_is_its_own_correlation_id(tmp_path):
    with _worker_writing_json(tmp_path, "logs2") as (log, queue):
        result = catch_up_projections_task.apply_async(queue=queue)
        lines = _task_lines(log, result)
    assert lines[0]["correlation_id"] == result.id


def test_beat_writes_json_lines(tmp_path):
    queue = f"test-beat-{os.getpid()}"
    log = tmp_path / "beat.log"
    beat = _start(["--quiet", "beat", "-l", "INFO", "-s", str(tmp_path / "schedule")], log, queue)
    try:
        wait_for(lambda: "Sending due task" in log.read_text(), timeout=60)
    finally:
        _stop(beat)
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
        time.sleep(0.1)
    entries = _json_lines(log)
    assert any(e["logger"] == "celery.beat" for e in entries)
