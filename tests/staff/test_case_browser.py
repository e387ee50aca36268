"""Customer service in a real browser: log in, find a customer, reply to their case, resolve it with a voucher."""

import pytest
from playwright.sync_api import expect

from backoffice.eventstore import projector
from backoffice.messaging.models import OutboundMessage
from customers.models import Case
from customers.services import cases as case_services

pytestmark = pytest.mark.django_db(transaction=True)


def test_support_finds_a_customer_replies_to_their_case_and_resolves_it(staff_page, customer_with_history, screenshot):
    ana = customer_with_history(email="ana@example.es", phone="+34600111222")
    case = case_services.case_open(
        customer_id=ana,
        channel="whatsapp",
        subject="Talla equivocada",
        text="Me llegó una M y pedí una L.",
        actor="test",
    )
    projector.catch_up_all()

    page = staff_page("support")
    page.fill("input[name=q]", "ana@example.es")
    page.get_by_role("button", name="Buscar").click()
    page.locator(f'a[href="/staff/customers/{ana}/"]').click()
    page.wait_for_url(f"**/staff/customers/{ana}/")
    open_cases = page.locator("#open-cases")
    assert open_cases.get_by_text("Talla equivocada").is_visible()
    screenshot(page, "customer-with-open-case")

    open_cases.get_by_role("link", name="Talla equivocada").click()
    page.wait_for_url(f"**/staff/cases/{case.id}/")
    assert page.get_by_role("heading", name="Conversación en todos los canales").is_visible()
    assert page.locator("#thread").get_by_text("Me llegó una M y pedí una L.").is_visible()
    # The agent on any channel sees the rest of the story: here the app cart and the call.
    assert page.get_by_text("Llamada telefónica").first.is_visible()
    screenshot(page, "case")

    page.select_option("select[name=channel]", "whatsapp")
    page.fill("textarea[name=text]", "Le cambiamos la talla: la L llega mañana.")
    page.get_by_role("button", name="Enviar respuesta").click()
    page.wait_for_url(f"**/staff/cases/{case.id}/#thread")
    assert page.locator("#thread").get_by_text("Le cambiamos la talla: la L llega mañana.").is_visible()
    assert page.get_by_text("Respuesta enviada por WhatsApp.").is_visible()
    screenshot(page, "replied")

    page.fill("textarea[name=resolution]", "Cambio de talla enviado")
    page.select_option("select[name=compensation]", "voucher")
    page.fill("input[name=amount]", "10")
    page.fill("input[name=code]", "TALLA10")
    # Posted from this same URL: waiting for it would return at once, before the resolved page arrives.
    with page.expect_navigation(url=f"**/staff/cases/{case.id}/#thread"):
        page.get_by_role("button", name="Resolver caso").click()
    assert page.get_by_test_id("case-status").inner_text() == "resuelto"
    assert page.get_by_text("Vale 10,00 € (TALLA10)").is_visible()
    screenshot(page, "resolved")

    resolved = Case.objects.get(id=case.id)
    assert resolved.status == "resolved"
    assert resolved.first_response_at is not None
    assert OutboundMessage.objects.filter(case_id=str(case.id)).count() == 2  # the reply and the survey


def test_the_case_filters_stand_on_one_line_with_their_button_on_a_tablet_and_stack_on_a_phone(staff_page, screenshot):
    page = staff_page("support")
    page.goto("/staff/cases/")
    selects = [page.locator(f"select[name={name}]").bounding_box() for name in ("status", "channel", "breached")]
    button = page.get_by_role("button", name="Filtrar").bounding_box()
    screenshot(page, "filters-tablet")

    # One line: every select at the same height (the stacked form's spacing pushed all but the first down), the
    # button level with them.
    assert {round(box["y"]) for box in selects} == {round(selects[0]["y"])}
    assert abs((button["y"] + button["height"]) - (selects[0]["y"] + selects[0]["height"])) <= 1

    phone = staff_page("support", viewport={"width": 390, "height": 844})
    phone.goto("/staff/cases/")
    stacked = [phone.locator(f"select[name={name}]").bounding_box() for name in ("status", "channel", "breached")]
    wide = phone.get_by_role("button", name="Filtrar").bounding_box()
    screenshot(phone, "filters-phone")

    assert stacked[0]["y"] < stacked[1]["y"] < stacked[2]["y"] < wide["y"]
    assert round(wide["width"]) == round(stacked[0]["width"])  # full width, not shrunk to its label


def test_a_voucher_amount_typed_with_a_decimal_comma_is_taken(staff_page, customer_with_history, screenshot):
    """Chromium in Spanish dropped the comma of a number box: "15,50" typed became a 1550 € voucher."""
    ana = customer_with_history(email="ana@example.es", phone="+34600111222")
    case = case_services.case_open(customer_id=ana, channel="whatsapp", subject="Talla", text="Hola", actor="test")

    page = staff_page("support")
    page.goto(f"/staff/cases/{case.id}/")
    page.fill("textarea[name=resolution]", "Cambio de talla enviado")
    page.select_option("select[name=compensation]", "voucher")
    page.locator("input[name=amount]").press_sequentially("15,50")
    page.fill("input[name=code]", "TALLA15")
    typed = page.locator("input[name=amount]").input_value()
    screenshot(page, "typed")
    with page.expect_navigation():
        page.get_by_role("button", name="Resolver caso").click()
    screenshot(page, "after")

    resolved = Case.objects.get(id=case.id)
    assert typed == "15,50"
    assert (resolved.status, resolved.compensation) == (
        "resolved",
        {"kind": "voucher", "amount": "15.50", "currency": "EUR", "code": "TALLA15"},
    ), f"typed 15,50; the field held {typed!r}; recorded {resolved.compensation}"
    assert page.get_by_text("Vale 15,50 € (TALLA15)").is_visible()


def test_a_reply_to_a_case_resolved_meanwhile_shows_why_and_what_was_typed(
    staff_page, customer_with_history, screenshot
):
    ana = customer_with_history(email="ana@example.es", phone="+34600111222")
    case = case_services.case_open(customer_id=ana, channel="whatsapp", subject="Talla", text="Hola", actor="test")
    typed = "Le cambiamos la talla: la L llega mañana a la tienda de Sol."

    page = staff_page("support")
    page.goto(f"/staff/cases/{case.id}/")
    page.fill("textarea[name=text]", typed)
    case_services.case_resolve(case_id=case.id, resolution="Resuelto por teléfono", actor="test")  # a colleague
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar respuesta").click()
    screenshot(page, "refused")

    assert page.get_by_role("alert").get_by_text("El caso ya está resuelto; abre uno nuevo para seguir.").is_visible()
    assert page.get_by_label("Lo que escribiste").input_value() == typed
    expect(page.get_by_label("Lo que escribiste")).to_be_in_viewport()  # the post went to #reply: the agent sees it
    assert page.get_by_test_id("case-status").inner_text() == "resuelto"
