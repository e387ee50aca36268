import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import AccessSurface as AccessSurface  # the models' vocabulary, defined once in roles
from .roles import Role as Role


class StaffProfile(models.Model):
    """The role of a user, and for store staff the one location they work at."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_profile"
    )
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


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token of a user (`Authorization: Token <key>`), kept as the SHA-256 of its key: the key itself is shown
    once, when it is issued, and is in no table, log or backup. Keys are 256 random bits, so a plain digest is as
    strong as a salted slow hash against guessing, and it keeps authentication to one indexed lookup per request.

    A token is valid until `expires_at` (None: no expiry). Rotation issues a new token and brings the old ones'
    expiry forward to the end of a grace period; revocation brings it to now."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
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


class PersonalDataAccess(models.Model):
    """One read of one customer's personal data by one actor: who looked at whom, where, when.

    A table of its own, not events in the log: a read is no interaction with the customer (it must not be on their
    timeline, in their GDPR export's story or in any projection's catch-up), reads are the hottest path (an append
    per read would queue every 360 view behind the store's append lock), and it holds no personal data of the
    customer: their id, the actor and the surface. Rows are only ever added (the model refuses changes; the
    admin is read-only), and purged by beat after ACCOUNTS_AUDIT_RETENTION_DAYS. Changes of personal data need no
    row here: each is an event with its actor in the log."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("who")
    )
    # Kept as written then: the history outlives a renamed or deleted account.
    actor_username = models.CharField(_("username"), max_length=150)
    actor_role = models.CharField(_("role"), max_length=20, blank=True, default="")
    customer_id = models.UUIDField(_("customer"))
    surface = models.CharField(_("where"), max_length=32, choices=AccessSurface.choices)
    request_id = models.CharField(_("request id"), max_length=128, blank=True, default="")

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [
            models.Index(fields=["customer_id", "-at"], name="accounts_access_customer"),
            models.Index(fields=["actor", "-at"], name="accounts_access_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_username} {self.surface} {self.customer_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("personal data accesses are only ever added")
        super().save(*args, **kwargs)
