"""Role checks and the HTTP plumbing around them: HEAD is its GET, OPTIONS is for whoever may use the endpoint, and a
method an endpoint does not have is a 405 with `Allow`, not a role refusal."""

import pytest
from rest_framework.test import APIClient

from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_head_of_a_list_is_answered_as_its_get_for_a_role_that_may_read_it(api_client_for):
    admin = api_client_for("admin")
    CustomerFactory()

    head = admin.head("/api/v1/customers")

    # The response's own Allow header lists HEAD; the admin may GET it.
    assert admin.get("/api/v1/customers").status_code == 200
    assert "HEAD" in head["Allow"]
    assert head.status_code == 200, head.status_code


def test_head_is_refused_to_a_role_that_may_not_read(api_client_for):
    head = api_client_for("marketing").head("/api/v1/customers")

    assert head.status_code == 403


def test_options_is_answered_for_a_role_that_may_use_the_endpoint(api_client_for):
    admin = api_client_for("admin")

    options = admin.options("/api/v1/events")

    assert "OPTIONS" in options["Allow"]
    assert options.status_code == 200, options.content


def test_options_is_refused_to_a_role_that_may_use_no_method_of_the_endpoint(api_client_for):
    options = api_client_for("marketing").options("/api/v1/events")

    assert options.status_code == 403
    assert options.json()["type"].endswith("/permission_denied")


def test_a_method_the_endpoint_does_not_have_is_a_405_not_a_403(api_client_for):
    admin = api_client_for("admin")
    customer = CustomerFactory()

    deleted = admin.delete(f"/api/v1/customers/{customer.id}")
    pay_read = admin.get("/api/v1/orders/ANY-1/pay")

    assert deleted.status_code == 405, deleted.json()
    assert "DELETE" not in deleted["Allow"]
    assert deleted.json()["type"].endswith("/method_not_allowed")
    assert pay_read.status_code == 405, pay_read.json()


@pytest.mark.parametrize("method", ["head", "options", "delete"])
def test_an_anonymous_request_is_a_401_whatever_the_method(method):
    response = getattr(APIClient(), method)("/api/v1/customers")

    assert response.status_code == 401


@pytest.mark.parametrize("method", ["head", "options", "delete"])
def test_a_user_without_a_role_is_refused_whatever_the_method(api_client_for, method):
    response = getattr(api_client_for(None), method)("/api/v1/customers")

    assert response.status_code == 403
