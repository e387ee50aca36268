"""A `celery worker` of a test's own, on a queue of its own, that the test can kill (SIGKILL) and start again."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backoffice.celery import app as celery_app

from .conftest import ROOT, _database_url, celery_worker_command, reset_task_router


class Worker:
    """`celery worker` (solo pool: one process, so SIGKILL stops everything it was doing) on its own queue."""

    def __init__(self, env: dict, log_path: Path, *, queue: str, name: str | None = None):
        self.env, self.log_path, self.queue, self.process = env, log_path, queue, None
        self.name = name or f"kill-{os.getpid()}@{socket.gethostname()}"

    def start(self) -> None:
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                celery_worker_command("--without-heartbeat", "-Q", self.queue, "-n", self.name),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited at start:\n{self.log_path.read_text()}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"the worker did not answer within 60 s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def sms_through(provider) -> dict[str, str]:
    """Worker settings: SMS go by the webhook backend to the loopback `provider`, and a message left `sending` for
    two seconds (its worker killed) is sent again."""
    return {
        "MESSAGING_BACKEND_SMS": "webhook",
        "MESSAGING_WEBHOOK_URL_SMS": provider.url,
        "MESSAGING_SENDING_STALE_SECONDS": "2",
    }


@contextmanager
def worker_on_own_queue(
    log_path: Path, *, queue: str, routes: dict, name: str | None = None, start: bool = True, **settings: str
) -> Iterator[Worker]:
    """A Worker on `queue` against the test database, with `settings` in its environment. While it lives, the tasks
    that `routes` sends to its queue go through the broker (not run in this process); the routes and eagerness of
    before are put back after."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        **settings,
    }
    running = Worker(env, log_path, queue=queue, name=name)
    celery_app.control.purge()
    routes_before, eager_before = celery_app.conf.task_routes, celery_app.conf.task_always_eager
    celery_app.conf.task_routes = routes
    celery_app.conf.task_always_eager = False
    reset_task_router()
    try:
        if start:
            running.start()
        yield running
    finally:
        running.stop()
        celery_app.conf.task_routes, celery_app.conf.task_always_eager = routes_before, eager_before
        reset_task_router()


def worker_taking_every_task(log_path: Path, *, queue: str, start: bool = True, **settings: str):
    """worker_on_own_queue for every task, named after its queue; what the worker enqueues itself (batches, drain
    wake-ups) stays on that queue too."""
    return worker_on_own_queue(
        log_path,
        queue=queue,
        routes={"*": {"queue": queue}},
        name=f"{queue}@localhost",
        start=start,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        **settings,
    )
