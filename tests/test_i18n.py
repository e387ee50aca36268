"""The UI speaks Spanish by default and English on request, from the project's catalogue and the apps' own."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(login):
    return login("admin")


# The project's own catalogue, and an app-local one (orders/locale/).
@override_settings(LANGUAGE_CODE="es")
@pytest.mark.parametrize(
    "words", [("Registro de eventos", "Cuentas de empleados"), ("Pedidos y stock", "Niveles de stock")], ids=str
)
def test_the_admin_is_in_spanish_by_default(admin_client, words):
    page = admin_client.get("/admin/").content.decode()

    for word in words:
        assert word in page


@pytest.mark.parametrize("words", [("Event store",), ("Orders and stock", "Stock levels")], ids=str)
def test_the_admin_is_in_english_when_the_browser_asks(admin_client, words):
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    for word in words:
        assert word in page


@override_settings(LANGUAGE_CODE="es")
def test_a_user_can_switch_to_english(admin_client):
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})

    assert "Staff accounts" in admin_client.get("/admin/").content.decode()


def test_spanish_is_the_product_default():
    from backoffice.settings import base

    assert base.LANGUAGE_CODE == "es"
