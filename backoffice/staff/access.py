"""Who sees which staff page: the one place where roles are checked (a mixin for class views, a decorator for
function views), and the error pages that go with a refusal."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_location_code, user_role

from .navigation import nav_items

# Roles with a browser UI. Integration users are systems: tokens only, no pages.
UI_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.MARKETING)
# Pages about individual people: those who serve them. Marketing works with segments, not people.
PEOPLE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE)

ERROR_TITLES = {
    400: _("The request is not valid"),
    403: _("Your role cannot see this page"),
    404: _("Not found"),
    409: _("This cannot be done now"),
}


def staff_context(request) -> dict:
    """What the base layout needs on every staff page: role, location and the navigation for that role."""
    role = user_role(user=request.user)
    return {
        "staff_role": role,
        "staff_role_label": Role(role).label if role else "",
        "staff_location": user_location_code(user=request.user) if role == Role.STORE else None,
        "nav_items": nav_items(request, role),
    }


def error_page(request, status: int, message: str = "") -> TemplateResponse:
    context = {**staff_context(request), "status": status, "title": ERROR_TITLES[status], "message": message}
    return TemplateResponse(request, "staff/error.html", context, status=status)


def _refusal(request, allowed_roles):
    """None when the user may see the page; otherwise the response: the staff login, or a 403 page."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("staff:login"))
    role = user_role(user=request.user)
    if role not in allowed_roles:
        if role in UI_ROLES:
            return error_page(request, 403, _("Individual customers are shown to store staff and customer service."))
        return error_page(request, 403, _("This account has no staff pages."))
    request.staff_role = role
    return None


class StaffRoleRequiredMixin:
    """Class views: set `allowed_roles`. Anonymous visitors go to the staff login; other roles get a 403 page."""

    allowed_roles: tuple[str, ...] = PEOPLE_ROLES

    def dispatch(self, request, *args, **kwargs):
        refusal = _refusal(request, self.allowed_roles)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **staff_context(self.request)}


def staff_role_required(*allowed_roles: str):
    """Function views: `@staff_role_required(*PEOPLE_ROLES)`. Add `staff_context(request)` to the context."""

    def decorate(view):
        @wraps(view)
        def checked(request, *args, **kwargs):
            refusal = _refusal(request, allowed_roles)
            return refusal if refusal is not None else view(request, *args, **kwargs)

        return checked

    return decorate
