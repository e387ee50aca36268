"""The UI speaks Spanish by default and English on request."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user("admin"))
    return client


@override_settings(LANGUAGE_CODE="es")
def test_the_admin_is_in_spanish_by_default(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "Registro de eventos" in page
    assert "Cuentas de empleados" in page


def test_the_admin_is_in_english_when_the_browser_asks(admin_client):
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Event store" in page


@override_settings(LANGUAGE_CODE="es")
def test_a_user_can_switch_to_english(admin_client):
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})

    assert "Staff accounts" in admin_client.get("/admin/").content.decode()


def test_spanish_is_the_product_default():
    from backoffice.settings import base

    assert base.LANGUAGE_CODE == "es"
