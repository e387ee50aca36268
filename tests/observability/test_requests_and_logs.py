"""Every request has an id (X-Request-ID, kept from the proxy when it looks like one) and a correlation id; JSON log
lines carry both, and never personal data."""

import io
import json
import logging

import pytest

from backoffice.logs import JsonLinesFormatter, MaskPersonalData, RequestContext

pytestmark = pytest.mark.django_db


def test_a_request_id_is_made_and_sent_back(client):
    response = client.get("/health/")

    assert len(response["X-Request-ID"]) == 32
    assert response["X-Correlation-ID"] == response["X-Request-ID"]


def test_the_proxys_request_id_and_the_callers_correlation_id_are_kept(client):
    response = client.get("/health/", HTTP_X_REQUEST_ID="lb-1234.abc", HTTP_X_CORRELATION_ID="checkout-77")

    assert response["X-Request-ID"] == "lb-1234.abc"
    assert response["X-Correlation-ID"] == "checkout-77"


@pytest.mark.parametrize("hostile", ["ana@example.es", "a b", "x" * 129, "line\\nbreak", "<script>"])
def test_a_request_id_that_is_not_an_id_is_replaced(client, hostile):
    response = client.get("/health/", HTTP_X_REQUEST_ID=hostile)

    assert response["X-Request-ID"] != hostile
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def json_log():
    """A handler configured like the console one with LOG_FORMAT=json, on the root logger for this test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(MaskPersonalData())
    handler.addFilter(RequestContext())
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)


def test_json_lines_carry_the_request_and_correlation_ids_with_query_values_masked(client, json_log):
    client.get(
        "/api/v1/customers?q=ana%40example.es&channel=web",
        HTTP_X_REQUEST_ID="req-42",
        HTTP_X_CORRELATION_ID="flow-9",
    )

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (refused,) = [line for line in lines if line["logger"] == "django.request"]
    assert refused["request_id"] == "req-42"
    assert refused["correlation_id"] == "flow-9"
    assert refused["level"] == "WARNING"
    assert "ana" not in json_log.getvalue()
    assert refused["message"] == "Unauthorized: /api/v1/customers"


def test_an_exception_is_logged_by_class_and_frames_never_by_its_message(json_log):
    try:
        raise ValueError("Key (email)=(ana@example.es) already exists")
    except ValueError:
        logging.getLogger("backoffice.test").exception("could not register")

    (line,) = [json.loads(entry) for entry in json_log.getvalue().splitlines()]
    assert line["exc_type"] == "builtins.ValueError"
    assert line["exc_frames"]
    assert "ana@example.es" not in json_log.getvalue()
    assert line["request_id"] is None


def test_log_format_json_is_the_console_handlers_format(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import django, logging; django.setup(); logging.getLogger('probe').warning('hello %s', '/x?q=ana@example.es')"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=root,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.local", "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["logger"] == "probe"
    assert line["message"] == "hello /x?q=***"
