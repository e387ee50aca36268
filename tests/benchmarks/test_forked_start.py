"""The forked benchmark children start their timed work together, once every one of them has warmed up: a child
still connecting when the others start would put its start-up inside the window the benchmark divides by.

Each case runs in a fresh interpreter, as a benchmark script does: forking the test process itself (its database
connections, Celery's broker pools and threads of earlier tests) is not what run_forked_together is made for."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SETUP = """
import time
import django
django.setup()
from benchmarks.support.runs import run_forked_together
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _SETUP + textwrap.dedent(code)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.local", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_children_start_only_when_the_slowest_has_warmed_up():
    result = _run(
        """
        def warm_then_wait(index, start):
            if index == 1:
                time.sleep(1.0)  # a child slower to connect and warm up than the parent's minimum wait
            ready = time.perf_counter()
            start.wait()
            return ready, time.perf_counter()

        forked = run_forked_together(warm_then_wait, 3, warm_seconds=0.05, timeout=30)
        slowest_ready = max(ready for ready, _ in forked.answers)
        assert forked.started >= slowest_ready, (forked.started, slowest_ready)
        assert all(going >= forked.started for _, going in forked.answers), forked
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_a_child_that_fails_while_warming_fails_the_run_instead_of_holding_the_others():
    result = _run(
        """
        def fail_while_warming(index, start):
            if index == 0:
                raise ValueError("could not connect")
            start.wait()

        try:
            run_forked_together(fail_while_warming, 2, warm_seconds=0.05, timeout=30)
        except RuntimeError as exc:
            assert "could not connect" in str(exc), exc
            print("refused")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("refused")
