"""The staff-profile admin gives roles through the service: the profile and Django's superuser and staff flags change
together, so a demoted administrator loses the administrator's powers, and a role that needs a location gets one."""

import pytest
from rest_framework.test import APIClient

from backoffice.accounts.models import Role, StaffProfile
from backoffice.accounts.selectors import user_role
from backoffice.accounts.services import api_token_issue

pytestmark = pytest.mark.django_db


def _change(client, profile, **values):
    return client.post(
        f"/admin/accounts/staffprofile/{profile.pk}/change/", {"user": profile.user_id, "location_code": "", **values}
    )


def test_an_administrator_demoted_on_the_profile_page_loses_the_administrators_powers(client, staff_user):
    client.force_login(staff_user(Role.ADMIN))
    demoted = staff_user(Role.ADMIN)
    profile = StaffProfile.objects.get(user=demoted)

    assert _change(client, profile, role=Role.SUPPORT).status_code == 302

    demoted.refresh_from_db()
    assert (user_role(user=demoted), demoted.is_superuser, demoted.is_staff) == (Role.SUPPORT, False, True)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=demoted)}")
    assert api.get("/api/v1/events").status_code == 403  # the global log is the administrators' and systems'

    # Promoted back: an administrator again, with the admin site's flags.
    assert _change(client, profile, role=Role.ADMIN).status_code == 302
    demoted.refresh_from_db()
    assert (user_role(user=demoted), demoted.is_superuser) == (Role.ADMIN, True)


@pytest.mark.parametrize(("role", "location_code"), [(Role.STORE, ""), (Role.SUPPORT, "MAD-01")])
def test_a_role_and_location_that_do_not_go_together_are_a_form_error_that_changes_nothing(
    client, staff_user, role, location_code
):
    client.force_login(staff_user(Role.ADMIN))
    profile = StaffProfile.objects.get(user=staff_user(Role.MARKETING))

    response = _change(client, profile, role=role, location_code=location_code)

    assert response.status_code == 200
    assert "location_code" in response.context["adminform"].form.errors
    profile.refresh_from_db()
    assert (profile.role, profile.location_code) == (Role.MARKETING, "")
