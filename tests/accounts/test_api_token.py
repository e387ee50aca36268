import hashlib
import importlib
import io
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.models import ApiToken, StaffProfile

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


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


def test_asking_again_issues_another_working_token_and_the_first_still_works():
    first = _run("erp", "--create", "--role", "integration")[-1]

    second = _run("erp")[-1]

    assert second != first
    for key in (first, second):
        assert _client(key).get("/api/v1/events").status_code == 200


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


# --- Hashed at rest, expiry, rotation, revocation


def test_a_token_is_stored_only_as_its_digest():
    key = _run("erp", "--create", "--role", "integration")[-1]

    token = ApiToken.objects.get(user__username="erp")
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix)
    assert len(token.prefix) < len(key) // 4
    assert not ApiToken.objects.filter(digest=key).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert not any(key in str(value) for row in cursor.fetchall() for value in row)


def test_a_new_token_expires_after_the_configured_lifetime(settings):
    settings.API_TOKEN_TTL_DAYS = 30
    before = timezone.now()

    _run("erp", "--create", "--role", "integration")

    expires_at = ApiToken.objects.get(user__username="erp").expires_at
    assert before + timedelta(days=30) <= expires_at <= timezone.now() + timedelta(days=30)


def test_an_expired_token_is_a_401_saying_it_expired_and_when():
    key = _run("erp", "--create", "--role", "integration")[-1]
    expired_at = timezone.now() - timedelta(minutes=1)
    ApiToken.objects.filter(user__username="erp").update(expires_at=expired_at)

    response = _client(key).get("/api/v1/events")

    assert response.status_code == 401
    body = response.json()
    assert body["type"].endswith("/token_expired")
    assert body["expired_at"] == expired_at.isoformat()
    assert "expired" in body["detail"]
    assert response["WWW-Authenticate"].startswith("Token")
    unknown = _client("bo_" + "x" * 43).get("/api/v1/events")
    assert unknown.status_code == 401
    assert unknown.json()["type"].endswith("/authentication_failed")


def test_rotation_keeps_the_old_token_valid_for_the_grace_period_only():
    old = _run("erp", "--create", "--role", "integration")[-1]

    new = _run("erp", "--rotate", "--grace-hours", "2")[-1]

    assert _client(old).get("/api/v1/events").status_code == 200
    assert _client(new).get("/api/v1/events").status_code == 200
    old_token = ApiToken.objects.get(digest=hashlib.sha256(old.encode()).hexdigest())
    assert timezone.now() + timedelta(hours=1, minutes=59) < old_token.expires_at <= timezone.now() + timedelta(hours=2)
    # Two hours later:
    ApiToken.objects.filter(pk=old_token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _client(old).get("/api/v1/events").json()["type"].endswith("/token_expired")
    assert _client(new).get("/api/v1/events").status_code == 200


def test_rotation_never_extends_a_token_that_expires_sooner():
    old = _run("erp", "--create", "--role", "integration", "--expires-in-days", "0")[-1]
    soon = timezone.now() + timedelta(minutes=5)
    ApiToken.objects.filter(digest=hashlib.sha256(old.encode()).hexdigest()).update(expires_at=soon)

    _run("erp", "--rotate", "--grace-hours", "24")

    assert ApiToken.objects.get(digest=hashlib.sha256(old.encode()).hexdigest()).expires_at == soon


def test_revoking_ends_the_tokens_at_once():
    first = _run("erp", "--create", "--role", "integration")[-1]
    second = _run("erp")[-1]

    assert _run("erp", "--revoke", second[:10])[-1] == "1 token(s) revoked"
    assert _client(first).get("/api/v1/events").status_code == 200
    assert _client(second).get("/api/v1/events").status_code == 401
    assert _run("erp", "--revoke")[-1] == "1 token(s) revoked"
    assert _client(first).get("/api/v1/events").status_code == 401


def test_the_list_shows_prefixes_and_expiry_but_never_a_key():
    key = _run("erp", "--create", "--role", "integration")[-1]

    listing = "\n".join(_run("erp", "--list"))

    assert key[:10] in listing
    assert key not in listing
    assert "valid" in listing


def test_metrics_take_a_bearer_token_and_say_when_it_expired():
    key = _run("prometheus", "--create", "--role", "integration")[-1]
    client = APIClient()

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    ApiToken.objects.filter(user__username="prometheus").update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/token_expired")


@pytest.mark.django_db(transaction=True)  # a schema change: SQLite's schema editor runs outside a transaction
def test_the_migration_moves_clear_keys_to_digests_that_keep_working_and_drops_the_old_table(staff_user):
    """A database from before: DRF's authtoken table with a clear key. The migration's step, run on it."""
    user = staff_user("integration")
    old_key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone, "
            "user_id integer NOT NULL)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created datetime, user_id integer)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [old_key, timezone.now(), user.pk])
    migration = importlib.import_module("backoffice.accounts.migrations.0002_api_tokens_hashed")

    with connection.schema_editor() as schema_editor:
        migration.hash_existing_tokens(django_apps, schema_editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    token = ApiToken.objects.get(user=user)
    assert token.digest == hashlib.sha256(old_key.encode()).hexdigest()
    assert token.expires_at is not None
    assert _client(old_key).get("/api/v1/events").status_code == 200


def test_the_admin_lists_tokens_without_their_digest_and_revokes_them(admin_client):
    key = _run("erp", "--create", "--role", "integration")[-1]
    token = ApiToken.objects.get(user__username="erp")

    listing = admin_client.get("/admin/accounts/apitoken/")
    assert listing.status_code == 200
    assert token.prefix in listing.content.decode()
    assert token.digest not in listing.content.decode()
    admin_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})

    assert _client(key).get("/api/v1/events").status_code == 401
