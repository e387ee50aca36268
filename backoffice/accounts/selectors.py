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
