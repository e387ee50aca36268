"""The orders admin speaks Spanish by default and English on request (app-local catalog orders/locale/)."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user("admin"))
    return client


@override_settings(LANGUAGE_CODE="es")
def test_the_orders_admin_is_in_spanish_by_default(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "Pedidos y stock" in page
    assert "Niveles de stock" in page


def test_the_orders_admin_is_in_english_when_asked(admin_client):
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Orders and stock" in page
    assert "Stock levels" in page
