import pytest

pytestmark = pytest.mark.django_db


def test_health_says_ok_when_the_database_answers(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_health_reports_an_unreachable_broker_as_503(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    from backoffice.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = previous

    assert response.status_code == 503
    assert response.json() == {"status": "down", "checks": {"database": "ok", "broker": "down"}}
