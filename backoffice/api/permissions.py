"""Role checks. Deny by default: the project-wide default is DenyAll, so a view that forgets to name its roles
answers 403 to everyone rather than 200 to anyone."""

from rest_framework.permissions import BasePermission

from backoffice.accounts.selectors import user_role


class DenyAll(BasePermission):
    message = "This endpoint admits no role."

    def has_permission(self, request, view) -> bool:
        return False


class HasRole(BasePermission):
    """Admits authenticated users whose role is in `view.allowed_roles` (a dict by HTTP method, or a tuple).

    DRF checks permissions before it looks for the method's handler, so the HTTP plumbing is decided here: HEAD is
    its GET, OPTIONS is for whoever may use any method of the endpoint, and a method the view does not have passes
    so that DRF answers 405 with `Allow` rather than a role refusal."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        role = user_role(user=request.user)
        if role is None:
            return False  # anonymous (DRF answers 401) or a user without a role (403)
        method = "GET" if request.method == "HEAD" else request.method
        if method != "OPTIONS" and not _has_handler(view, method):
            return True
        allowed = getattr(view, "allowed_roles", ())
        if not isinstance(allowed, dict):
            return role in allowed
        if method == "OPTIONS":
            return any(role in roles for roles in allowed.values())
        return role in allowed.get(method, allowed.get("*", ()))


def _has_handler(view, method: str) -> bool:
    name = method.lower()
    return name in getattr(view, "http_method_names", ()) and hasattr(view, name)


class HasAnyRole(BasePermission):
    """Any staff role: for what every role may read (the API schema and docs)."""

    def has_permission(self, request, view) -> bool:
        return user_role(user=request.user) is not None
