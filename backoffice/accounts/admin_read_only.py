"""Admin for read models and the log: they change through services and events, never through a form."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        return {}


class ActedReadOnlyAdmin(ReadOnlyAdmin):
    """Read-only rows with actions that act through services, for the staff given the model's change permission
    (the permission runs the actions; every field stays read-only)."""

    def get_actions(self, request):
        if not self.has_change_permission(request):
            return {}
        return admin.ModelAdmin.get_actions(self, request)

    def has_change_permission(self, request, obj=None):
        return admin.ModelAdmin.has_change_permission(self, request, obj)
