"""Every endpoint requires authentication, and role checks deny by default: walk the whole URL conf."""

import re
import uuid

import pytest
from rest_framework.views import APIView

from backoffice.accounts.models import Role
from backoffice.api.permissions import HasAnyRole, HasRole
from tests.urlconf import url_routes

pytestmark = pytest.mark.django_db

# Public on purpose: load balancers and orchestrators probe them without credentials (liveness, readiness), and
# they reveal only "ok" or "down" per dependency.
PUBLIC = {"/health/", "/health/ready/", "/health/live/"}
_SAMPLES = {"uuid": str(uuid.UUID(int=0x5EED)), "int": "1", "slug": "x", "str": "x", "path": "x"}


def _concrete(route: str) -> str | None:
    if route.startswith("^") or "(?P" in route:
        return None  # the admin's regex routes: covered by the admin's own login check below
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES[m.group(1) or "str"], route)
    return "/" + path


def _api_endpoints():
    found = []
    for route, callback in url_routes():
        path = _concrete(route)
        view_class = getattr(callback, "cls", None)
        if path and view_class and issubclass(view_class, APIView):
            methods = [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
            found.append((path, view_class, methods))
    return found


API_ENDPOINTS = _api_endpoints()


def test_the_walk_finds_the_api():
    assert {"/api/v1/events", "/api/v1/schema/", "/api/v1/docs/"} <= {path for path, _, _ in API_ENDPOINTS}


@pytest.mark.parametrize(("path", "view_class", "methods"), API_ENDPOINTS, ids=[p for p, _, _ in API_ENDPOINTS])
def test_an_anonymous_request_is_refused(client, path, view_class, methods):
    for method in methods:
        response = getattr(client, method.lower())(path)

        assert response.status_code in (401, 403), (method, path, response.status_code)


@pytest.mark.parametrize(("path", "view_class", "methods"), API_ENDPOINTS, ids=[p for p, _, _ in API_ENDPOINTS])
def test_every_api_view_checks_roles(path, view_class, methods):
    permissions = set(view_class.permission_classes)

    assert permissions & {HasRole, HasAnyRole}, f"{view_class.__name__} does not check roles"


@pytest.mark.parametrize(("path", "view_class", "methods"), API_ENDPOINTS, ids=[p for p, _, _ in API_ENDPOINTS])
def test_a_user_without_a_role_is_refused(api_client_for, path, view_class, methods):
    client = api_client_for(None)

    for method in methods:
        response = getattr(client, method.lower())(path, {}, format="json")

        assert response.status_code == 403, (method, path, response.status_code)


def _wrong_roles():
    cases = []
    for path, view_class, methods in API_ENDPOINTS:
        allowed = getattr(view_class, "allowed_roles", None)
        if allowed is None:
            continue
        for method in methods:
            admitted = allowed.get(method, allowed.get("*", ())) if isinstance(allowed, dict) else allowed
            cases.extend((path, method, role) for role in Role.values if role not in admitted)
    return cases


@pytest.mark.parametrize(("path", "method", "role"), _wrong_roles())
def test_a_role_the_endpoint_does_not_admit_is_refused(api_client_for, path, method, role):
    response = getattr(api_client_for(role), method.lower())(path, {}, format="json")

    assert response.status_code == 403
    assert response.json()["type"].endswith("/permission_denied")


def test_a_bad_token_is_refused_with_a_problem_document(client):
    response = client.get("/api/v1/events", HTTP_AUTHORIZATION="Token not-a-real-token")

    assert response.status_code == 401
    assert response.json()["type"].endswith("/authentication_failed")


def test_an_unknown_api_path_is_a_404_problem(api_client_for):
    response = api_client_for("admin").get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not_found")


def test_the_admin_requires_a_staff_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_schema_and_docs_serve_any_staff_role(api_client_for):
    client = api_client_for("store")

    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200


# django-anymail's ESP webhooks authenticate by anymail's basic auth (tests/messaging/providers/test_webhook_auth.py).
PROVIDER_WEBHOOKS = ("/anymail/",)


def test_health_is_the_only_public_path():
    public = set()
    for route, callback in url_routes():
        path = _concrete(route)
        if path and not path.startswith(("/api/", "/admin/", "/staff/", *PROVIDER_WEBHOOKS)):
            if not getattr(callback, "cls", None):
                public.add(path)
    assert public - {"/i18n/setlang/"} - SELF_AUTHENTICATED - BEARER_AUTHENTICATED == PUBLIC


# Prometheus' scrape endpoint: a plain Django view that asks for an API token as a bearer token itself.
BEARER_AUTHENTICATED = {"/metrics"}


def test_the_metrics_endpoint_refuses_a_request_without_a_token(client):
    assert client.get("/metrics").status_code == 401


# The doors of issue 12 authenticate with their callers' own credentials: a write key (HTTP Basic) or the shop
# platform's HMAC signature of the body (tests/integrations prove the details).
SELF_AUTHENTICATED = {
    *(f"/v1/{kind}" for kind in ("batch", "track", "identify", "page", "screen", "alias", "group")),
    # analytics.js posts each call to the first letter of its type, and a batch to /v1/b.
    *(f"/v1/{kind}" for kind in ("b", "t", "i", "p", "s", "a", "g")),
    "/integrations/shopify/webhooks",
    "/integrations/woocommerce/webhooks",
}


@pytest.mark.parametrize("path", sorted(SELF_AUTHENTICATED))
def test_the_integration_doors_refuse_a_request_without_credentials(client, path):
    response = client.post(path, '{"userId": "u", "event": "X"}', content_type="application/json")

    assert response.status_code == 401


STAFF_PAGES = [path for route, _ in url_routes() if (path := _concrete(route) or "").startswith("/staff/")]


@pytest.mark.parametrize("path", [p for p in STAFF_PAGES if p not in ("/staff/login/", "/staff/logout/")])
def test_every_staff_page_sends_an_anonymous_visitor_to_the_staff_login(client, path):
    response = client.get(path)

    assert response.status_code == 302, path
    assert response["Location"].startswith("/staff/login/?next=")
