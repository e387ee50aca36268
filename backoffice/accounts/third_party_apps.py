"""The login-throttling and two-factor apps, named in the admin in the page's language.

django-axes marks its words for translation but ships no Spanish catalog (locale/ has them); django-otp writes its
model and field names as plain English strings, so a Spanish admin listed "OTP_TOTP", "TOTP devices" and "created
at". Django's documented way to rename a third-party app is a subclass of its AppConfig in INSTALLED_APPS; the
device models' names and the fields their change lists show get translatable names when the app is ready. Only the
names change: `makemigrations` deactivates translations, sees the same English words and writes nothing."""

from typing import Any

from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils import translation
from django.utils.translation import gettext_lazy as _

# The fields every django-otp device shows in its admin (backoffice/accounts/admin.py), and the words for them: a
# name, and django-otp's own help text as the msgid (the same English words, so the migration state is the same).
DEVICE_FIELD_NAMES = {
    "user": (_("user"), _("The user that this device belongs to.")),
    "name": (_("name"), _("The human-readable name of this device.")),
    "confirmed": (_("confirmed"), _("Is this device ready for use?")),
    "created_at": (
        _("created at"),
        _("The date and time when this device was initially created in the system."),
    ),
    "last_used_at": (_("last used at"), _("The most recent date and time this device was used.")),
}


def _name_device_model(app: AppConfig, model_name: str, singular: Any, plural: Any) -> None:
    model = app.get_model(model_name)
    model._meta.verbose_name = singular
    model._meta.verbose_name_plural = plural
    for field_name, (label, help_text) in DEVICE_FIELD_NAMES.items():
        field = model._meta.get_field(field_name)
        # verbose_name, not the constructor's _verbose_name: the field's deconstruction (its migration) is unchanged.
        field.verbose_name = label
        with translation.override(None):  # the msgids: a django-otp release that rewords a text keeps its own
            is_theirs = str(field.help_text) == str(help_text)
        if is_theirs:
            field.help_text = help_text


class AxesConfig(AxesAppConfig):
    verbose_name = _("Login attempts")

    def ready(self) -> None:
        super().ready()
        from axes.admin import AccessAttemptAdmin

        # A column named after its method ("Status") is the one header of django-axes that gettext never sees.
        AccessAttemptAdmin.status.short_description = _("status")  # type: ignore[attr-defined]


class _DevicesConfig(AppConfig):
    """A django-otp device plugin: its device model and the words for it, set when the app is ready."""

    default_auto_field = "django.db.models.AutoField"
    device_model = ""
    device_names: tuple[Any, Any] = ("", "")

    def ready(self) -> None:
        _name_device_model(self, self.device_model, *self.device_names)


class TOTPDevicesConfig(_DevicesConfig):
    name = "django_otp.plugins.otp_totp"
    verbose_name = _("Two-factor: authenticator apps")
    device_model = "TOTPDevice"
    device_names = (_("authenticator app"), _("authenticator apps"))


class StaticDevicesConfig(_DevicesConfig):
    name = "django_otp.plugins.otp_static"
    verbose_name = _("Two-factor: recovery codes")
    device_model = "StaticDevice"
    device_names = (_("recovery code set"), _("recovery code sets"))
