"""A campaign's report: attribution, lift against the holdout, cost and ROI per channel against a hand computation,
and the same figures in the report, the dashboard, GET /api/v1/metrics and the dashboard's CSV, with a merged and an
erased customer in the audience."""

import csv
import io
import re
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from backoffice.eventstore import projector
from backoffice.insights.campaign_figures import campaign_report
from campaigns.services.fan_out import is_holdout
from customers.models import Customer
from customers.services.gdpr import customer_erase
from customers.services.identity import customer_merge
from customers.wording import CHANNEL_LABELS
from tests.campaigns.conftest import segment
from tests.pages import in_spanish_and_english

pytestmark = pytest.mark.django_db

EITHER = {
    "op": "or",
    "rules": [
        {"field": "consent", "cmp": "eq", "value": "email"},
        {"field": "consent", "cmp": "eq", "value": "sms"},
    ],
}
COMPARED = ("sent", "delivered", "read", "clicked", "unsubscribed", "orders", "revenue", "cost", "roi")


def people_on_each_side(person, campaign, *, consents, treated, holdout):
    """Make people until `treated` fall outside the holdout and `holdout` inside it (the draw is a hash)."""
    out, held = [], []
    while len(out) < treated or len(held) < holdout:
        customer = person(consents=consents)
        side = held if is_holdout(campaign.id, customer, campaign.holdout_share) else out
        if (side is held and len(held) < holdout) or (side is out and len(out) < treated):
            side.append(customer)
        else:
            Customer.objects.filter(id=customer).update(erased_at=timezone.now())  # not a person of the audience
    return out, held


@pytest.fixture
def campaign_with_orders(person, shop, make_campaign, launched):
    """Email: a1 and a2 treated, two held out; SMS: b1 and b2 treated, two held out. After the launch a1 buys (89.80)
    and is erased; a2 is merged into an older customer, who buys (19.90): the person a2 is now; b1 buys (49.90);
    b2 bought at the launch, before any message (converted, not attributed); a holdout buys (69.90, lift only)."""
    older = person(consents=())  # not in the segment: no consent
    campaign = make_campaign(segments=[segment(EITHER)], holdout_share="0.500", channels=["email", "sms"])
    (a1, a2), held_email = people_on_each_side(person, campaign, consents=("email",), treated=2, holdout=2)
    (b1, b2), _held_sms = people_on_each_side(person, campaign, consents=("sms",), treated=2, holdout=2)
    launched(campaign)

    shop(b2, ["GOR-AZU"], occurred_at=campaign.launched_at)  # 12.00: before its message
    shop(a1, ["ZAP-RUN", "CAM-BLA"])  # 89.80 -> email
    customer_erase(customer_id=a1, actor="test")
    customer_merge(customer_ids=(a2, older), into=older, actor="test")
    shop(older, ["CAM-BLA"])  # 19.90 -> email: the message reached a2, now part of this person
    shop(b1, ["PAN-VAQ"])  # 49.90 -> sms
    shop(held_email[0], ["ZAP-RUN"])  # 69.90: holdout, lift only
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])
    return campaign


def test_roi_per_channel_and_lift_match_the_hand_computation_with_merged_and_erased_people(campaign_with_orders):
    report = campaign_report(campaign=campaign_with_orders)

    channels = {row["channel"]: row for row in report["channels"]}
    assert {ch: (r["sent"], r["orders"], r["converted"]) for ch, r in channels.items()} == {
        "email": (2, 2, 2),
        "sms": (2, 1, 1),
    }
    assert (channels["email"]["revenue"], channels["email"]["cost"]) == (D("109.70"), D("0.02"))
    assert (channels["sms"]["revenue"], channels["sms"]["cost"]) == (D("49.90"), D("0.10"))
    assert channels["email"]["roi"] == D("5484.0000")  # (109.70 - 0.02) / 0.02
    assert channels["sms"]["roi"] == D("498.0000")
    assert report["totals"]["revenue"] == D("159.60")
    assert report["totals"]["roi"] == D("1329.0000")  # (159.60 - 0.12) / 0.12
    lift = report["lift"]
    assert (lift["treated"], lift["treated_converted"]) == (4, 4)  # a2 through the person they are part of now
    assert (lift["holdout"], lift["holdout_converted"]) == (4, 1)
    assert (lift["treated_conversion_rate"], lift["holdout_conversion_rate"]) == (D("1.0000"), D("0.2500"))
    assert lift["lift"] == D("0.7500")
    assert lift["relative_lift"] == D("3.0000")
    assert lift["incremental_conversions"] == D("3.0")


