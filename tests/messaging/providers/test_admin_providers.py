"""The providers page of the admin: per channel the provider, its status, the webhooks to paste with what each
needs, and a test message to the staff member's own address, through the real backend."""

import pytest

from .conftest import META_SECRET, TWILIO_TOKEN
from .helpers import send_and_drain

pytestmark = pytest.mark.django_db

URL = "/admin/messaging/channelsetting/providers/"


@pytest.fixture
def admin_client(client, staff_user):
    user = staff_user("admin")
    user.email = "operaciones@example.es"
    user.save(update_fields=["email"])
    client.force_login(user)
    return client


def test_the_page_shows_each_channels_provider_status_and_webhooks_but_no_secret(providers, admin_client, customer):
    providers.status = 503
    send_and_drain(customer(), "sms", {"text": "Aviso"})  # one failed attempt this hour
    providers.status = 0
    send_and_drain(customer(), "email", {"subject": "Hola", "body": "Hola"})

    response = admin_client.get(URL)

    html = response.content.decode()
    assert response.status_code == 200
    statuses = {s["channel"]: s for s in response.context["statuses"]}
    assert (statuses["email"]["provider"], statuses["sms"]["provider"], statuses["facebook"]["provider"]) == (
        "anymail",
        "twilio",
        "meta",
    )
    assert statuses["sms"]["failures_last_hour"] == 1
    assert statuses["email"]["last_sent_at"] is not None
    assert statuses["sms"]["missing_settings"] == []
    assert "https://backoffice.example.es/anymail/postmark/tracking/" in html
    assert "https://backoffice.example.es/api/v1/providers/twilio/status" in html
    assert "https://backoffice.example.es/api/v1/providers/meta/webhook" in html
    assert "META_VERIFY_TOKEN" in html
    for secret in (TWILIO_TOKEN, META_SECRET, "anymail-secret", providers.meta_token):
        assert secret not in html


def test_missing_settings_are_named(providers, admin_client, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    response = admin_client.get(URL)

    statuses = {s["channel"]: s for s in response.context["statuses"]}
    assert "TWILIO_AUTH_TOKEN" in statuses["sms"]["missing_settings"]


def test_a_test_message_goes_to_the_staff_members_own_email_through_the_esp(providers, admin_client):
    response = admin_client.post(URL, {"channel": "email", "address": ""}, follow=True)

    (request,) = providers.by("postmark")
    assert request.json()["To"] == "operaciones@example.es"
    assert "Test message sent on email" in response.content.decode()


def test_a_test_sms_goes_to_the_number_given_and_a_failure_is_reported(providers, admin_client):
    sent = admin_client.post(URL, {"channel": "sms", "address": "+34600999888"}, follow=True)
    providers.status = 400
    failed = admin_client.post(URL, {"channel": "sms", "address": "+34600999888"}, follow=True)

    assert providers.by("twilio")[0].form()["To"] == "+34600999888"
    assert "Test message sent on sms" in sent.content.decode()
    assert "failed" in failed.content.decode()


def test_only_administrators_see_the_page(login, providers):
    client = login("marketing")
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"channel": "email"}).status_code == 403


def test_the_page_speaks_spanish(providers, admin_client, settings):
    settings.LANGUAGE_CODE = "es"

    html = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Webhooks para pegar en la consola del proveedor" in html
    assert "Enviar un mensaje de prueba" in html
