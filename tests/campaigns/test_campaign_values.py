"""What no campaign may hold, from the API or the admin: times without a zone or outside the accepted span, and
negative money. Each refusal names the field and writes nothing."""

import pytest
from django.urls import reverse

from campaigns import services
from campaigns.models import Campaign

from .conftest import segment
from .test_admin import marketing_client, worksheet_post  # noqa: F401 - fixture and helper

pytestmark = pytest.mark.django_db

BASE = {"name": "Rebajas", "channels": ["email"]}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"starts_at": "2027-01-10T09:00:00"}, "starts_at", "naive"),
        ({"ends_at": "1428-01-10T09:00:00+01:00"}, "ends_at", "out_of_range"),
        ({"starts_at": "9999-01-10T09:00:00Z"}, "starts_at", "out_of_range"),
        ({"budget": "-50.00"}, "budget", "min_value"),
        ({"target_value": "-1"}, "target_value", "min_value"),
        ({"valid_until": "1428-03-01"}, "valid_until", "out_of_range"),
        ({"name": "Reba\u0000jas"}, "name", "null_character"),
    ],
)
def test_the_api_refuses_impossible_campaign_values_naming_the_field(api_client_for, change, field, code):
    response = api_client_for("marketing").post("/api/v1/campaigns", BASE | change, format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["code"] == code
    assert not Campaign.objects.exists()


def test_the_service_refuses_them_whoever_calls_it():
    from datetime import UTC, datetime
    from decimal import Decimal

    values = {"starts_at": datetime(1428, 1, 1, tzinfo=UTC), "budget": Decimal("-1"), "costs": {"sms": "-0.05"}}

    with pytest.raises(services.CampaignRefused) as refused:
        services.campaign_save(campaign=None, values={"name": "X", **values}, actor="test")

    assert {e["field"] for e in refused.value.errors} == {"starts_at", "budget", "costs.sms"}
    assert not Campaign.objects.exists()


def test_the_admin_worksheet_names_the_field_in_the_staff_members_language(marketing_client, person):  # noqa: F811
    person()
    seg = segment()
    browser = marketing_client()

    response = browser.post(
        reverse("admin:campaigns_campaign_add"),
        worksheet_post(seg, starts_at="1428-01-01T09:00", budget="-200"),
        HTTP_ACCEPT_LANGUAGE="es",
    )

    assert response.status_code == 200  # the form again, with its errors
    page = response.content.decode()
    assert "fuera de las fechas admitidas" in page
    assert "no puede ser negativo" in page
    assert not Campaign.objects.exists()
