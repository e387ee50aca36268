"""benchmarks/eventsourcing_compare.py needs the `eventsourcing` library, which is installed only to run that script
(not a project dependency, not in CI). Without it, the script must say how to install it and stop; with it (and
PostgreSQL), it runs at a tiny size like every other benchmark."""

import importlib.util
import subprocess

import pytest

from .test_smoke import _assert_ran, _bench_database_url
from .test_smoke import _run as run_script

TINY = ["--commands", "40", "--aggregates", "10", "--batches", "4", "--rounds", "2"]
HAS_LIBRARY = importlib.util.find_spec("eventsourcing") is not None


def _run(database_url: str | None, tmp_path) -> subprocess.CompletedProcess:
    return run_script("eventsourcing_compare", database_url, tmp_path, TINY)


def test_the_comparison_says_what_it_needs_when_it_cannot_run(tmp_path):
    result = _run(None, tmp_path)  # no PostgreSQL URL; and maybe no library

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if HAS_LIBRARY:
        assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr
    else:
        assert 'pip install "eventsourcing[postgres]"' in result.stderr


@pytest.mark.postgres
def test_the_comparison_runs_at_a_tiny_size_on_postgresql_when_the_library_is_installed(tmp_path):
    result = _run(_bench_database_url("eventsourcing_compare"), tmp_path)

    if HAS_LIBRARY:
        _assert_ran(result, "eventsourcing_compare")
        assert "one event per command" in result.stdout
        # the server on this machine: each side's backend CPU is read, so the CPU ratio is a figure, not n/a
        assert "CPU ratio" in result.stdout
        assert "n/a" not in result.stdout
    else:
        assert result.returncode != 0
        assert 'pip install "eventsourcing[postgres]"' in result.stderr
