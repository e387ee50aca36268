from .models import Role, StaffProfile


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


def personal_data_accesses(*, customer_id=None, actor=None):
    """Who read whose personal data, newest first (filtered by customer and/or actor)."""
    from .models import PersonalDataAccess

    accesses = PersonalDataAccess.objects.order_by("-at", "-id")
    if customer_id is not None:
        accesses = accesses.filter(customer_id=customer_id)
    if actor is not None:
        accesses = accesses.filter(actor=actor)
    return accesses
