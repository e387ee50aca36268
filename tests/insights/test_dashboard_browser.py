"""Browser test: the dashboard renders its charts for a chosen range, and a figure's CSV downloads with the numbers
the page shows. Real Chromium (Debian's) driven by Playwright against a live server."""

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from playwright.sync_api import sync_playwright

from customers.wording import CHANNEL_LABELS
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
    """The figure's table as the page shows it, read back as the CSV writes it: the page names channels and groups
    thousands in its language (English here), the CSV keeps codes and bare numbers."""
    with translation.override("en"):  # the page's language, whatever an earlier test left active here
        code_of = {str(label): code for code, label in CHANNEL_LABELS.items()}
    rows = []
    for row in section.locator("tbody tr").all():
        texts = [text.strip() for text in row.locator("td").all_inner_texts()]
        rows.append([code_of.get(text, "" if text == "—" else text.replace(",", "")) for text in texts])
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
    with page.expect_navigation():
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
    section.locator("details.figure__table summary").click()  # the table is folded under the chart
    section.screenshot(path=str(SCREENSHOTS / "insights-revenue-per-sales-channel.png"))
    with page.expect_download() as download_info:
        section.locator("a.csv-link").click()
    download = download_info.value
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))

    assert download.suggested_filename == "revenue_sales_2026-01-01_2026-03-31.csv"
    assert rows[1:] == _table(section)
    assert ["total", "6", "500.00", "20.00", "480.00", "80.00"] in rows

    page.click('.dash-tab[data-section="retention"]')
    retention = page.locator("#figure-retention")
    assert retention.is_visible()
    assert not section.is_visible()  # one block at a time
    retention.locator("details.figure__table summary").click()
    retention.screenshot(path=str(SCREENSHOTS / "insights-retention-heat-map.png"))
    with page.expect_download() as download_info:
        retention.locator("a.csv-link").click()
    cohort_rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert cohort_rows[1:] == _table(retention)
    assert cohort_rows[1][:4] == ["2026-01", "2", "0.5000", "0.0000"]


def _spanish_page(context, live_server, user, *, width=1440, height=900):
    """A page of its own browser context that asks for Spanish, signed in as `user`."""
    spanish = context.browser.new_context(locale="es-ES", viewport={"width": width, "height": height})
    _log_in(spanish, live_server, user)
    return spanish.new_page()


def _overflowing_texts(page) -> list[str]:
    """Texts of the visible charts whose box runs out of their chart's box (a clipped label)."""
    return page.evaluate(
        """() => {
        const out = [];
        for (const svg of document.querySelectorAll("svg.insights-chart")) {
            const box = svg.getBoundingClientRect();
            if (!box.width) continue;
            for (const text of svg.querySelectorAll("text")) {
                const r = text.getBoundingClientRect();
                if (!r.width) continue;
                if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
                    || r.bottom > box.bottom + 0.5) {
                    out.push(svg.dataset.chart + ": " + text.textContent);
                }
            }
        }
        return out;
    }"""
    )


