"""Creating staff users and their API tokens, and their second factor. Used by the api_token command, seed_demo, the
admin and the staff pages."""

import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backoffice.replica import write_not_read_back

from .models import ApiToken, Role, StaffProfile, api_token_digest

if TYPE_CHECKING:  # django-otp is imported where used: its models need the apps loaded
    from django_otp.models import Device
    from django_otp.plugins.otp_totp.models import TOTPDevice

# Keys look like `bo_<43 characters>`: the prefix lets secret scanners and people recognise a leaked one.
API_TOKEN_KEY_PREFIX = "bo_"  # noqa: S105 - a label, not a secret


@transaction.atomic
def staff_user_save(
    *, username: str, role: str, location_code: str = "", password: str | None = None, email: str = ""
) -> User:
    """Create the user if needed and set its role (and location, which store staff must have)."""
    staff_role_check(role=role, location_code=location_code)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    staff_role_set(user=user, role=role, location_code=location_code)
    return user


def staff_role_check(*, role: str, location_code: str) -> None:
    """Raise ValidationError naming the field when this role and location cannot go together."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}; one of {', '.join(Role.values)}"})
    if role == Role.STORE and not location_code:
        raise ValidationError({"location": "store staff are bound to one location: give its code"})
    if role != Role.STORE and location_code:
        raise ValidationError({"location": "only store staff are bound to a location"})


@transaction.atomic
def staff_role_set(*, user: User, role: str, location_code: str = "") -> StaffProfile:
    """Give a user a role: the profile and the flags Django reads for the admin site, always together. A superuser
    is an administrator whatever their profile says (selectors.user_role), so a role changed on the profile alone
    would leave a demoted administrator every power."""
    staff_role_check(role=role, location_code=location_code)
    # Staff pages and the admin need is_staff; systems (integration) only ever use tokens.
    user.is_staff = role != Role.INTEGRATION
    # The admin role is the back-office's superuser; other roles get exactly what their pages and endpoints allow.
    user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
    profile, _ = StaffProfile.objects.update_or_create(
        user=user, defaults={"role": role, "location_code": location_code}
    )
    return profile


def _default_token_lifetime() -> timedelta | None:
    days = settings.API_TOKEN_TTL_DAYS
    return timedelta(days=days) if days > 0 else None


@transaction.atomic
def api_token_issue(*, user: User, lifetime: timedelta | None | bool = True) -> str:
    """A new token for `user`; returns its key, which is stored nowhere (only its digest): show it once.
    `lifetime`: True for API_TOKEN_TTL_DAYS, None for no expiry, or a timedelta."""
    key = API_TOKEN_KEY_PREFIX + secrets.token_urlsafe(32)
    if lifetime is True:
        lifetime = _default_token_lifetime()
    now = timezone.now()
    ApiToken.objects.create(
        user=user,
        digest=api_token_digest(key),
        prefix=key[:10],
        created_at=now,
        expires_at=now + lifetime if lifetime else None,
    )
    return key


@transaction.atomic
def api_token_rotate(*, user: User, grace: timedelta | None = None) -> str:
    """A new token for `user`; every other token of theirs stays valid for `grace` (API_TOKEN_ROTATION_GRACE_HOURS)
    more at most, time to deploy the new key. Returns the new key (show it once)."""
    if grace is None:
        grace = timedelta(hours=settings.API_TOKEN_ROTATION_GRACE_HOURS)
    end_of_grace = timezone.now() + grace
    ApiToken.objects.filter(user=user).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=end_of_grace)).update(
        expires_at=end_of_grace
    )
    return api_token_issue(user=user)


@transaction.atomic
def api_token_revoke(*, user: User, prefix: str = "") -> int:
    """End `user`'s tokens now (those starting with `prefix`, or all). Returns how many were still valid."""
    now = timezone.now()
    tokens = ApiToken.objects.filter(user=user).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if prefix:
        tokens = tokens.filter(prefix__startswith=prefix[:10])
    return tokens.update(expires_at=now)


# --- Two-factor: an authenticator app (TOTP, RFC 6238) and one-use recovery codes, as django-otp devices.


