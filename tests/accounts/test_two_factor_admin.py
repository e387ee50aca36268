"""Two-factor devices in the admin: who has them, for administrators, in the page's language; a lost phone is reset
through the service, and the person enrols again at their next sign-in where their role requires it."""

from base64 import b32encode

import pytest
from django.test import override_settings
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.accounts.models import Role
from backoffice.accounts.selectors import two_factor_step_due
from backoffice.accounts.services import staff_user_save, two_factor_enrolment_confirm, two_factor_enrolment_start

from .test_two_factor import totp

pytestmark = pytest.mark.django_db


def _enrolled(username: str, role: str = Role.SUPPORT):
    user = staff_user_save(username=username, role=role)
    device = two_factor_enrolment_start(user=user)
    secret = b32encode(device.bin_key).decode()
    two_factor_enrolment_confirm(user=user, device_id=device.id, token=totp(secret))
    return user, secret


@override_settings(LANGUAGE_CODE="es")
def test_administrators_see_who_has_an_authenticator_in_spanish_and_never_its_secret(login):
    user, secret = _enrolled("marta")
    device = TOTPDevice.objects.get(user=user)
    client = login("admin")

    listing = client.get("/admin/otp_totp/totpdevice/").content.decode()
    detail = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()

    assert "marta" in listing
    assert "Apps de autenticación" in listing
    assert "Nombre de usuario o email del empleado" in listing  # not "Search by user's usuario..."
    assert "/admin/otp_totp/totpdevice/add/" not in listing
    assert client.get("/admin/otp_totp/totpdevice/add/").status_code == 403
    assert device.key not in detail
    assert secret not in detail
    assert "Identity" not in detail
    assert "El nombre de este dispositivo, para reconocerlo." in detail  # django-otp's help text, in Spanish
    assert "human-readable" not in detail


@override_settings(TWO_FACTOR_REQUIRED_ROLES=["support"])
def test_resetting_a_lost_phone_removes_both_devices_and_the_person_enrols_again(login):
    user, _secret = _enrolled("marta")
    other, _ = _enrolled("pablo")
    assert StaticDevice.objects.filter(user=user).exists()  # the recovery codes

    response = login("admin").post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset", "_selected_action": [TOTPDevice.objects.get(user=user).pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=other).exists()
    assert two_factor_step_due(user=user) == "enrol"


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.MARKETING, Role.STORE])
def test_other_roles_do_not_see_anyones_devices(login, role):
    _enrolled("marta")

    assert login(role).get("/admin/otp_totp/totpdevice/").status_code == 403
    assert login(role).get("/admin/otp_static/staticdevice/").status_code == 403
