"""Server processes freeze their start-up out of the cycle collector's reach (backoffice.process), each in a fresh
interpreter: the test process's own collector is left alone."""

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.process import collector_paused

ROOT = Path(__file__).resolve().parents[1]


def _frozen_after(code: str) -> int:
    """gc.get_freeze_count() in a fresh interpreter once `code` has run (the local settings: no secrets needed)."""
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", f"import gc\n{code}\nprint(gc.get_freeze_count())"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.local"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1])


def test_nothing_is_frozen_by_setting_django_up_alone():
    assert _frozen_after("import django; django.setup()") == 0


def test_a_web_worker_freezes_what_loading_the_wsgi_application_built():
    # What gunicorn does in each worker: import the module and take `application` from it.
    assert _frozen_after("from backoffice.wsgi import application") > 50_000


def test_a_celery_pool_process_freezes_its_start_up_once_forked():
    code = (
        "import django; django.setup()\n"
        "from celery import signals\n"
        "from backoffice.celery import app\n"
        "signals.worker_process_init.send(sender=None)"
    )
    assert _frozen_after(code) > 50_000


def test_the_collector_is_paused_for_a_batch_and_back_after_it_even_when_the_batch_fails():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("the batch failed")
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_the_collector_off_until_the_outer_one_ends():
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