@transaction.atomic
def two_factor_enrolment_start(*, user: User) -> "TOTPDevice":
    """A new, unconfirmed authenticator with a fresh secret (any earlier unconfirmed one is dropped: a secret is shown
    once, and a page reloaded shows a new one). It counts only once confirmed with a code from the app."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def two_factor_enrolment_confirm(*, user: User, device_id: int, token: str) -> "tuple[TOTPDevice, list[str]]":
    """Confirm the authenticator started for `user` with a code it shows; it replaces any earlier one, and fresh
    recovery codes replace any earlier ones. Returns (device, recovery codes), or raises ValidationError."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.select_for_update().filter(id=device_id, user=user, confirmed=False).first()
    if device is None:
        raise ValidationError({"token": "this enrolment has expired: start again"}, code="enrolment_expired")
    if not device.verify_token(token.strip().replace(" ", "")):
        raise ValidationError({"token": "the code does not match: type the one your app shows now"}, code="invalid")
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, two_factor_recovery_codes_renew(user=user)


@transaction.atomic
def two_factor_recovery_codes_renew(*, user: User) -> list[str]:
    """New one-use recovery codes (the earlier ones stop working). Shown to the user once, by the caller."""
    from django.conf import settings
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def two_factor_disable(*, user: User) -> None:
    """Turn two-factor off (refused where the role requires it)."""
    from .selectors import two_factor_is_required

    if two_factor_is_required(user=user):
        raise ValidationError({"two_factor": "your role requires two-factor authentication"}, code="required")
    two_factor_reset(user=user)


@transaction.atomic
def two_factor_reset(*, user: User) -> int:
    """An administrator's answer to a lost phone: the person's authenticator and recovery codes go, whatever their
    role. They sign in with their password, and where their role requires two-factor they enrol again before any
    page (selectors.two_factor_step_due). Returns how many devices went."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    codes, _ = StaticDevice.objects.filter(user=user).delete()
    return int(removed) + int(codes)


def two_factor_verify(*, user: User, token: str) -> "Device | None":
    """The device (authenticator or recovery codes) that accepts `token` for `user`, or None. A recovery code works
    once; each device slows down after failures (django-otp's throttling: 1, 2, 4... seconds)."""
    from django_otp import match_token

    token = (token or "").strip().replace(" ", "").lower()
    if not token or len(token) > 16:
        return None
    return match_token(user, token)


# --- Audit of reads of personal data


def personal_data_access_record(
    *, actor: AbstractBaseUser | AnonymousUser | None, customer_ids: Iterable[uuid.UUID], surface: str
) -> int:
    """Record that `actor` read the personal data of each of `customer_ids` on `surface` (one row each, in one
    INSERT). Called by every view that shows a customer, after the read: a failing write fails the request (503 when
    the database refuses writes), so no read goes unrecorded. Returns how many rows were written."""
    from backoffice.logs import request_id_var

    from .models import AccessSurface, PersonalDataAccess
    from .selectors import user_role

    if surface not in AccessSurface.values:
        raise ValueError(f"unknown surface {surface!r}")
    customer_ids = list(dict.fromkeys(customer_ids))
    if not customer_ids:
        return 0
    # A User is always authenticated; anonymous visitors and systems without a user are recorded by no one.
    user = actor if isinstance(actor, User) and actor.is_authenticated else None
    username = user.get_username() if user is not None else ""
    role = (user_role(user=user) or "") if user is not None else ""
    request_id = request_id_var.get() or ""
    now = timezone.now()
    # Nobody reads it back: it must not move a GET's reads (or its caller's next ones) off the read replica. (Even
    # building a row with its actor asks the router for the write database.)
    with write_not_read_back():
        rows = [
            PersonalDataAccess(
                at=now,
                actor=user,
                actor_username=username,
                actor_role=role,
                customer_id=customer_id,
                surface=surface,
                request_id=request_id[:128],
            )
            for customer_id in customer_ids
        ]
        PersonalDataAccess.objects.bulk_create(rows)
    return len(customer_ids)


def personal_data_accesses_purge(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Delete the audit rows of reads older than ACCOUNTS_AUDIT_RETENTION_DAYS (beat, hourly; 0 keeps them forever).
    In batches of ACCOUNTS_AUDIT_PURGE_BATCH rows, each its own short transaction, oldest first: a year of rows to
    drop never holds one long lock on a table every customer view writes to. Returns how many rows were deleted."""
    import logging

    from .models import PersonalDataAccess

    days = settings.ACCOUNTS_AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    size = batch_size or settings.ACCOUNTS_AUDIT_PURGE_BATCH
    deleted = 0
    while True:
        with transaction.atomic():
            old = PersonalDataAccess.objects.filter(at__lt=cutoff).order_by("at", "id")
            ids = list(old.values_list("id", flat=True)[:size])
            if not ids:
                break
            deleted += PersonalDataAccess.objects.filter(id__in=ids).delete()[0]
        if len(ids) < size:
            break
    if deleted:
        logging.getLogger(__name__).info("purged %d personal data accesses older than %d days", deleted, days)
    return deleted
