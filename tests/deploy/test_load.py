"""benchmarks/load.py at a tiny size: locust's retail mix through gunicorn on PostgreSQL with a Celery worker and beat
on Redis ends with every request answered without an error (its exit status), and prints a figure per request type
and the ratio to /health/."""

import os

import pytest

from benchmarks import load


@pytest.mark.integration
def test_the_load_benchmark_runs_the_retail_mix_without_errors(monkeypatch, capsys):
    base, _, name = os.environ["DATABASE_URL"].rpartition("/")
    monkeypatch.setenv("DATABASE_URL", f"{base}/{name}_load_bench")
    monkeypatch.setenv("CELERY_BROKER_URL", os.environ["CELERY_BROKER_URL"].rsplit("/", 1)[0] + "/13")

    status = load.main(["--users", "5", "--spawn-rate", "5", "--duration", "10", "--customers", "20"])

    out = capsys.readouterr().out
    assert status == 0, out
    for request_type in ("POST /events (batch of 10)", "GET /customers/{id} (360)", "POST /orders", "GET /health/"):
        assert request_type in out
    assert ", 0 errors," in out
