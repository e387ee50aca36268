"""Every provider webhook in the URL conf refuses a request that does not carry the provider's authentication: 401,
whether its secret is configured or not, and writes nothing."""

import re

import pytest

from tests.urlconf import url_routes

from .helpers import written

pytestmark = pytest.mark.django_db


def _webhooks() -> list[str]:
    paths = []
    for route, _ in url_routes():
        path = re.sub(r"\^|\$|\(_mime\)\?", "", "/" + route)  # anymail's one regex route (mailgun inbound)
        if path.startswith("/anymail/") or (
            path.startswith("/api/v1/providers/") and "<" not in path  # the unsubscribe link: its token is the key
        ):
            paths.append(path)
    return sorted(set(paths))


WEBHOOKS = _webhooks()


def test_the_walk_finds_every_provider_webhook():
    assert {
        "/anymail/postmark/tracking/",
        "/anymail/postmark/inbound/",
        "/anymail/mailgun/inbound/",
        "/api/v1/providers/twilio/messages",
        "/api/v1/providers/twilio/status",
        "/api/v1/providers/meta/webhook",
    } <= set(WEBHOOKS)


@pytest.mark.parametrize("configured", [True, False], ids=["secrets set", "no secrets"])
@pytest.mark.parametrize("path", WEBHOOKS)
def test_an_unauthenticated_post_is_401_and_writes_nothing(client, settings, providers, path, configured):
    if not configured:
        settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
        settings.TWILIO_AUTH_TOKEN = settings.META_APP_SECRET = ""
    content_type = "application/x-www-form-urlencoded" if "twilio" in path else "application/json"
    before = written()

    response = client.post(path, data="a=1" if "twilio" in path else "{}", content_type=content_type)

    assert response.status_code == 401, response.content
    assert "WWW-Authenticate" in response
    assert written() == before
