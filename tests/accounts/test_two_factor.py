"""Optional TOTP two-factor for staff (django-otp): enrolment with a secret shown once, a code after the password on
the admin and staff logins, one-use recovery codes, and roles that must enrol (TWO_FACTOR_REQUIRED_ROLES).

Codes are computed here from the secret the page shows, with RFC 6238 written out (HMAC-SHA1, 30 s, 6 digits), the
way an authenticator app computes them: nothing of django-otp's own code is used to make them."""

import hashlib
import hmac
import re
import struct
import time
from base64 import b32decode

import pytest
from django.test import Client

from backoffice.accounts.models import Role
from backoffice.accounts.services import staff_user_save, two_factor_enrolment_confirm, two_factor_enrolment_start

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-42"  # noqa: S105


def totp(secret_b32: str, *, steps_ahead: int = 0) -> str:
    """RFC 6238 / RFC 4226: the 6-digit code of the 30-second window `steps_ahead` windows from now."""
    key = b32decode(secret_b32.replace(" ", ""))
    counter = int(time.time()) // 30 + steps_ahead
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def _user(username="lucia", role=Role.ADMIN):
    user = staff_user_save(username=username, role=role, location_code="MAD-01" if role == Role.STORE else "")
    user.set_password(PASSWORD)
    user.save()
    return user


def _enrolled(user) -> tuple[str, list[str]]:
    """Two-factor on for `user` through the services; returns its secret and recovery codes."""
    from base64 import b32encode

    device = two_factor_enrolment_start(user=user)
    secret = b32encode(device.bin_key).decode()
    _device, codes = two_factor_enrolment_confirm(user=user, device_id=device.id, token=totp(secret))
    return secret, codes


