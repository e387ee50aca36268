"""GET /health/ready/: ready when the database answers and, with a broker configured, the broker; a 503 naming what
is down otherwise. /health/ stays the liveness check."""

import pytest

pytestmark = pytest.mark.django_db


def test_ready_when_the_database_answers(client, settings):
    settings.CELERY_BROKER_URL = ""  # without a broker only the database is asked

    response = client.get("/health/ready/")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


@pytest.mark.usefixtures("unreachable_broker")
def test_not_ready_names_the_broker_that_is_down(client):
    response = client.get("/health/ready/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["checks"] == {"database": "ok", "broker": "down"}
    assert body["type"].endswith("/not_ready")


def test_not_ready_names_the_database_that_is_down(client, database_cursor_raises):
    database_cursor_raises(ConnectionRefusedError, "database down")
    response = client.get("/health/ready/")

    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


@pytest.mark.integration
def test_ready_when_the_database_and_the_broker_answer(client):
    response = client.get("/health/ready/")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}
