"""Browser test: the dashboard renders its charts for a chosen range, and a figure's CSV downloads with the numbers
the page shows. Real Chromium (Debian's) driven by Playwright against a live server."""

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import sync_playwright

from tests.browser import SCREENSHOTS, launch_chromium


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        yield context
        context.close()
        browser.close()


def _log_in(context, live_server, user):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}])


def _table(section) -> list[list[str]]:
    rows = []
    for row in section.locator("tbody tr").all():
        rows.append([("" if text.strip() == "—" else text.strip()) for text in row.locator("td").all_inner_texts()])
    return rows


def test_the_dashboard_draws_its_charts_for_a_range_and_a_csv_has_the_same_numbers(
    transactional_db, shop, staff_user, live_server, browser_page
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    _log_in(browser_page, live_server, staff_user("marketing"))
    page = browser_page.new_page()
    page.goto(f"{live_server.url}/admin/insights/dashboard/")

    page.fill("#id_from", "2026-01-01")
    page.fill("#id_to", "2026-03-31")
    page.fill("#id_churn_days", "30")
    page.click("#insights-range button[type=submit]")
    page.wait_for_load_state("networkidle")

    assert "from=2026-01-01" in page.url
    assert page.locator('svg[data-chart="trends"] polyline.line').count() == 4  # total, app, store, web
    assert page.locator('svg[data-chart="revenue_sales"] rect.bar').count() == 3
    assert page.locator('svg[data-chart="retention"] rect.cell').count() == 3 * 12
    bars = page.locator('svg[data-chart="revenue_sales"] rect.bar')
    assert [bars.nth(i).get_attribute("data-value") for i in range(3)] == ["280.00", "70.00", "130.00"]
    page.screenshot(path=str(SCREENSHOTS / "insights-dashboard.png"), full_page=True)

    section = page.locator("#figure-revenue_sales")
    section.screenshot(path=str(SCREENSHOTS / "insights-revenue-per-sales-channel.png"))
    with page.expect_download() as download_info:
        section.locator("a.csv-link").click()
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))

    assert download.suggested_filename == "revenue_sales_2026-01-01_2026-03-31.csv"
    assert rows[1:] == _table(section)
    assert ["total", "6", "500.00", "20.00", "480.00", "80.00"] in rows

    retention = page.locator("#figure-retention")
    retention.screenshot(path=str(SCREENSHOTS / "insights-retention-heat-map.png"))
    with page.expect_download() as download_info:
        retention.locator("a.csv-link").click()
    cohort_rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert cohort_rows[1:] == _table(retention)
    assert cohort_rows[1][:4] == ["2026-01", "2", "0.5000", "0.0000"]
