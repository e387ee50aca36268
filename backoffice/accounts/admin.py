from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .admin_read_only import ReadOnlyAdmin
from .admin_roles import RoleGatedAdmin
from .models import ApiToken, PersonalDataAccess, Role, StaffProfile
from .services import api_token_revoke


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "location_code")
    list_filter = ("role",)
    search_fields = ("user__username",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by `manage.py api_token` (the key is printed once); here they are seen and revoked."""

    list_display = ("prefix", "user", "created_at", "expires_at", "is_valid")
    list_filter = ("expires_at",)
    search_fields = ("user__username", "prefix")
    readonly_fields = ("prefix", "user", "created_at", "expires_at")
    exclude = ("digest",)
    actions = ["revoke"]

    @admin.display(boolean=True, description=_("valid"))
    def is_valid(self, token):
        return token.is_valid_at(timezone.now())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected tokens now"), permissions=["delete"])
    def revoke(self, request, queryset):
        count = sum(api_token_revoke(user=t.user, prefix=t.prefix) for t in queryset.select_related("user"))
        self.message_user(request, _("%(count)d token(s) revoked.") % {"count": count}, messages.SUCCESS)


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    """Who read whose personal data (administrators). From a customer's admin page, "who viewed" opens this list
    filtered to them; `?customer_id=` or `?actor_username=` filter it by hand."""

    list_display = ("at", "actor_username", "actor_role", "surface", "customer_id", "request_id")
    list_filter = ("surface", "actor_role", ("at", admin.DateFieldListFilter))
    search_fields = ("=customer_id", "actor_username", "=request_id")
    date_hierarchy = "at"
    show_full_result_count = False
    roles = (Role.ADMIN,)
