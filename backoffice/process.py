"""Python's cycle collector in long-lived processes: what a server process (a gunicorn worker, a Celery worker) does
once its start-up is over, and the pause batch work (catch-up, rebuild, the drain) takes while one batch runs."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def start_up_done() -> None:
    """Everything imported and built so far lives as long as the process (Django, the apps, their libraries: over
    100,000 objects the cycle collector tracks): moved out of its reach (`gc.freeze`), so a full collection walks what
    requests and tasks allocate instead of spending tens of ms on objects that are never garbage. The start-up's own
    garbage is collected first, so none of it is kept for ever."""
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cycle collector off while one batch is read and applied (a catch-up's, a rebuild's, a drain's). A batch
    allocates a few hundred thousand objects that live until it ends (events, their data, the projections' rows),
    and each of the collector's full passes walks all of them again: a quarter of a catch-up's CPU in
    benchmarks/projections.py, ~7% of a personalised email drain's. Whatever a batch leaves in cycles is collected
    once it is done (the collector is back on, and runs at its next threshold)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
