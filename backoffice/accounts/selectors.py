from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .actors import actor_user_pk, user_actor
from .models import ApiToken, Role, StaffProfile, api_token_digest


def staff_profile(*, user) -> StaffProfile | None:
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.staff_profile
    except StaffProfile.DoesNotExist:
        return None


def user_role(*, user) -> str | None:
    """The user's role; superusers are administrators; anyone without a profile has no role at all."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    profile = staff_profile(user=user)
    return profile.role if profile else None


def user_location_code(*, user) -> str | None:
    profile = staff_profile(user=user)
    return (profile.location_code or None) if profile else None


# --- Two-factor (TOTP through django-otp; recovery codes are a static device)


def two_factor_device(*, user):
    """The confirmed authenticator of the user, if two-factor is on."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_is_required(*, user) -> bool:
    from django.conf import settings

    return user_role(user=user) in settings.TWO_FACTOR_REQUIRED_ROLES


def two_factor_recovery_codes_left(*, user) -> int:
    from django_otp.plugins.otp_static.models import StaticToken

    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_step_due(*, user) -> str | None:
    """What a signed-in session must do before the admin or staff pages: "verify" (two-factor is on and this session
    has not given a code), "enrol" (the role requires two-factor and there is no authenticator yet), or None."""
    if user is None or not user.is_authenticated:
        return None
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return None
    if two_factor_device(user=user) is not None:
        return "verify"
    if two_factor_is_required(user=user):
        return "enrol"
    return None


def actor_user_names(*, actors: Iterable[str]) -> dict[str, str]:
    """Staff users' actors (`user:<pk>`) by their user name, to show who did what; other actors are left out."""
    pks = {pk for pk in map(actor_user_pk, actors) if pk is not None}
    names = get_user_model().objects.filter(pk__in=pks).values_list("pk", "username")
    return {user_actor(pk): username for pk, username in names}


def personal_data_accesses(*, customer_id=None, actor=None):
    """Who read whose personal data, newest first (filtered by customer and/or actor)."""
    from .models import PersonalDataAccess

    accesses = PersonalDataAccess.objects.order_by("-at", "-id")
    if customer_id is not None:
        accesses = accesses.filter(customer_id=customer_id)
    if actor is not None:
        accesses = accesses.filter(actor=actor)
    return accesses


_USER_FIELDS = {"id", "username", "is_active", "is_staff", "is_superuser"}
_BOOLEANS = {"is_active", "is_staff", "is_superuser"}
_PROFILE_FIELDS = {"id", "user_id", "role", "location_code"}


def _in_model_order(model, names: set[str]) -> list[str]:
    """Model.from_db() takes the values of a partial row in the model's field order."""
    return [field.attname for field in model._meta.concrete_fields if field.attname in names]


@dataclass(frozen=True, slots=True)
class TokenLookup:
    user: object
    token: ApiToken
    expires_at: datetime | None


def api_token_lookup(*, key: str) -> TokenLookup | None:
    """The token whose key is `key` (looked up by its SHA-256 digest), with its user and the user's staff profile in
    one query, or None. Every API request authenticates, so this is the hottest read of all: DRF's own lookup plus
    the role check's lookup of the profile cost two ORM queries; this is one SELECT with a join, and the role check
    then reads the profile from the user's cache. The user carries the fields requests read; the others stay
    deferred (loaded on access). Expiry and activity are the caller's to judge."""
    user_model = get_user_model()
    users, profiles = user_model._meta.db_table, StaffProfile._meta.db_table
    user_fields = _in_model_order(user_model, _USER_FIELDS)
    profile_fields = _in_model_order(StaffProfile, _PROFILE_FIELDS)
    user_columns = ", ".join(f"u.{user_model._meta.get_field(name).column}" for name in user_fields)
    profile_columns = ", ".join(f"p.{StaffProfile._meta.get_field(name).column}" for name in profile_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.expires_at, {user_columns}, {profile_columns} "  # noqa: S608
            f"FROM {ApiToken._meta.db_table} t JOIN {users} u ON u.id = t.user_id "
            f"LEFT JOIN {profiles} p ON p.user_id = u.id WHERE t.digest = %s",
            [api_token_digest(key)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, expires_at, row = row[0], row[1], row[2:]
    if isinstance(expires_at, str):  # SQLite through a raw cursor
        expires_at = parse_datetime(expires_at)
    if expires_at is not None and timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, UTC)
    split = len(user_fields)
    # SQLite answers booleans as 0/1 through a raw cursor, where the ORM would have converted them.
    values = [bool(v) if name in _BOOLEANS else v for name, v in zip(user_fields, row[:split], strict=True)]
    user = user_model.from_db(connection.alias, user_fields, values)
    profile = None
    if row[split] is not None:
        profile = StaffProfile.from_db(connection.alias, profile_fields, row[split:])
        StaffProfile._meta.get_field("user").set_cached_value(profile, user)
    user_model._meta.get_field("staff_profile").set_cached_value(user, profile)
    token = ApiToken.from_db(connection.alias, ("id", "user_id", "expires_at"), (token_id, user.pk, expires_at))
    return TokenLookup(user=user, token=token, expires_at=expires_at)
