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


# Words a Spanish admin writes as an English one does.
SAME_IN_BOTH = {"SLA", "SKU", "total", "error", "backend"}


def _admin_words(language: str) -> dict[str, str]:
    """Every name the admin shows for its apps, models, change-list columns and filters, and the titles of its forms'
    sections, in `language`."""
    from django.contrib import admin
    from django.contrib.admin.utils import label_for_field
    from django.utils import translation

    words = {}
    with translation.override(language):
        for model, model_admin in admin.site._registry.items():
            meta = model._meta
            words[f"app {meta.app_label}"] = str(meta.app_config.verbose_name)
            words[f"model {meta.label}"] = str(meta.verbose_name_plural)
            for column in model_admin.list_display:
                if column not in ("__str__", "action_checkbox"):
                    words[f"column {meta.label}.{column}"] = str(label_for_field(column, model, model_admin))
            # Our forms' sections. django-otp's device forms keep theirs ("Identity", "Timestamps"): plain strings
            # of a page only an administrator opens, to delete a lost device.
            is_ours = not meta.app_label.startswith("otp_")
            for index, (name, _options) in enumerate(model_admin.fieldsets or ()):
                if name and is_ours:
                    words[f"fieldset {meta.label}.{index}"] = str(name)
            for entry in model_admin.list_filter:
                field = entry[0] if isinstance(entry, tuple) else entry
                title = meta.get_field(field).verbose_name if isinstance(field, str) else field.title
                words[f"filter {meta.label}.{field}"] = str(title)
    return words


def test_every_name_the_admin_shows_is_spanish_in_a_spanish_admin():
    """The third-party apps too: django-axes ships no Spanish catalogue and django-otp marks none of its names for
    translation, so the Spanish admin listed "Access attempts", "OTP_TOTP" and "created at" beside Spanish ones."""
    english, spanish = _admin_words("en"), _admin_words("es")

    untranslated = {
        where: word for where, word in spanish.items() if word == english[where] and word not in SAME_IN_BOTH
    }

    assert len(spanish) > 150
    assert untranslated == {}


@override_settings(LANGUAGE_CODE="es")
def test_the_spanish_admin_index_names_login_attempts_and_two_factor_devices_in_spanish(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "Intentos de acceso" in page
    assert "Doble factor: apps de autenticación" in page
    assert "Access attempts" not in page
    assert "TOTP devices" not in page
    assert "Otp_Totp" not in page
