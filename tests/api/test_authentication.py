"""Token authentication reads the token, its user and the staff profile in one query."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed

from backoffice.accounts.models import ApiToken
from backoffice.accounts.selectors import user_location_code, user_role
from backoffice.accounts.services import api_token_issue
from backoffice.api.authentication import TokenAuthentication

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_token_its_user_and_the_role_cost_one_query(staff_user, django_assert_num_queries):
    user = staff_user("store", location_code="VLC-01")
    key = api_token_issue(user=user)

    with django_assert_num_queries(1):
        found, token = TokenAuthentication().authenticate_credentials(key)
        assert (user_role(user=found), user_location_code(user=found)) == ("store", "VLC-01")

    stored = ApiToken.objects.get(user=user)
    assert (found.pk, found.username, token.pk, token.user_id) == (user.pk, user.username, stored.pk, user.pk)
    assert token.expires_at == stored.expires_at
    assert (found.is_active, found.is_staff, found.is_superuser) == (True, user.is_staff, False)
    assert found.email == user.email  # a field the query left out is loaded on access


def test_a_user_without_a_profile_is_authenticated_but_has_no_role(api_client_for):
    client = api_client_for(None)

    found, _ = TokenAuthentication().authenticate_credentials(api_token_issue(user=client.user))

    assert user_role(user=found) is None
    assert client.get("/api/v1/events").status_code == 403


def test_a_superuser_without_a_profile_is_an_administrator():
    user = get_user_model().objects.create_superuser("root", "root@example.es", "correct horse battery staple")

    found, _ = TokenAuthentication().authenticate_credentials(api_token_issue(user=user))

    assert user_role(user=found) == "admin"


def test_an_inactive_users_token_is_refused(client):
    user = UserFactory(is_active=False)

    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials(api_token_issue(user=user))
    response = client.get("/api/v1/events", HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)}")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/authentication_failed")


def test_an_unknown_token_is_refused():
    with pytest.raises(AuthenticationFailed):
        TokenAuthentication().authenticate_credentials("0" * 40)
