"""What schemathesis found against the production server (issue 16), each kept as a plain test: 400s naming the
field where the server answered 500 or quietly ignored the value."""

import pytest

from customers.services.ingestion import customer_register

pytestmark = pytest.mark.django_db


def test_an_impossible_time_is_a_400_not_a_500(api_client_for):
    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="web", actor="test")
    body = {
        "channel": "email",
        "purpose": "marketing",
        "granted": True,
        "source_channel": "web",
        "wording": "ok",
        "occurred_at": "2026-11-20T10:61:00+01:00",
    }

    response = api_client_for("support").post(f"/api/v1/customers/{customer_id}/consents", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "occurred_at"


@pytest.mark.parametrize("month", ["0000-01", "1969-12", "2100-01"])
def test_spend_for_a_month_outside_the_accepted_years_is_a_400(api_client_for, month):
    response = api_client_for("marketing").post(
        "/api/v1/metrics/spend", {"channel": "web", "month": month, "amount": "10.00"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "month"


@pytest.mark.parametrize("limit", ["null", "0", "-3", "1001", "ten"])
def test_a_page_size_that_is_not_1_to_1000_is_a_400_naming_limit(api_client_for, limit):
    response = api_client_for("admin").get(f"/api/v1/segments?limit={limit}")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "limit"


def test_a_cursor_this_server_did_not_make_is_a_400_naming_cursor(api_client_for):
    response = api_client_for("admin").get("/api/v1/segments?cursor=not-a-cursor")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


def test_a_draft_campaigns_unanswered_fields_are_null_as_documented(api_client_for):
    client = api_client_for("marketing")
    created = client.post("/api/v1/campaigns", {"name": "Borrador"}, format="json")
    assert created.status_code == 201, created.content

    campaign = client.get(f"/api/v1/campaigns/{created.json()['id']}").json()

    for field in ("starts_at", "ends_at", "budget", "approved_at", "launched_at"):
        assert campaign[field] is None


def test_a_position_beyond_a_bigint_is_a_400_naming_after(api_client_for):
    response = api_client_for("integration").get("/api/v1/events?after=42168043454508158235418034176")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "after"


def test_the_point_in_time_view_renders_money_as_a_decimal_string(api_client_for):
    from customers.services.ingestion import customer_register

    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="web", actor="test")

    from django.utils import timezone

    at = timezone.now().isoformat()

    view = api_client_for("support").get(f"/api/v1/customers/{customer_id}", {"as_of": at})

    assert view.status_code == 200, view.content
    assert view.json()["lifetime_value"] == "0.00"
    assert "as_of" in view.json()
