"""Role checks. Deny by default: the project-wide default is DenyAll, so a view that forgets to name its roles
answers 403 to everyone rather than 200 to anyone."""

from rest_framework.permissions import BasePermission

from backoffice.accounts.selectors import user_role


class DenyAll(BasePermission):
    message = "This endpoint admits no role."

    def has_permission(self, request, view) -> bool:
        return False


class HasRole(BasePermission):
    """Admits authenticated users whose role is in `view.allowed_roles` (a dict by HTTP method, or a tuple)."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        role = user_role(user=request.user)
        if role is None:
            return False
        allowed = getattr(view, "allowed_roles", ())
        if isinstance(allowed, dict):
            allowed = allowed.get(request.method, allowed.get("*", ()))
        return role in allowed


class HasAnyRole(BasePermission):
    """Any staff role: for what every role may read (the API schema and docs)."""

    def has_permission(self, request, view) -> bool:
        return user_role(user=request.user) is not None
