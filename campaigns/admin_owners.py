"""Who may use the campaigns admin (segments, campaigns, journeys): administrators and marketing. Nothing is deleted
there: a campaign or a journey is archived through its service, so its history stays in the log."""

from django.contrib import admin

from backoffice.accounts.admin_roles import RoleEditedAdmin
from backoffice.accounts.roles import Role

OWNER_ROLES = (Role.ADMIN, Role.MARKETING)


class OwnedAdmin(RoleEditedAdmin, admin.ModelAdmin):
    roles = OWNER_ROLES

    def has_delete_permission(self, request, obj=None):
        return False
