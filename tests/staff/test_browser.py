"""The staff pages in a real browser (Debian's chromium through Playwright), against a live server.

Each step leaves a screenshot under test-artifacts/screenshots/<test name>/.
"""

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from customers.selectors import consent_allows

pytestmark = pytest.mark.django_db(transaction=True)


def test_store_staff_find_a_customer_by_phone_and_withdraw_a_consent_at_the_counter(
    staff_page, customer_with_history, screenshot
):
    ana = customer_with_history(email="ana@example.es", phone="+34600111222")
    projector.catch_up_all()

    page = staff_page("store")

    # Logged in, in Spanish (the default), on the customer search.
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", name="Buscar cliente").is_visible()
    screenshot(page, "search")

    page.fill("input[name=q]", "600 11 12 22")
    page.get_by_role("button", name="Buscar").click()
    page.wait_for_url("**/staff/customers/?q=*")
    assert page.get_by_role("heading", name="1 cliente encontrado").is_visible()
    assert page.get_by_text("+34 600 11 12 22").is_visible()
    screenshot(page, "results")

    page.locator(f'a[href="/staff/customers/{ana}/"]').click()
    page.wait_for_url(f"**/staff/customers/{ana}/")
    timeline = page.locator("#timeline li.tl")
    assert timeline.count() == 10  # registered, seven interactions and the two consents given on the web
    assert timeline.first.locator(".tl__sentence").inner_text() == (
        "Mensaje recibido por WhatsApp: «¿Puedo cambiarla en la tienda de Sol?»"
    )
    channels = set(page.locator("#timeline li.tl .tl__icon .channel__label").all_inner_texts())
    assert {"Web", "App", "Tienda", "Teléfono", "Correo electrónico", "WhatsApp"} <= channels
    assert page.get_by_text("Llamada telefónica").is_visible()
    screenshot(page, "customer")

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert page.get_by_text("Phone call").is_visible()
    screenshot(page, "customer-in-english")

    sms_marketing = page.locator('td[data-channel="sms"][data-purpose="marketing"]')
    assert sms_marketing.locator(".state").inner_text() == "Given"
    sms_marketing.get_by_role("link", name="Withdraw: Offers and news, SMS").click()
    page.wait_for_url("**/consents/?*")
    assert page.locator("textarea[name=wording]").input_value() == (
        "I no longer want to receive offers and news by SMS."
    )
    screenshot(page, "consent-confirm")

    page.get_by_role("button", name="Confirm: withdraw consent").click()
    page.wait_for_url(f"**/staff/customers/{ana}/#consents")
    assert page.get_by_role("status").inner_text() == "Consent withdrawn: Offers and news by SMS."
    assert sms_marketing.locator(".state").inner_text() == "Withdrawn"
    screenshot(page, "consent-withdrawn")

    assert consent_allows(customer_id=ana, channel="sms", purpose="marketing") is False
    assert consent_allows(customer_id=ana, channel="email", purpose="marketing") is True
    revoked = Event.objects.get(type="consent.revoked")
    assert (revoked.channel, revoked.data["wording"]) == (
        "store",
        "I no longer want to receive offers and news by SMS.",
    )


def test_marketing_staff_are_refused_the_customer_pages(staff_page, customer_with_history, screenshot):
    ana = customer_with_history()

    page = staff_page("marketing")
    assert page.get_by_role("heading", name=f"Hola, {page.staff_username}").is_visible()
    assert page.get_by_role("link", name="Clientes").count() == 0
    screenshot(page, "home")

    response = page.goto(f"/staff/customers/{ana}/")

    assert response.status == 403
    assert page.get_by_role("heading", name="Tu perfil no puede ver esta página").is_visible()
    assert "ana0@example.es" not in page.content()
    screenshot(page, "refused")


def test_a_browser_asking_for_neither_language_gets_spanish(browser_page, screenshot):
    page = browser_page(locale="fr-FR")

    page.goto("/staff/customers/")

    assert "/staff/login/" in page.url
    assert page.get_by_role("heading", name="Acceso del personal").is_visible()
    screenshot(page, "login-in-spanish")


def test_the_login_pages_ask_for_nothing_the_server_does_not_have(browser_page):
    """Not even /favicon.ico, which a browser asks for when a page names no icon (a 404 in every visit's log)."""
    page = browser_page()
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    for url in ("/staff/login/", "/admin/login/"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        answer = page.request.get(icon)
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")

    assert failed == []


def test_the_customer_page_fits_a_tablet_in_portrait_and_a_phone(staff_page, customer_with_history, screenshot):
    ana = customer_with_history(email="encarnacion.gelabert.noguera@example.net")
    projector.catch_up_all()

    for name, viewport in (
        ("tablet-portrait", {"width": 820, "height": 1180}),
        ("phone", {"width": 390, "height": 844}),
    ):
        page = staff_page("support", viewport=viewport)
        page.goto(f"/staff/customers/{ana}/")

        screenshot(page, name)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
        # The long address wraps, and only between its parts: each part (a text between two <wbr>) on one line.
        email = page.locator(".profile dd", has_text="@example")
        assert email.inner_text().replace("\n", "") == "encarnacion.gelabert.noguera@example.net"
        lines_per_part = email.evaluate(
            """dd => [...dd.childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => {
                const range = document.createRange(); range.selectNodeContents(n);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            })"""
        )
        assert lines_per_part == [1, 1, 1, 1, 1], f"{name}: a part of the address is cut mid-word"
        if name == "phone":
            assert (
                email.evaluate("dd => dd.getClientRects()[0].height / parseFloat(getComputedStyle(dd).lineHeight)")
                > 1.5
            )
