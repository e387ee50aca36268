from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MARKETING = "marketing", _("Marketing")
    SUPPORT = "support", _("Customer service")
    STORE = "store", _("Store staff")
    INTEGRATION = "integration", _("Integration (system)")


class StaffProfile(models.Model):
    """The role of a user, and for store staff the one location they work at."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    location_code = models.CharField(_("location"), max_length=32, blank=True, default="")

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="store") | ~models.Q(location_code=""),
                name="accounts_store_staff_has_location",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"