def _password_login(client, path="/admin/login/", username="lucia"):
    response = client.post(path, {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return response


def test_enrolment_shows_the_secret_once_and_a_code_from_it_turns_two_factor_on():
    user = _user()
    client = Client()
    _password_login(client)

    page = client.get("/staff/two-factor/")
    assert page.status_code == 200
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.content.decode()).group(1)
    assert 'src="data:image/svg+xml' in page.content.decode()  # the QR code, drawn inline

    confirmed = client.post("/staff/two-factor/", {"action": "confirm", "token": totp(secret)})

    assert confirmed.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", confirmed.content.decode())
    assert len(codes) == 10
    assert user.totpdevice_set.get().confirmed
    again = client.get("/staff/two-factor/")
    assert secret not in again.content.decode()
    assert "totp-secret" not in again.content.decode()


def test_a_wrong_code_does_not_turn_it_on_and_the_secret_is_not_shown_again():
    user = _user()
    client = Client()
    _password_login(client)
    page = client.get("/staff/two-factor/").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    wrong = f"{(int(totp(secret)) + 1) % 1_000_000:06d}"

    response = client.post("/staff/two-factor/", {"action": "confirm", "token": wrong})

    assert response.status_code == 400
    assert secret not in response.content.decode()
    assert not user.totpdevice_set.filter(confirmed=True).exists()


def test_reloading_the_enrolment_page_draws_a_new_secret():
    _user()
    client = Client()
    _password_login(client)

    first = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', client.get("/staff/two-factor/").content.decode()).group(1)
    second = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', client.get("/staff/two-factor/").content.decode()).group(1)

    assert first != second
    stale = client.post("/staff/two-factor/", {"action": "confirm", "token": totp(first)})
    assert stale.status_code == 400
    assert client.post("/staff/two-factor/", {"action": "confirm", "token": totp(second)}).status_code == 200


@pytest.mark.parametrize(("login_path", "page"), [("/admin/login/", "/admin/"), ("/staff/login/", "/staff/customers/")])
def test_after_the_password_the_admin_and_staff_pages_ask_for_the_code(login_path, page, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code below would hold the right one back for a second
    secret, _codes = _enrolled(_user())
    client = Client()
    _password_login(client, login_path)

    asked = client.get(page)
    assert asked.status_code == 302
    assert asked["Location"].startswith("/staff/two-factor/verify/?next=")
    wrong = f"{(int(totp(secret, steps_ahead=1)) + 1) % 1_000_000:06d}"
    assert client.post(asked["Location"], {"token": wrong}).status_code == 400
    assert client.get(page).status_code == 302

    # The enrolment used this window's code: the next window's is what the app shows a moment later.
    verified = client.post(asked["Location"], {"token": totp(secret, steps_ahead=1)})

    assert verified.status_code == 302
    assert verified["Location"] == page
    assert client.get(page).status_code == 200


def test_after_a_wrong_code_even_the_right_one_waits():
    secret, _codes = _enrolled(_user())
    client = Client()
    _password_login(client)
    wrong = f"{(int(totp(secret, steps_ahead=1)) + 1) % 1_000_000:06d}"

    client.post("/staff/two-factor/verify/", {"token": wrong})
    response = client.post("/staff/two-factor/verify/", {"token": totp(secret, steps_ahead=1)})

    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_a_code_already_used_does_not_open_a_second_session():
    secret, _codes = _enrolled(_user())
    first, second = Client(), Client()
    _password_login(first)
    _password_login(second)
    code = totp(secret, steps_ahead=1)

    assert first.post("/staff/two-factor/verify/", {"token": code, "next": "/admin/"}).status_code == 302
    assert second.post("/staff/two-factor/verify/", {"token": code, "next": "/admin/"}).status_code == 400


def test_a_recovery_code_lets_in_once():
    _secret, codes = _enrolled(_user())
    client = Client()
    _password_login(client)

    assert client.post("/staff/two-factor/verify/", {"token": codes[0], "next": "/admin/"}).status_code == 302
    assert client.get("/admin/").status_code == 200
    other = Client()
    _password_login(other)
    assert other.post("/staff/two-factor/verify/", {"token": codes[0], "next": "/admin/"}).status_code == 400
    assert other.get("/admin/").status_code == 302


def test_new_recovery_codes_replace_the_old_ones():
    secret, old_codes = _enrolled(_user())
    client = Client()
    _password_login(client)
    client.post("/staff/two-factor/verify/", {"token": totp(secret, steps_ahead=1)})

    response = client.post("/staff/two-factor/", {"action": "recovery_codes"})

    new_codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", response.content.decode())
    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    with_new, with_old = Client(), Client()
    _password_login(with_new)
    _password_login(with_old)
    assert with_new.post("/staff/two-factor/verify/", {"token": new_codes[0]}).status_code == 302
    assert with_old.post("/staff/two-factor/verify/", {"token": old_codes[0]}).status_code == 400


def test_a_role_that_requires_two_factor_must_enrol_before_any_page(settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["admin", "marketing"]
    _user("marta", Role.MARKETING)
    _user("sara", Role.SUPPORT)
    marketing, support = Client(), Client()
    _password_login(marketing, "/staff/login/", "marta")
    _password_login(support, "/staff/login/", "sara")

    asked = marketing.get("/staff/")

    assert asked.status_code == 302
    assert asked["Location"].startswith("/staff/two-factor/?next=")
    assert marketing.get("/admin/").status_code == 302
    assert support.get("/staff/customers/").status_code == 200


def test_a_required_second_factor_cannot_be_turned_off(settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["admin"]
    user = _user()
    secret, _codes = _enrolled(user)
    client = Client()
    _password_login(client)
    client.post("/staff/two-factor/verify/", {"token": totp(secret, steps_ahead=1)})

    response = client.post("/staff/two-factor/", {"action": "disable"})

    assert response.status_code == 200
    assert user.totpdevice_set.filter(confirmed=True).exists()


def test_an_optional_second_factor_can_be_turned_off_by_a_verified_session_only():
    user = _user("sara", Role.SUPPORT)
    secret, _codes = _enrolled(user)
    client = Client()
    _password_login(client, "/staff/login/", "sara")

    refused = client.post("/staff/two-factor/", {"action": "disable"})
    assert refused.status_code == 302
    assert user.totpdevice_set.exists()
    client.post("/staff/two-factor/verify/", {"token": totp(secret, steps_ahead=1)})
    assert client.post("/staff/two-factor/", {"action": "disable"}).status_code == 200

    assert not user.totpdevice_set.exists()
    assert not user.staticdevice_set.exists()


def test_the_api_does_not_take_a_session_that_still_owes_its_code():
    secret, _codes = _enrolled(_user())
    client = Client()
    _password_login(client)

    assert client.get("/api/v1/customers").status_code in (401, 403)
    client.post("/staff/two-factor/verify/", {"token": totp(secret, steps_ahead=1)})
    assert client.get("/api/v1/customers").status_code == 200
