"""The forked benchmark children start their timed work together, once every one of them has warmed up: a child
still connecting when the others start would put its start-up inside the window the benchmark divides by."""

import time

import pytest

from benchmarks.support.runs import run_forked_together

SLOW_WARM_SECONDS = 1.0


def _warm_then_wait(index: int, start) -> tuple[float, float]:
    if index == 1:
        time.sleep(SLOW_WARM_SECONDS)  # a child slower to connect and warm up than the parent's minimum wait
    ready = time.perf_counter()
    start.wait()
    return ready, time.perf_counter()


def test_children_start_only_when_the_slowest_has_warmed_up():
    forked = run_forked_together(_warm_then_wait, 3, warm_seconds=0.05, timeout=30)

    slowest_ready = max(ready for ready, _ in forked.answers)
    assert forked.started >= slowest_ready
    assert all(going >= forked.started for _, going in forked.answers)


def _fail_while_warming(index: int, start) -> None:
    if index == 0:
        raise ValueError("could not connect")
    start.wait()


def test_a_child_that_fails_while_warming_fails_the_run_instead_of_holding_the_others():
    with pytest.raises(RuntimeError, match="could not connect"):
        run_forked_together(_fail_while_warming, 2, warm_seconds=0.05, timeout=30)
