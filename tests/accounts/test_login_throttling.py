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
