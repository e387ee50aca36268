from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .admin_read_only import ReadOnlyAdmin
from .admin_roles import RoleActedAdmin, RoleGatedAdmin
from .models import ApiToken, PersonalDataAccess, Role, StaffProfile
from .services import api_token_revoke, staff_role_check, staff_role_set, two_factor_reset


class StaffProfileForm(forms.ModelForm):
    class Meta:
        model = StaffProfile
        fields = ("user", "role", "location_code")

    def clean(self):
        cleaned = super().clean()
        try:
            staff_role_check(role=cleaned.get("role", ""), location_code=cleaned.get("location_code", ""))
        except ValidationError as exc:
            raise ValidationError({_FORM_FIELD[name]: _ROLE_REFUSALS[name] for name in exc.message_dict}) from None
        return cleaned


# The service's reasons, worded for the form (its own are English, for the command line).
_FORM_FIELD = {"role": "role", "location": "location_code"}
_ROLE_REFUSALS = {
    "role": _("Choose one of the roles."),
    "location": _("Store staff work at one location, and only store staff are bound to one."),
}


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    """A role is given through the service, which keeps Django's superuser and staff flags with it (an administrator
    demoted here would otherwise keep every power)."""

    form = StaffProfileForm
    list_display = ("user", "role", "location_code")
    list_filter = ("role",)
    search_fields = ("user__username",)

    def save_model(self, request, obj, form, change):
        obj.pk = staff_role_set(user=obj.user, role=obj.role, location_code=obj.location_code).pk


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


class TwoFactorDeviceAdmin(RoleActedAdmin, RoleGatedAdmin, ReadOnlyAdmin):
    """Who has an authenticator app or recovery codes, for administrators; in place of django-otp's own admin, whose
    change form and search help were English, and which let an administrator add a device for someone else. People
    enrol on /staff/two-factor/; here a lost phone is reset through the service."""

    roles = action_roles = (Role.ADMIN,)
    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed", "created_at", "last_used_at")
    search_fields = ("user__username", "user__email")
    search_help_text = _("User name or email of the staff member")
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    actions = ("reset",)

    @admin.action(description=_("Reset two-factor for these people (they enrol again at their next sign-in)"))
    def reset(self, request, queryset):
        users = {device.user for device in queryset.select_related("user")}
        for user in users:
            two_factor_reset(user=user)
        count = len(users)
        self.message_user(
            request,
            ngettext("Two-factor reset for %(count)d person.", "Two-factor reset for %(count)d people.", count)
            % {"count": count},
            messages.SUCCESS,
        )


for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
    admin.site.register(_device_model, TwoFactorDeviceAdmin)
