"""benchmarks/providers.py at a tiny size: every backend drains into its loopback provider, the callbacks go through
a real gunicorn, each recorded once (the script asserts it), and the report prints. On PostgreSQL it runs against a
database of its own (dropped afterwards); figures at this size mean nothing, only that the benchmark works."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.django_db


def _bench_database() -> tuple[dict, str | None]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if connection.vendor != "postgresql":
        return env, None
    s = connection.settings_dict
    name = f"{s['NAME']}_providers_bench"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    env["DATABASE_URL"] = f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    return env, name


def _drop(database: str) -> None:
    """DROP DATABASE cannot run inside the test's transaction: a connection of its own, in autocommit."""
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432,
        user=s["USER"],
        password=s.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_the_providers_benchmark_runs_at_a_tiny_size():
    env, database = _bench_database()
    try:
        finished = subprocess.run(  # noqa: S603 - our own interpreter and script
            [
                sys.executable,
                "benchmarks/providers.py",
                "--messages",
                "40",
                "--customers",
                "10",
                "--rounds",
                "1",
                "--callbacks",
                "20",
                "--server-workers",
                "1",
                "--clients",
                "2",
                "--meta-batch",
                "5",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        if database:
            _drop(database)

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    report = finished.stdout
    for line in (
        "in-memory (baseline)",
        "anymail -> Postmark API",
        "twilio -> Messages API",
        "meta -> WhatsApp Cloud API",
    ):
        assert line in report
    assert "Twilio status callbacks, one per POST, each recorded once" in report
    assert "the same callbacks resent: 0 recorded" in report
