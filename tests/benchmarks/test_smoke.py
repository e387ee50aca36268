"""Every benchmark script runs at a tiny size in the suite, on SQLite and (in the PostgreSQL run) on PostgreSQL,
so none rots: a script that crashes, or prints no figure, fails here. The figures themselves are not judged here:
speed is measured by running the scripts at full size (benchmarks/README.md), never in a timed test."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "ingest": ["--events", "500", "--batch", "100", "--single", "50", "--customers", "50", "--read-page", "100"],
    "orders": [
        "--attempts",
        "20",
        "--threads",
        "4",
        "--units",
        "5",
        "--orders",
        "40",
        "--api-processes",
        "1",
        "--repeat",
        "10",
    ],
    "campaigns": [
        "--customers",
        "200",
        "--workers",
        "1",
        "--repeat",
        "1",
        "--baseline-messages",
        "100",
        "--drain-seconds",
        "5",
    ],
    "messaging": ["--messages", "100", "--customers", "50", "--rounds", "1"],
    "insights": ["--scale", "0.0005", "--repeat", "1"],
    "journeys": ["--people", "60", "--ingest-seconds", "2", "--ingest-rate", "200"],
    "customer360": ["--events", "100", "--others", "20", "--repeat", "5", "--cases", "2"],
    # Appends and orders from 1 and 2 processes (SQLite: 1, its one writer).
    "writers": ["--appends", "40", "--orders", "8", "--processes", "1,2", "--baseline-messages", "200"],
    "append_cpu": ["--appends", "30", "--batches", "3", "--orders", "10"],
    # Without DATABASE_REPLICA_URL the replica alias is the primary: the split runs, its ratio means nothing.
    "replica": ["--customers", "20", "--events", "5", "--reads", "20", "--repeat", "1"],
    "integrations": ["--events", "200", "--batch", "50", "--orders", "6", "--processes", "1"],
    "projections": ["--events", "3000", "--batch", "500", "--rebuild-batch", "1000"],
    # gunicorn with production settings; schemathesis, and locust, at a few cases each.
    "fuzz_api": ["--max-examples", "1", "--phases", "fuzzing", "--customers", "0", "--max-time", "5"],
    "load": ["--users", "3", "--spawn-rate", "3", "--duration", "5", "--customers", "10", "--web-workers", "1"],
}


def _run(
    script: str, database_url: str | None, tmp_path: Path, args: list[str] | None = None
) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {"PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "backoffice.settings.local", "TMPDIR": str(tmp_path)}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(  # noqa: S603 - our own script, with arguments of our own
        [sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *(TINY[script] if args is None else args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _bench_database_url(script: str) -> str:
    """A database of the benchmark's own beside the suite's (the scripts drop and recreate it: name has `bench`)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{parts.path.lstrip('/') or 'backoffice'}_smoke_{script}_bench"))


def _assert_ran(result: subprocess.CompletedProcess, script: str) -> None:
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    assert any(char.isdigit() for char in result.stdout), f"{script} printed no figure"


@pytest.mark.parametrize("script", sorted(TINY))
def test_every_benchmark_runs_at_a_tiny_size_on_sqlite(script, tmp_path):
    _assert_ran(_run(script, None, tmp_path), script)


@pytest.mark.postgres
@pytest.mark.parametrize("script", sorted(TINY))
def test_every_benchmark_runs_at_a_tiny_size_on_postgresql(script, tmp_path):
    _assert_ran(_run(script, _bench_database_url(script), tmp_path), script)


def test_every_script_in_benchmarks_has_a_tiny_run_here():
    scripts = {path.stem for path in (ROOT / "benchmarks").glob("*.py") if path.stem != "__init__"}

    assert scripts == set(TINY) | set(SMOKED_ELSEWHERE), "add the new benchmark's tiny arguments to TINY"
    for test_file in SMOKED_ELSEWHERE.values():
        assert (ROOT / test_file).is_file()


# Benchmarks with a tiny run of their own that checks more than "it ran" (both databases too).
SMOKED_ELSEWHERE = {
    "providers": "tests/messaging/providers/test_benchmark_smoke.py",
    # Needs the `eventsourcing` library, installed only for that script (not in CI): its own file says how it runs.
    "eventsourcing_compare": "tests/benchmarks/test_eventsourcing_compare_smoke.py",
    # Its shortest run takes 4 minutes (a cluster, seeding, five faults): CI's proof is the fault tests, which share
    # its helpers (benchmarks/support/faults.py) and inject the same faults at a smaller scale.
    "faults": "tests/integration/test_fault_redis_stopped.py",
}
