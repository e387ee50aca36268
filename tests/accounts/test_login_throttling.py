"""Login throttling on the admin and staff logins: LOGIN_FAILURE_LIMIT (5) wrong passwords for one username from one
address lock that pair out (429), even with the right password; fewer failures, or another person, do not."""

import pytest

from backoffice.accounts.models import Role
from backoffice.accounts.services import staff_user_save

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-42"  # noqa: S105


@pytest.fixture
def agent():
    user = staff_user_save(username="agente", role=Role.SUPPORT, location_code="")
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, path, username, password):
    return client.post(path, {"username": username, "password": password})


@pytest.mark.parametrize("path", ["/admin/login/", "/staff/login/"])
def test_five_wrong_passwords_lock_the_username_out_even_with_the_right_one(client, agent, path):
    for _ in range(5):
        assert _login(client, path, "agente", "wrong").status_code in (200, 429)

    response = _login(client, path, "agente", PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_fewer_failures_still_let_the_right_password_in(client, agent):
    for _ in range(4):
        _login(client, "/staff/login/", "agente", "wrong")

    response = _login(client, "/staff/login/", "agente", PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(agent.pk)


def test_someone_elses_failures_do_not_lock_this_person_out(client, agent):
    for _ in range(6):
        _login(client, "/staff/login/", "otra-persona", "wrong")

    response = _login(client, "/staff/login/", "agente", PASSWORD)

    assert response.status_code == 302


# --- Behind a proxy: the client's address, from X-Forwarded-For only as far as our own proxies wrote it


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "client"),
    [
        ("203.0.113.7", "", [], "203.0.113.7"),
        # Not from a trusted proxy: whatever the header says is the client's own claim.
        ("203.0.113.7", "198.51.100.1", [], "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.7"),
        # Through our proxy: the address it saw, not what the client prepended.
        ("10.0.0.2", "192.0.2.66, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # Two of our proxies in a row.
        ("10.0.0.2", "192.0.2.66, 198.51.100.1, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.1"),
        ("127.0.0.1", "2001:db8::5", ["127.0.0.1"], "2001:db8::5"),
        ("127.0.0.1", "[2001:db8::5]:443, 198.51.100.1:5123", ["127.0.0.1"], "198.51.100.1"),
        # Garbage where a trusted proxy writes an address: no guessing, the proxy it came through.
        ("10.0.0.2", "198.51.100.1, not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(rf, settings, remote, forwarded, trusted, client):
    from backoffice.security import client_ip

    settings.TRUSTED_PROXIES = trusted
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == client


def test_behind_a_trusted_proxy_one_guesser_does_not_lock_out_the_person_elsewhere(client, agent, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(5):
        client.post(
            "/staff/login/",
            {"username": "agente", "password": "wrong"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.66",
        )
    guesser = client.post(
        "/staff/login/", {"username": "agente", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.66"
    )
    assert guesser.status_code == 429

    from django.test import Client

    real = Client().post(
        "/staff/login/", {"username": "agente", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.10"
    )

    assert real.status_code == 302


def test_a_guesser_cannot_dodge_the_lockout_with_a_forged_header(client, agent, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]  # the guesser (127.0.0.1) is not one of our proxies
    for attempt in range(5):
        client.post(
            "/staff/login/",
            {"username": "agente", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}",
        )

    response = client.post(
        "/staff/login/", {"username": "agente", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="198.51.100.200"
    )

    assert response.status_code == 429
