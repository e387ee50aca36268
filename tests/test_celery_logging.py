"""Celery's processes log through Django's LOGGING: exceptions Python can only report (a failing __del__) too, so
LOG_FORMAT=json keeps one JSON object per line (tests/integration/test_celery_json_logs.py runs a real beat)."""

import logging
import sys

from backoffice.celery import log_unraisable


class _FailsWhenCollected:
    def __del__(self):
        raise RuntimeError("the result backend is gone")


def test_an_exception_python_cannot_raise_becomes_an_error_record(caplog):
    previous = sys.unraisablehook
    sys.unraisablehook = log_unraisable
    try:
        with caplog.at_level(logging.ERROR, logger="python.unraisable"):
            doomed = _FailsWhenCollected()
            del doomed
    finally:
        sys.unraisablehook = previous
    (record,) = [r for r in caplog.records if r.name == "python.unraisable"]
    assert record.levelno == logging.ERROR
    assert "Exception ignored" in record.getMessage()
    assert "_FailsWhenCollected" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
