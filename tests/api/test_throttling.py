import pytest
from django.core.cache import cache
from rest_framework.throttling import UserRateThrottle

pytestmark = pytest.mark.django_db


def test_a_client_over_its_rate_gets_a_429_problem(api_client_for, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    cache.clear()
    client = api_client_for("integration")

    statuses = [client.get("/api/v1/events").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    body = client.get("/api/v1/events").json()
    assert body["type"].endswith("/throttled")
    assert body["status"] == 429
