"""The admin and the staff pages carry a Content-Security-Policy (scripts from here or with the request's nonce) and
security headers; staff sessions end after a shift or when the browser closes."""

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/admin/login/", "/staff/login/"])
def test_staff_facing_pages_carry_a_content_security_policy(client, path):
    response = client.get(path)

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert re.search(r"script-src 'self' 'nonce-[\w-]{16,}'", policy)
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert response["Permissions-Policy"].startswith("camera=()")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/personaldataaccess/", "/staff/"])
def test_signed_in_staff_pages_and_the_admin_carry_the_policy_and_headers(admin_client, path):
    response = admin_client.get(path, follow=True)

    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_nonce_changes_with_every_request(client):
    first = client.get("/admin/login/")["Content-Security-Policy"]
    second = client.get("/admin/login/")["Content-Security-Policy"]

    assert first != second


def test_the_segment_editors_inline_scripts_carry_the_pages_nonce(admin_client):
    response = admin_client.get("/admin/campaigns/segment/add/")

    nonce = re.search(r"'nonce-([\w-]+)'", response["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", response.content.decode())
    inline = [attributes for attributes in scripts if "src=" not in attributes]
    assert inline
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)


def test_the_json_api_is_left_without_a_page_policy(api_client_for):
    response = api_client_for("admin").get("/api/v1/products")

    assert "Content-Security-Policy" not in response


def test_a_staff_session_ends_after_a_shift_or_when_the_browser_closes(admin_client, admin_user):
    session = admin_client.session

    assert session.get_expiry_age() == 8 * 60 * 60
    assert session.get_expire_at_browser_close()
