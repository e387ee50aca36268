"""Admin pages for some roles only: who sees an admin module and its pages is a tuple of roles on the ModelAdmin."""

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
