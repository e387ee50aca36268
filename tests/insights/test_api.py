"""GET /api/v1/metrics and GET, POST /api/v1/metrics/spend."""

from datetime import date

import pytest

from backoffice.insights.api.views import jsonable
from backoffice.insights.models import AcquisitionSpend
from backoffice.insights.selectors import metrics_report

pytestmark = pytest.mark.django_db


def test_the_metrics_endpoint_answers_the_same_figures_as_the_dashboard(shop, api_client_for):
    response = api_client_for("marketing").get(
        "/api/v1/metrics", {"from": "2026-01-01", "to": "2026-03-31", "churn_days": "30"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body == jsonable(metrics_report(start=date(2026, 1, 1), end=date(2026, 3, 31), churn_days=30))
    assert body["revenue"]["total"]["net"] == "480.00"
    assert body["acquisition"]["total"]["cac"] == "183.33"


def test_a_channel_narrows_the_figures(shop, api_client_for):
    response = api_client_for("integration").get(
        "/api/v1/metrics", {"from": "2026-01-01", "to": "2026-03-31", "channel": "app"}
    )

    assert response.status_code == 200
    assert response.json()["revenue"]["total"]["net"] == "280.00"


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from", "after_to"),
        ({"from": "yesterday"}, "from", "invalid_date"),
        ({"from": "2026-02-30"}, "from", "invalid_date"),
        ({"to": "2026-13-01"}, "to", "invalid_date"),
        ({"channel": "carrier-pigeon"}, "channel", "unknown_channel"),
        ({"churn_days": "-5"}, "churn_days", "invalid"),
        ({"from": "2010-01-01", "to": "2026-01-01"}, "to", "range_too_long"),
        ({"churn_days": "\u00b2"}, "churn_days", "invalid"),  # isdigit() says yes, int() no
        ({"churn_days": "1" * 5000}, "churn_days", "invalid"),  # int() refuses over 4300 digits
        ({"to": "0001-01-05"}, "to", "out_of_range"),  # the default from would be before year 1
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from", "out_of_range"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "from", "out_of_range"),
        ({"from": "1969-12-31", "to": "1970-01-31"}, "from", "out_of_range"),
        ({"from": "2099-12-01", "to": "2100-01-01"}, "to", "out_of_range"),
    ],
)
def test_a_bad_range_is_a_400_naming_the_parameter(api_client_for, params, field, code):
    response = api_client_for("admin").get("/api/v1/metrics", params)

    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("/validation_error")
    assert body["errors"] == [{"field": field, "message": body["errors"][0]["message"], "code": code}]


@pytest.mark.parametrize(
    ("params", "period"),
    [
        ({"to": "1970-01-05"}, ("1970-01-01", "1970-01-05")),  # the default from stops at the first day
        ({"from": "2099-12-01", "to": "2099-12-31"}, ("2099-12-01", "2099-12-31")),
    ],
)
def test_a_range_at_the_ends_of_the_accepted_span_is_answered(api_client_for, params, period):
    response = api_client_for("admin").get("/api/v1/metrics", {**params, "churn_days": "3650"})

    assert response.status_code == 200
    assert (response.json()["period"]["from"], response.json()["period"]["to"]) == period


def test_support_staff_may_not_read_the_metrics(api_client_for):
    assert api_client_for("support").get("/api/v1/metrics").status_code == 403


def test_marketing_sets_the_spend_of_a_channel_and_month(api_client_for):
    client = api_client_for("marketing")

    first = client.post("/api/v1/metrics/spend", {"channel": "web", "month": "2026-01", "amount": "300"}, format="json")
    again = client.post(
        "/api/v1/metrics/spend", {"channel": "web", "month": "2026-01", "amount": "320.50"}, format="json"
    )

    assert first.status_code == 200
    assert again.json()["amount"] == "320.50"
    spend = AcquisitionSpend.objects.get()
    assert (spend.channel, spend.month, str(spend.amount)) == ("web", date(2026, 1, 1), "320.50")
    assert client.get("/api/v1/metrics/spend").json()[0]["month"] == "2026-01"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "tv", "month": "2026-01", "amount": "1"}, "channel"),
        ({"channel": "web", "month": "2026-13", "amount": "1"}, "month"),
        ({"channel": "web", "month": "2026-01", "amount": "-1"}, "amount"),
        ({"channel": "web", "month": "2026-01"}, "amount"),
    ],
)
def test_a_refused_spend_names_the_field_and_changes_nothing(api_client_for, body, field):
    response = api_client_for("marketing").post("/api/v1/metrics/spend", body, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not AcquisitionSpend.objects.exists()


def test_integration_systems_read_spend_but_do_not_set_it(api_client_for):
    client = api_client_for("integration")

    assert client.get("/api/v1/metrics/spend").status_code == 200
    response = client.post(
        "/api/v1/metrics/spend", {"channel": "web", "month": "2026-01", "amount": "1"}, format="json"
    )
    assert response.status_code == 403
    assert not AcquisitionSpend.objects.exists()
