"""Who may use the campaigns admin (segments, campaigns, journeys): administrators and marketing. Nothing is deleted
there: a campaign or a journey is archived through its service, so its history stays in the log."""

from django.contrib import admin

from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_role

OWNER_ROLES = (Role.ADMIN, Role.MARKETING)


def admin_actor(request) -> str:
    """The actor the services record for a change made in the admin."""
    return f"user:{request.user.pk}"


class OwnedAdmin(admin.ModelAdmin):
    def _is_owner(self, request) -> bool:
        return user_role(user=request.user) in OWNER_ROLES

    def has_module_permission(self, request):
        return self._is_owner(request)

    def has_view_permission(self, request, obj=None):
        return self._is_owner(request)

    def has_add_permission(self, request):
        return self._is_owner(request)

    def has_change_permission(self, request, obj=None):
        return self._is_owner(request)

    def has_delete_permission(self, request, obj=None):
        return False
