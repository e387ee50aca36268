"""DRF token authentication in one query: the token (looked up by the digest of the key: keys are stored as SHA-256
digests, backoffice.accounts.models.ApiToken), its expiry, its user and the user's staff profile.

Every API request authenticates, so this is the hottest read of all. DRF's own lookup plus the role check's lookup
of the profile cost two ORM queries; this is one raw SELECT with a join, and the role check then reads the profile
from the user's cache. The user carries the fields requests read; the others stay deferred (loaded on access).
"""

from datetime import UTC

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from backoffice.accounts.models import ApiToken, StaffProfile
from backoffice.accounts.selectors import two_factor_step_due
from backoffice.accounts.services import api_token_digest

_USER_FIELDS = {"id", "username", "is_active", "is_staff", "is_superuser"}
_BOOLEANS = {"is_active", "is_staff", "is_superuser"}
_PROFILE_FIELDS = {"id", "user_id", "role", "location_code"}


def _in_model_order(model, names: set[str]) -> list[str]:
    """Model.from_db() takes the values of a partial row in the model's field order."""
    return [field.attname for field in model._meta.concrete_fields if field.attname in names]


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The staff's browser session, once it has passed the second factor where one is due (the same door as the admin
    and staff pages: backoffice.accounts.middleware). A session still owing a code is no authentication at all."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and two_factor_step_due(user=result[0]) is not None:
            return None
        return result


class TokenExpired(exceptions.AuthenticationFailed):
    """A 401 of its own problem type (`token_expired`, with `expired_at`), so a client can tell "get a new token" from
    "this was never a token" (problems.py renders `problem_type`, `problem_title` and `problem_members`)."""

    default_code = "token_expired"
    problem_type = "token_expired"
    problem_title = "The token has expired"

    def __init__(self, expired_at):
        self.problem_members = {"expired_at": expired_at.isoformat()}
        super().__init__(
            f"this token expired at {expired_at.isoformat()}; ask for a new one "
            "(manage.py api_token USERNAME --rotate prints it)"
        )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token_model, user_model = ApiToken, get_user_model()
        users, profiles = user_model._meta.db_table, StaffProfile._meta.db_table
        user_fields = _in_model_order(user_model, _USER_FIELDS)
        profile_fields = _in_model_order(StaffProfile, _PROFILE_FIELDS)
        user_columns = ", ".join(f"u.{user_model._meta.get_field(name).column}" for name in user_fields)
        profile_columns = ", ".join(f"p.{StaffProfile._meta.get_field(name).column}" for name in profile_fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.id, t.expires_at, {user_columns}, {profile_columns} "  # noqa: S608
                f"FROM {token_model._meta.db_table} t JOIN {users} u ON u.id = t.user_id "
                f"LEFT JOIN {profiles} p ON p.user_id = u.id WHERE t.digest = %s",
                [api_token_digest(key)],
            )
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token_id, expires_at, row = row[0], row[1], row[2:]
        if isinstance(expires_at, str):  # SQLite through a raw cursor
            expires_at = parse_datetime(expires_at)
        if expires_at is not None and timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at, UTC)
        if expires_at is not None and expires_at <= timezone.now():
            raise TokenExpired(expires_at)
        split = len(user_fields)
        # SQLite answers booleans as 0/1 through a raw cursor, where the ORM would have converted them.
        values = [bool(v) if name in _BOOLEANS else v for name, v in zip(user_fields, row[:split], strict=True)]
        user = user_model.from_db(connection.alias, user_fields, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        profile = None
        if row[split] is not None:
            profile = StaffProfile.from_db(connection.alias, profile_fields, row[split:])
            StaffProfile._meta.get_field("user").set_cached_value(profile, user)
        user_model._meta.get_field("staff_profile").set_cached_value(user, profile)
        token = token_model.from_db(connection.alias, ("id", "user_id", "expires_at"), (token_id, user.pk, expires_at))
        return user, token
