import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backoffice.accounts.models import StaffProfile

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue().splitlines()


def test_create_prints_a_working_token_alone_on_the_last_line():
    token = _run("erp", "--create", "--role", "integration")[-1]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/events").status_code == 200
    assert StaffProfile.objects.get(user__username="erp").role == "integration"


def test_asking_again_prints_the_same_token():
    first = _run("erp", "--create", "--role", "integration")[-1]

    assert _run("erp")[-1] == first


def test_store_staff_are_bound_to_a_location():
    _run("maria", "--create", "--role", "store", "--location", "VLC-01")

    assert StaffProfile.objects.get(user__username="maria").location_code == "VLC-01"
    with pytest.raises(CommandError, match="location"):
        _run("pedro", "--create", "--role", "store")


def test_an_unknown_user_without_create_is_an_error():
    with pytest.raises(CommandError, match="no user"):
        _run("nobody")


def test_a_role_may_be_changed():
    _run("lucia", "--create", "--role", "support")
    _run("lucia", "--create", "--role", "marketing")

    assert StaffProfile.objects.get(user__username="lucia").role == "marketing"
