"""`make serve` (deploy/serve.py): migrate, collectstatic, then gunicorn, a Celery worker and beat with production
settings on PostgreSQL and Redis; ready when all answer; Ctrl-C stops the three and exits 0."""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks.support.production_server import (
    _drop_postgres_database,
    _postgres_database,
    free_loopback_port,
    server_database_name,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_serve_runs_web_worker_and_beat_until_interrupted(tmp_path):
    database = _postgres_database(os.environ["DATABASE_URL"], server_database_name(os.environ["DATABASE_URL"], "serve"))
    port = free_loopback_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))},
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database,
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
        "STATIC_BROTLI": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "CELERY_TASK_DEFAULT_QUEUE": f"serve-{os.getpid()}",
        # A broker database of its own: its beat and worker (production settings, the default queue) must not leave
        # work for, or take work from, the suite's worker on the suite's broker database.
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"].rsplit("/", 1)[0] + "/12",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(  # noqa: S603 - our own runner
            [sys.executable, "deploy/serve.py", "--bind", f"127.0.0.1:{port}", "--concurrency", "1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        ready, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready/", timeout=3) as answer:  # noqa: S310
                    ready = answer.status
                if "worker | " in log.read_text() and "beat   | " in log.read_text():
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert ready == 200, log.read_text()[-4000:]

        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, log.read_text()[-4000:]
    finally:
        if serve.poll() is None:
            serve.kill()
        _drop_postgres_database(database)
    text = log.read_text()
    assert "serve  | manage.py migrate --noinput" in text
    assert "serve  | stopped" in text
    for name in ("web", "worker", "beat"):
        assert f"started {name}" in text
