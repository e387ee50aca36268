"""In a real browser (Chromium through Playwright, against the live server): marketing staff build a segment with the
rule editor, fill the QQOQCP worksheet, see the previews, get it approved by a colleague and launch it."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from backoffice.accounts.services import staff_user_save
from backoffice.messaging.models import OutboundMessage
from campaigns.models import Campaign, Segment, Status
from tests.browser import launch_chromium

from .conftest import worksheet_dates

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test user's

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser_page():
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(locale="en-GB")
        yield context.new_page()
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def login(page, base: str, username: str) -> None:
    # The page before must be done first: a redirect it still follows after the cookies are cleared reaches the login
    # page without them, gets a new CSRF cookie, and the form below then posts a token of the one before (403).
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_marketing_fills_the_worksheet_sees_previews_gets_it_approved_and_launches(live_server, browser_page, person):
    person(name="Lucía Martín")
    person(consents=())
    for username in ("ana.marketing", "berta.marketing"):
        staff_user_save(username=username, role="marketing", password=PASSWORD)
    page, base = browser_page, live_server.url

    # A segment, built with the editor: no JSON typed.
    login(page, base, "ana.marketing")
    page.goto(f"{base}/admin/campaigns/segment/add/")
    page.fill("#id_name", "Con email")
    page.select_option("#rule-editor select.rule-field", "consent")
    page.select_option("#rule-editor select.rule-value", "email")
    # A locator wait, not wait_for_function: the admin's Content-Security-Policy refuses eval'd strings.
    expect(page.locator("#segment-count")).to_have_text("1")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert Segment.objects.get().rules == {
        "op": "and",
        "rules": [{"field": "consent", "cmp": "eq", "value": "email"}],
    }

    # The worksheet.
    page.goto(f"{base}/admin/campaigns/campaign/add/")
    for field, value in {
        "name": "Rebajas de invierno",
        "key_message": "Rebajas de invierno en toda la tienda",
        "intent": "Reactivar clientes",
        "offer_code": "INVIERNO20",
        "discount": "20%",
        "email_subject": "{name}, {discount} para ti",
        "email_body": "Usa {offer_code} hasta {valid_until}",
        "sms_text": "{name}: {discount} con {offer_code} hasta {valid_until}",
        "objective": "Vender más en enero",
        "kpi": "conversion",
        "target_value": "0.05",
        "cost_email": "0.01",
        "cost_sms": "0.05",
        "budget": "300",
        "holdout_share": "0",  # one reachable person: nobody held out
        **worksheet_dates(),
    }.items():
        page.fill(f"#id_{field}", value)
    page.check("input[name=segments] >> nth=0")
    page.check("input[name=channels][value=email]")
    page.check("input[name=channels][value=sms]")
    with page.expect_navigation():
        page.click("input[name=_continue]")

    assert page.locator(".qqoqcp-progress").inner_text() == "6/6"
    assert page.locator(".qqoqcp-ready").is_visible()
    sms_preview = page.locator(".variant-preview[data-channel=sms]").inner_text()
    assert "INVIERNO20" in sms_preview
    assert "20%" in sms_preview
    assert "segment" in page.locator(".sms-length").inner_text()
    campaign = Campaign.objects.get()

    # Its author cannot approve it; a colleague can.
    with page.expect_navigation():
        page.click("button.campaign-approve")
    assert "second staff member" in page.locator(".messagelist").inner_text()
    login(page, base, "berta.marketing")
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    with page.expect_navigation():
        page.click("button.campaign-approve")
    campaign.refresh_from_db()
    assert campaign.status == Status.APPROVED

    # The author launches it and reads the report.
    login(page, base, "ana.marketing")
    page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
    with page.expect_navigation():
        page.click("button.campaign-launch")
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 1
    with page.expect_navigation():
        page.click("a.campaign-report-link")
    # A count does not wait: the charts are drawn as the report page loads.
    expect(page.locator('svg[data-chart^="campaign_"]')).to_have_count(3)
