"""Admin pages for some roles only: who sees an admin module and its pages is a tuple of roles on the ModelAdmin."""

from django.contrib import admin

from .selectors import user_role


class RoleGatedAdmin:
    """A mixin before ModelAdmin: the module and its pages are shown to the staff whose role is in `roles`, hidden
    from the rest. What they may change stays the admin's own say (ReadOnlyAdmin, its has_*_permission methods
    asking `has_role`, or RoleEditedAdmin)."""

    roles: tuple[str, ...] = ()

    def has_role(self, request) -> bool:
        return user_role(user=request.user) in self.roles

    def has_module_permission(self, request):
        return self.has_role(request)

    def has_view_permission(self, request, obj=None):
        return self.has_role(request)


class RoleEditedAdmin(RoleGatedAdmin):
    """The same, and those roles add and change the rows too (through the services the admin's save calls);
    deleting stays the admin's own say."""

    def has_add_permission(self, request):
        return self.has_role(request)

    def has_change_permission(self, request, obj=None):
        return self.has_role(request)


class RoleActedAdmin:
    """A mixin before a read-only admin whose actions act through services: the actions are offered to the staff
    whose role is in `action_roles` and to no one else (the others still see the pages `roles` lets them see)."""

    action_roles: tuple[str, ...] = ()

    def get_actions(self, request):
        if user_role(user=request.user) not in self.action_roles:
            return {}
        # Past ReadOnlyAdmin, which offers no action at all.
        return admin.ModelAdmin.get_actions(self, request)
