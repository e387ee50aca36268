"""A real Celery worker on the real broker (Redis) and the test database (PostgreSQL), for `integration` tests."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from backoffice.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def celery_worker_command(*options: str) -> list[str]:
    """`celery worker` for the project in one process (solo pool), quiet towards other workers."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "backoffice",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        *options,
    ]


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start `celery worker` as its own process against the test database; stop it after the session."""
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
    }
    # Pinged by name: any other worker on the broker (one a crashed run left behind) answers a ping to all at once,
    # and the tests would start before this one listens.
    name = f"test-{os.getpid()}@{socket.gethostname()}"
    celery_app.control.purge()
    with log.open("w") as out:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            celery_worker_command("-n", name),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited at start:\n{log.read_text()}")
        if celery_app.control.ping(destination=[name], timeout=1):
            break
    else:
        worker.kill()
        raise RuntimeError(f"the Celery worker did not answer within 60 s:\n{log.read_text()}")
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.fixture
def provider():
    """A loopback SMS provider for the webhook backend."""
    from tests.messaging.provider import LoopbackProvider

    running = LoopbackProvider().start()
    yield running
    running.stop()


@pytest.fixture
def tasks_go_to_the_broker(celery_worker):
    """Send tasks to the worker through Redis instead of running them in this process."""
    celery_app.conf.task_always_eager = False
    yield celery_worker
    celery_app.conf.task_always_eager = True


def wait_for(check, *, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {check.__doc__ or check}")


def reset_task_router() -> None:
    """Celery builds its router once, from the routes of that moment: a test that changes `task_routes` after an
    earlier test sent a task must have it rebuilt, or its tasks go where the earlier routes said."""
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture(autouse=True)
def _workers_idle_before_the_flush():
    """After each test, the queue is emptied and every worker has finished its task before the database is flushed:
    a worker still catching up (every commit wakes the async projections) holds table locks that deadlock the
    flush's TRUNCATE, and the next test would start on the leftovers with a backlog in the queue."""
    yield
    celery_app.control.purge()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        active = celery_app.control.inspect(timeout=1).active()
        if active is not None and not any(active.values()):
            return
        celery_app.control.purge()
        time.sleep(0.2)