def _decimal(value) -> D | None:
    return None if value in (None, "", "-", "—") else D(str(value))


def test_report_dashboard_metrics_api_and_csv_show_the_same_figures(
    campaign_with_orders, api_client_for, client, staff_user
):
    campaign_id = str(campaign_with_orders.id)
    client.force_login(staff_user("marketing"))
    api = api_client_for("marketing")

    report = api.get(f"/api/v1/campaigns/{campaign_id}/report").json()
    from_report = {row["channel"]: [_decimal(row[name]) for name in COMPARED] for row in report["channels"]}
    report_lift = _decimal(report["lift"]["lift"])

    metrics = api.get("/api/v1/metrics").json()["campaigns"]
    from_metrics = {
        row["channel"]: [_decimal(row[name]) for name in COMPARED]
        for row in metrics["by_campaign"]
        if row["campaign"] == campaign_id
    }
    metrics_lifts = {row["lift"] for row in metrics["by_campaign"] if row["campaign"] == campaign_id}
    metrics_lift_table = next(row for row in metrics["lift"] if row["campaign"] == campaign_id)

    csv_body = client.get("/admin/insights/dashboard/csv/campaigns/").content.decode()
    csv_rows = list(csv.DictReader(io.StringIO(csv_body)))
    headers = {"read": "read", "roi": "ROI"}
    from_csv = {
        row["channel"]: [_decimal(row[headers.get(name, name)]) for name in COMPARED]
        for row in csv_rows
        if row["campaign"] == campaign_id
    }

    page = client.get("/admin/insights/dashboard/").content.decode()
    section = page.split('id="figure-campaigns"', 1)[1].split("</article>", 1)[0]
    cells = [re.findall(r'<td class="num">(.*?)</td>', row) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)]
    ours = [row for row in cells if row and row[0] == campaign_id]
    # The page names the channel and groups thousands in its language (English here); the CSV keeps the code.
    with translation.override("en"):  # the page's language, whatever an earlier test left active here
        code_of = {str(label): code for code, label in CHANNEL_LABELS.items()}
    from_dashboard = {
        code_of[row[2]]: [_decimal(value.replace(",", "")) for value in row[3 : 3 + len(COMPARED)]] for row in ours
    }
    dashboard_lifts = {row[3 + len(COMPARED)] for row in ours}

    report_page = client.get(reverse("admin:insights_campaign_report", args=[campaign_id])).content.decode()
    page_roi = dict(re.findall(r'data-channel="(\w+)".*?data-roi="([^"]*)"', report_page, re.S))

    assert from_report["email"][COMPARED.index("revenue")] == D("109.70")
    assert from_report == from_metrics == from_csv == from_dashboard
    assert {ch: _decimal(roi) for ch, roi in page_roi.items()} == {ch: row[-1] for ch, row in from_report.items()}
    assert report_lift == D("0.7500")
    assert {_decimal(v) for v in metrics_lifts} == {_decimal(v) for v in dashboard_lifts} == {report_lift}
    assert {k: _decimal(v) for k, v in metrics_lift_table.items() if k not in ("campaign", "name")} == {
        k: _decimal(v) for k, v in report["lift"].items() if k not in ("absolute", "relative")
    }
    assert (report["lift"]["absolute"], report["lift"]["relative"]) == (report["lift"]["lift"], "3.0000")
    assert [row["opened"] for row in report["channels"]] == [row["read"] for row in report["channels"]]


