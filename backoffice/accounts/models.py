from django.conf import settings
from django.db import models
from django.utils import timezone
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


class ApiToken(models.Model):
    """An API token of a user (`Authorization: Token <key>`), kept as the SHA-256 of its key: the key itself is shown
    once, when it is issued, and is in no table, log or backup. Keys are 256 random bits, so a plain digest is as
    strong as a salted slow hash against guessing, and it keeps authentication to one indexed lookup per request.

    A token is valid until `expires_at` (None: no expiry). Rotation issues a new token and brings the old ones'
    expiry forward to the end of a grace period; revocation brings it to now."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(_("SHA-256 of the key"), max_length=64, unique=True)
    # The first characters of the key: enough for a person to tell tokens apart, far too few to use one.
    prefix = models.CharField(_("starts with"), max_length=12)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "expires_at"], name="accounts_token_user_expiry")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def is_valid_at(self, moment) -> bool:
        return self.expires_at is None or self.expires_at > moment