def test_the_first_screen_answers_with_the_headline_cards_and_every_block_is_a_tab(
    transactional_db, shop, staff_user, live_server, browser_page
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = _spanish_page(browser_page, live_server, staff_user("marketing"))
    page.goto(f"{live_server.url}/admin/insights/dashboard/?from=2026-01-01&to=2026-03-31&churn_days=30")

    cards = page.locator(".kpi")
    assert cards.count() == 8
    for i in range(8):
        box = cards.nth(i).bounding_box()
        assert box["y"] >= 0
        assert box["y"] + box["height"] <= 900, cards.nth(i).get_attribute("data-kpi")
    assert page.evaluate("window.scrollY") == 0
    assert page.locator("#kpi-revenue .kpi__value").inner_text() == "480,00 €"  # the revenue block's total
    assert page.locator("#kpi-orders .kpi__value").inner_text() == "6"
    assert (
        "vs" in page.locator("#kpi-new_customers .kpi__change").inner_text()
        or "anterior" in page.locator("#kpi-new_customers .kpi__change").inner_text()
    )
    page.screenshot(path=str(SCREENSHOTS / "insights-dashboard-first-screen.png"))

    # The formula is one click away, on a card and on a block.
    formula = page.locator("#kpi-cac .kpi__formula p")
    assert not formula.is_visible()
    page.click("#kpi-cac .kpi__formula summary")
    assert formula.is_visible()
    assert "captación" in formula.inner_text()

    tabs = page.locator(".dash-tab")
    keys = [tabs.nth(i).get_attribute("data-section") for i in range(tabs.count())]
    assert keys[:6] == ["revenue", "acquisition", "retention", "service", "campaigns", "stock"]
    for key in keys:
        page.click(f'.dash-tab[data-section="{key}"]')
        visible = [s for s in page.locator(".dash-section").all() if s.is_visible()]
        assert [s.get_attribute("id") for s in visible] == [f"section-{key}"]
        shown = page.locator(f"#section-{key} .insights-figure").first
        assert not shown.locator("table").is_visible()  # the table is folded under the chart
        assert shown.locator(".csv-link").is_visible()  # CSV per block, as before
        assert _overflowing_texts(page) == [], key
    assert page.url.endswith("#section-" + keys[-1])


def test_a_headline_figure_of_a_large_chain_is_shown_whole_and_every_formula_opens_inside_the_window(
    transactional_db, shop, staff_user, live_server, browser_page
):
    marketing = staff_user("marketing")
    for width, height in ((1280, 900), (1440, 900), (390, 844)):
        page = _spanish_page(browser_page, live_server, marketing, width=width, height=height)
        page.goto(f"{live_server.url}/admin/insights/dashboard/?from=2026-01-01&to=2026-03-31")
        # A year of a national chain: the revenue card as the page would write it.
        page.evaluate(
            """() => { document.querySelector("#kpi-revenue .kpi__value").textContent = "1 234 567,89 €"; }"""
        )

        cut = page.evaluate(
            """() => [...document.querySelectorAll(".kpi__value")]
                .filter(v => v.scrollWidth > v.clientWidth + 1).map(v => v.closest(".kpi").dataset.kpi)"""
        )
        assert cut == [], (width, cut)  # was "1 234 56…" on a laptop
        if width > 640:  # the range form on one line: its controls and button share one bottom edge and one height
            boxes = [
                page.locator(selector).bounding_box()
                for selector in ("#id_from", "#id_to", "#id_channel", "#id_churn_days", "#insights-range button")
            ]
            assert len({round(b["y"] + b["height"]) for b in boxes}) == 1, (width, boxes)
            assert len({round(b["height"]) for b in boxes}) == 1, (width, boxes)
        size = page.evaluate("""() => parseFloat(getComputedStyle(document.querySelector(".kpi__value")).fontSize)""")
        assert size >= 14, (width, size)  # shrunk to fit, still a headline
        page.screenshot(path=str(SCREENSHOTS / f"insights-dashboard-large-figures-{width}.png"))

        # Each card's formula opens inside the window: on a phone the left column's ran off its left edge.
        for i in range(page.locator(".kpi").count()):
            card = page.locator(".kpi").nth(i)
            card.locator(".kpi__formula summary").click()
            box = card.locator(".kpi__formula p").bounding_box()
            assert box["x"] >= 0, (width, card.get_attribute("data-kpi"), box)
            assert box["x"] + box["width"] <= width, (width, card.get_attribute("data-kpi"), box)
            card.locator(".kpi__formula summary").click()
        page.context.close()


def test_no_chart_label_is_clipped_on_a_phone_and_a_desktop(
    transactional_db, shop, staff_user, live_server, browser_page
):
    marketing = staff_user("marketing")
    for width, height in ((390, 844), (1440, 900)):
        page = _spanish_page(browser_page, live_server, marketing, width=width, height=height)
        page.goto(f"{live_server.url}/admin/insights/dashboard/?from=2026-01-01&to=2026-03-31")
        page.add_style_tag(content=".dash-section[hidden] { display: grid !important; }")  # every block at once
        charts = page.locator("svg.insights-chart")
        assert charts.count() >= 10
        assert _overflowing_texts(page) == []
        if width == 390:
            assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scroll
            # ...nor inside a chart's block: every chart drawn fits its block at the phone's width.
            scrolling = page.evaluate(
                """() => [...document.querySelectorAll(".figure__chart, .report-chart")]
                    .filter(b => b.getBoundingClientRect().width && b.scrollWidth > b.clientWidth + 1)
                    .map(b => b.querySelector("[data-chart]")?.dataset.chart)"""
            )
            assert scrolling == []
            shown = page.evaluate(
                """() => [...document.querySelectorAll("svg.insights-chart")]
                    .filter(s => s.getBoundingClientRect().width).map(s => s.dataset.chart)"""
            )
            assert "trends-phone" in shown
            assert "retention-phone" in shown
            assert "trends" not in shown
            # Labels stay readable: no chart text is drawn smaller than 8 CSS pixels.
            smallest = page.evaluate(
                """() => Math.min(...[...document.querySelectorAll("svg.insights-chart text")]
                    .map(t => t.getBoundingClientRect().height).filter(h => h > 0))"""
            )
            assert smallest >= 8
            page.screenshot(path=str(SCREENSHOTS / "insights-dashboard-phone.png"), full_page=True)
        page.context.close()


def test_a_period_without_data_says_what_to_do(transactional_db, staff_user, live_server, browser_page):
    page = _spanish_page(browser_page, live_server, staff_user("marketing"))
    page.goto(f"{live_server.url}/admin/insights/dashboard/?from=2020-01-01&to=2020-01-31")

    empty = page.locator('#section-revenue .chart-empty[data-chart="revenue_sales"]')
    assert empty.inner_text() == "Sin datos en este periodo: amplía el rango."
