"""A process imports the apps' tasks modules on the first send (backoffice.celery._registered): once, also when its
threads all send at once, since that import runs Django's whole system check (Celery's Django fixup)."""

import threading
import time

import pytest

from backoffice.celery import _registered, app

PROBE = "tests.celery_probe"


def _probe() -> None:
    """The body of the probe task (never run)."""


@pytest.fixture
def slow_tasks_import(monkeypatch):
    """The loader's real import, taking a while, after which the probe task is registered as a tasks module would;
    returns the list of imports run."""
    imports: list[int] = []
    real = app.loader.import_default_modules

    def import_default_modules():
        imports.append(threading.get_ident())
        time.sleep(0.05)  # threads arriving meanwhile queue on the lock
        real()
        app.task(name=PROBE)(_probe)

    monkeypatch.setattr(app.loader, "import_default_modules", import_default_modules)
    yield imports
    app.tasks.pop(PROBE, None)


def test_threads_that_waited_for_the_first_import_of_tasks_do_not_import_again(slow_tasks_import):
    found = []
    threads = [threading.Thread(target=lambda: found.append(_registered(PROBE).name)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert found == [PROBE] * 6
    assert len(slow_tasks_import) == 1