def test_report_api_serves_marketing_and_integration_only(api_client_for, person, launched):
    person()
    campaign = launched(holdout_share="0")
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    response = api_client_for("integration").get(f"/api/v1/campaigns/{campaign.id}/report")

    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["sent"] == 1
    assert {row["channel"] for row in body["channels"]} == {"email", "sms"}
    assert api_client_for("support").get(f"/api/v1/campaigns/{campaign.id}/report").status_code == 403
    missing = api_client_for("integration").get("/api/v1/campaigns/00000000-0000-4000-8000-000000000000/report")
    assert missing.status_code == 404


def test_the_report_page_speaks_spanish_and_english(login, campaign_with_orders):
    client = login("marketing")
    url = reverse("admin:insights_campaign_report", args=[campaign_with_orders.id])

    spanish, english = in_spanish_and_english(client, url)

    assert "Embudo por canal" in spanish
    assert "último contacto" in spanish
    assert "Funnel per channel" in english
    assert spanish.count('data-chart="campaign_') == english.count('data-chart="campaign_') == 3


FRACTIONAL_COSTS = {"email": "0.0045", "sms": "0.0045", "whatsapp": "0", "push": "0", "facebook": "0", "instagram": "0"}
EMAIL_OR_SMS = {"op": "or", "rules": [{"field": "consent", "cmp": "eq", "value": c} for c in ("email", "sms")]}


def test_the_report_totals_add_up_to_its_rows_and_a_real_cost_under_a_cent_has_a_roi(person, launched, login):
    """Costs per message have four decimals in the worksheet (0.0045 EUR an SMS is a real price). Each row rounds its
    cost to cents (0.00); the total was rounded from the unrounded sum (0.01), so the total was not the sum of its
    rows, and a row's ROI, computed from the rounded cost, read 'no cost'."""
    from backoffice.messaging.services.pipeline import messages_drain

    person(consents=("email",))
    person(consents=("sms",))
    campaign = launched(segments=[segment(EMAIL_OR_SMS)], holdout_share="0", costs=FRACTIONAL_COSTS)
    messages_drain()
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    report = login("marketing").get(f"/api/v1/campaigns/{campaign.id}/report").json()

    rows = {row["channel"]: row for row in report["channels"]}
    assert (rows["email"]["sent"], rows["sms"]["sent"]) == (1, 1)
    assert sum(D(row["cost"]) for row in report["channels"]) == D(report["totals"]["cost"]) == D("0.00")
    # ROI from the unrounded cost: (0 - 0.0045) / 0.0045, never null for a channel that cost something.
    assert (rows["email"]["roi"], rows["sms"]["roi"], report["totals"]["roi"]) == ("-1.0000", "-1.0000", "-1.0000")


def test_the_dashboards_channel_rows_add_up_to_its_campaign_rows(person, launched, api_client_for):
    from backoffice.messaging.services.pipeline import messages_drain

    for _ in range(3):
        person(consents=("email",))
    for name in ("Primera", "Segunda", "Tercera"):
        launched(name=name, holdout_share="0", costs=FRACTIONAL_COSTS)
    messages_drain()
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    figures = api_client_for("marketing").get("/api/v1/metrics").json()["campaigns"]

    rows = [row for row in figures["by_campaign"] if row["channel"] == "email"]
    (channel,) = [row for row in figures["by_channel"] if row["channel"] == "email"]
    assert [row["cost"] for row in rows] == ["0.01", "0.01", "0.01"]  # 3 messages x 0.0045 = 0.0135 each
    assert D(channel["cost"]) == sum(D(row["cost"]) for row in rows) == D("0.03")  # not 0.0405 rounded (0.04)
    assert channel["roi"] == "-1.0000"
