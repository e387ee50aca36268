"""The staff pages in Spanish say what the staff catalogue (backoffice/staff/locale/es) translates. Django's own
catalogues come first (django.contrib.admin is before backoffice.staff in INSTALLED_APPS) and translate the same
bare English words their way ("Filter" -> "Filtro", "None" -> "Ninguno"...): the staff pages ask for those words in
a context of their own ({% translate "Filter" context "button" %}, pgettext_lazy("compensation", "None"))."""

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.test import override_settings
from django.utils import translation
from django.utils.translation import gettext, pgettext

from customers.services import cases as case_services
from customers.services.ingestion import customer_register

pytestmark = pytest.mark.django_db
ES = {"HTTP_ACCEPT_LANGUAGE": "es"}
STAFF_CATALOGUE = Path(__file__).resolve().parents[2] / "backoffice/staff/locale/es/LC_MESSAGES/django.po"


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def case():
    customer_id, _ = customer_register(
        customer={"email": "marta@example.es", "name": "Marta"}, channel="app", actor="t"
    )
    return case_services.case_open(customer_id=customer_id, channel="email", subject="Talla", text="Hola", actor="t")


@override_settings(LANGUAGE_CODE="es")
def test_the_inbox_filter_button_is_a_verb_and_all_cases_is_plural(login, case):
    text = page(login("support").get("/staff/cases/", **ES))

    assert re.search(r'<button[^>]*type="submit">Filtrar</button>', text), re.findall(r'type="submit">[^<]*<', text)
    assert '<option value="all">Todos</option>' in text, re.findall(r'<option value="all">[^<]*<', text)


@override_settings(LANGUAGE_CODE="es")
def test_the_compensation_none_agrees_with_compensacion(login, case):
    text = page(login("support").get(f"/staff/cases/{case.id}/", **ES))

    assert '<option value="none" selected>Ninguna</option>' in text, re.findall(
        r'<option value="none"[^>]*>[^<]*<', text
    )


@override_settings(LANGUAGE_CODE="es")
def test_the_order_history_heading_says_historial(shop, login):
    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="app", actor="t")
    shop(customer_id, order_id="W-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment={"method": "ship"})

    text = page(login("support").get("/staff/orders/W-1/", **ES))

    assert '<h2 id="history-title">Historial</h2>' in text, re.findall(r'id="history-title">[^<]*<', text)


@override_settings(LANGUAGE_CODE="es")
def test_logging_in_and_out_say_entrar_and_salir(client, login):
    login_page = page(client.get("/staff/login/", **ES))
    any_page = page(login("support").get("/staff/cases/", **ES))

    assert re.search(r'<button type="submit"[^>]*>Entrar</button>', login_page)
    assert re.search(r'<button type="submit"[^>]*>Salir</button>', any_page)


@override_settings(LANGUAGE_CODE="es")
def test_the_consent_change_is_labelled_cambio(login):
    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="app", actor="t")
    query = {"channel": "sms", "purpose": "marketing", "granted": "1"}

    response = login("store").get(f"/staff/customers/{customer_id}/consents/", query, **ES)

    assert str(response.context["form"]["granted"].label) == "Cambio"


# Entries of the staff catalogue another catalogue translates on purpose, the way the pages show them.
TRANSLATED_ELSEWHERE = {
    "Staff pages",  # the app's name in the admin: the project catalogue (locale/) names it
    "Email",  # not used by the staff pages (customers.wording names the channels); django.contrib.auth's
    "Nothing recorded yet.",  # the timeline's empty state: customers' catalogue words it for the admin too
}


def test_every_word_of_the_staff_catalogue_is_shown_as_it_translates_it():
    """A bare English word the staff catalogue translates one way and an app before it another is shown the other
    way: such a word is asked for in a context (msgctxt) of the staff pages."""
    with STAFF_CATALOGUE.open("rb") as handle:
        entries = [m for m in read_po(handle) if m.id and isinstance(m.id, str) and m.string]

    with translation.override("es"):
        shown = {
            (m.context, m.id): pgettext(m.context, m.id) if m.context else gettext(m.id)
            for m in entries
            if m.id not in TRANSLATED_ELSEWHERE
        }

    overridden = {
        key: (m.string, shown[key]) for m in entries if (key := (m.context, m.id)) in shown and shown[key] != m.string
    }
    assert len(shown) > 300
    assert overridden == {}
