import pytest

pytestmark = pytest.mark.django_db


def test_health_says_ok_when_the_database_answers(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.usefixtures("unreachable_broker")
def test_health_reports_an_unreachable_broker_as_503(client):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"database": "ok", "broker": "down"}}


def test_liveness_answers_while_the_database_is_down(client, database_cursor_raises):
    """An orchestrator restarts what fails liveness: a database outage must not restart healthy web processes."""
    database_cursor_raises(AssertionError, "liveness must not ask the database")
    response = client.get("/health/live/")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert client.get("/health/").status_code == 503  # the dependency check still says it is down
