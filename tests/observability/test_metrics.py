"""GET /metrics: Prometheus text for an integration or admin token sent as `Authorization: Bearer <token>`, with the
figures an operator watches, read from the shared database (so every worker process answers the same)."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.services import api_token_issue
from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionFailure
from backoffice.messaging.models import OutboundMessage, ReceivedCallback
from tests.factories import interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def scrape(staff_user):
    def get(role="integration", scheme="Bearer"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {api_token_issue(user=staff_user(role))}")
        return client.get("/metrics")

    return get


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("role", ["integration", "admin"])
def test_an_integration_or_admin_bearer_token_reads_the_metrics(scrape, role):
    response = scrape(role)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "# TYPE backoffice_events_appended_total counter" in response.content.decode()


@pytest.mark.parametrize("role", ["support", "marketing", "store"])
def test_other_roles_are_refused(scrape, role):
    response = scrape(role)

    assert response.status_code == 403
    assert response.json()["type"].endswith("/permission_denied")


def test_no_token_or_a_wrong_one_is_a_401_asking_for_a_bearer_token(client):
    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-a-token")
    basic = client.get("/metrics", HTTP_AUTHORIZATION="Basic YWRtaW46YWRtaW4=")

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert wrong.json()["type"].endswith("/authentication_failed")


def test_events_appended_are_counted_per_type_and_channel(scrape, api_client_for):
    before = sample(
        scrape().content.decode(), "backoffice_events_appended_total", type="cart.item_added", channel="web"
    )
    writer = api_client_for("integration")
    posted = writer.post("/api/v1/events", {"events": [interaction(), interaction(channel="app")]}, format="json")
    assert posted.status_code in (200, 201), posted.content

    text = scrape().content.decode()

    assert sample(text, "backoffice_events_appended_total", type="cart.item_added", channel="web") == (before or 0) + 1
    assert sample(text, "backoffice_events_appended_total", type="cart.item_added", channel="app") == 1


def test_the_outbox_depth_and_its_oldest_due_message_are_shown(scrape):
    now = timezone.now()
    for age_minutes, status in ((7, "queued"), (1, "queued"), (0, "deferred")):
        OutboundMessage.objects.create(
            id=uuid.uuid4(),
            idempotency_key=str(uuid.uuid4()),
            customer_id=uuid.uuid4(),
            channel="sms",
            purpose="service",
            status=status,
            not_before=now + timedelta(hours=1) if status == "deferred" else None,
            queued_event_id=uuid.uuid4(),
            created_at=now - timedelta(minutes=age_minutes),
            updated_at=now,
        )

    text = scrape().content.decode()

    assert sample(text, "backoffice_outbox_messages", channel="sms", status="queued") == 2
    assert sample(text, "backoffice_outbox_messages", channel="sms", status="deferred") == 1
    assert 7 * 60 - 5 <= sample(text, "backoffice_outbox_oldest_due_age_seconds") <= 7 * 60 + 60


def test_received_callbacks_waiting_to_be_applied_and_the_oldest_age_are_shown(scrape):
    empty = scrape().content.decode()
    now = timezone.now()
    for minutes in (3, 1):
        ReceivedCallback.objects.create(
            source="twilio.status", received_at=now - timedelta(minutes=minutes), data_encrypted="sealed"
        )

    text = scrape().content.decode()

    assert sample(empty, "backoffice_received_callbacks") == 0
    assert sample(empty, "backoffice_received_callbacks_oldest_age_seconds") == 0
    assert sample(text, "backoffice_received_callbacks") == 2
    assert 3 * 60 - 5 <= sample(text, "backoffice_received_callbacks_oldest_age_seconds") <= 3 * 60 + 60


def test_projection_lag_and_unresolved_dead_letters_are_shown_per_projection(scrape, api_client_for):
    api_client_for("integration").post("/api/v1/events", interaction(), format="json")
    ProjectionFailure.objects.create(
        projection="insights.rollups", position=1, event_id=uuid.uuid4(), event_type="x.y", stream="s", error="E"
    )
    ProjectionFailure.objects.create(
        projection="insights.rollups",
        position=2,
        event_id=uuid.uuid4(),
        event_type="x.y",
        stream="s",
        error="E",
        resolved_at=timezone.now(),
    )

    text = scrape().content.decode()

    expected_lag = projector.lag("insights.rollups")
    assert expected_lag > 0  # the after-commit wake-up never ran in this test's transaction
    assert sample(text, "backoffice_projection_lag_events", projection="insights.rollups") == expected_lag
    assert sample(text, "backoffice_projection_failures_unresolved", projection="insights.rollups") == 1
    assert sample(text, "backoffice_projection_failures_unresolved", projection="customers.channel_daily") == 0


def test_request_latency_is_recorded_per_view(scrape, client):
    client.get("/health/")

    text = scrape().content.decode()

    assert (
        sample(text, "backoffice_http_request_duration_seconds_count", view="health", method="GET", status="200") >= 1
    )


def test_without_a_broker_no_queue_figures_are_invented(scrape, settings):
    settings.CELERY_BROKER_URL = ""

    text = scrape().content.decode()

    assert "backoffice_celery_queue_length" not in text


def test_an_unreachable_broker_is_shown_as_down_and_the_scrape_still_answers(scrape, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = scrape()

    assert response.status_code == 200
    assert sample(response.content.decode(), "backoffice_broker_up") == 0


@pytest.mark.integration
def test_the_celery_queue_length_is_the_length_of_its_redis_list(scrape, settings):
    from backoffice.celery import app

    queue = f"metrics-probe-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        for _ in range(3):
            app.send_task("metrics.probe_never_consumed", queue=queue)
    finally:
        app.conf.task_always_eager = eager
    try:
        text = scrape().content.decode()
    finally:
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)

    assert sample(text, "backoffice_celery_queue_length", queue=queue) == 3
    assert sample(text, "backoffice_broker_up") == 1


def test_dead_lettered_shop_deliveries_pending_a_replay_are_shown_per_origin(scrape):
    from backoffice.integrations.models import DeadLetter

    common = {"topic": "orders/create", "body_encrypted": "x", "reason": "unknown sku", "code": "unknown_sku"}
    DeadLetter.objects.create(platform="shopify", delivery_id="d-1", **common)
    DeadLetter.objects.create(platform="shopify", delivery_id="d-2", **common)
    DeadLetter.objects.create(platform="woocommerce", delivery_id="d-3", status="replayed", **common)

    text = scrape().content.decode()

    assert sample(text, "backoffice_dead_letters_pending", app="integrations", origin="shopify") == 2
    assert sample(text, "backoffice_dead_letters_pending", app="integrations", origin="woocommerce") == 0
