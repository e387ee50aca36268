"""Creating staff users and their API tokens. Used by the api_token command, seed_demo and the admin."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Role, StaffProfile


@transaction.atomic
def staff_user_save(*, username: str, role: str, location_code: str = "", password: str | None = None, email: str = ""):
    """Create the user if needed and set its role (and location, which store staff must have)."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r}; one of {', '.join(Role.values)}"})
    if role == Role.STORE and not location_code:
        raise ValidationError({"location": "store staff are bound to one location: give its code"})
    if role != Role.STORE and location_code:
        raise ValidationError({"location": "only store staff are bound to a location"})
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username, defaults={"email": email})
    if password is not None:
        user.set_password(password)
    # Staff pages and the admin need is_staff; systems (integration) only ever use tokens.
    user.is_staff = role != Role.INTEGRATION
    # The admin role is the back-office's superuser; other roles get exactly what their pages and endpoints allow.
    user.is_superuser = role == Role.ADMIN
    user.save()
    StaffProfile.objects.update_or_create(user=user, defaults={"role": role, "location_code": location_code})
    return user


def api_token_get_or_create(*, user) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
