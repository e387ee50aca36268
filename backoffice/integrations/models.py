"""The doors' own state: tracking sources and their hashed write keys, shop connections (secrets encrypted), the
receipt of every webhook delivery (deduplication), the dead-letter list, and oversell alerts.

These are operational tables, like an outbox: not projections of the log. What they let in becomes events through
the customers and orders services.
"""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.schema import CHANNELS


class TrackingSource(models.Model):
    """One sender of Segment-spec calls (the web shop, the app, the POS...). Its channel is the events' channel."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    channel = models.CharField(_("channel"), max_length=16, choices=[(c, c) for c in CHANNELS])
    # sha256 of the write key: the key itself is shown once, when it is created.
    key_hash = models.CharField(_("write key hash"), max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(_("write key starts with"), max_length=8, editable=False)
    # The namespace of the sender's userId as an external id: sources sharing one user base share it.
    user_id_system = models.CharField(_("user id system"), max_length=50)
    # Set for a shop with no platform webhook: its `Order Completed` events place our orders, shipped from this
    # location. Empty: they only close the cart (the platform's webhook or POST /api/v1/orders brings the order,
    # and counting it twice would inflate revenue).
    order_location = models.CharField(
        _("orders ship from"),
        max_length=32,
        blank=True,
        default="",
        help_text=_(
            "Only for a shop with no Shopify or WooCommerce webhook: its Order Completed events become orders "
            "shipped from this location. Empty: they only close the cart."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    events_day = models.DateField(_("day counted"), null=True, blank=True)
    events_today = models.PositiveIntegerField(_("events today"), default=0)
    events_total = models.PositiveBigIntegerField(_("events in total"), default=0)

    class Meta:
        verbose_name = _("tracking source")
        verbose_name_plural = _("tracking sources")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class ShopConnection(models.Model):
    """A shop on a platform that sends us webhooks: its secret, and which of our locations its locations are."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    # Shopify: X-Shopify-Shop-Domain (example.myshopify.com); WooCommerce: the host of X-WC-Webhook-Source.
    shop_domain = models.CharField(_("shop domain"), max_length=255)
    # Fernet token of the secret entered in the admin; empty: the platform's secret from the environment.
    secret_encrypted = models.TextField(_("secret (encrypted)"), blank=True, default="", editable=False)
    # {"<platform location id>": "<our location code>"}
    location_map = models.JSONField(_("location mapping"), default=dict, blank=True)
    default_location = models.CharField(_("default location"), max_length=32, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shop connection")
        verbose_name_plural = _("shop connections")
        ordering = ("platform", "shop_domain")
        constraints = [
            models.UniqueConstraint(fields=["platform", "shop_domain"], name="integrations_shop_platform_domain_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.shop_domain}"


class Outcome(models.TextChoices):
    APPLIED = "applied", _("applied")
    DEAD_LETTERED = "dead_lettered", _("dead-lettered")
    IGNORED = "ignored", _("ignored")


class WebhookReceipt(models.Model):
    """One webhook delivery taken in. Inserted first, in the transaction that applies it: a resent delivery id
    (or the same one arriving twice at once) finds it and changes nothing."""

    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    delivery_id = models.CharField(_("delivery id"), max_length=200)
    topic = models.CharField(_("topic"), max_length=100)
    shop_domain = models.CharField(_("shop domain"), max_length=255, blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.APPLIED)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["platform", "delivery_id"], name="integrations_receipt_delivery_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic} {self.delivery_id}"


class Origin(models.TextChoices):
    """Where a dead-lettered delivery or an oversold order came from."""

    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    # An `Order Completed` of a tracking source that places orders (TrackingSource.order_location).
    TRACKING = "tracking", _("tracking source")


class DeadLetterStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    REPLAYED = "replayed", _("replayed")
    # The body (and the reason, which may quote it) was dropped: a person it names was erased, or it outlived
    # INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS. Kept as a row so the delivery's fate stays visible.
    ERASED = "erased", _("erased")
    EXPIRED = "expired", _("expired")


class DeadLetter(models.Model):
    """A delivery that was valid (signed) but could not be applied: kept as received, with the reason, until a
    replay applies it (a shop delivery, or the order of a tracking source's `Order Completed`). The body holds
    personal data, so it is stored encrypted, dropped once applied, dropped when a
    person it names is erased (DeadLetterSubject) and dropped after the retention period: it is the one copy of a
    shop's personal data outside the log's crypto-shredding."""

    platform = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    shop_domain = models.CharField(_("shop domain"), max_length=255, blank=True, default="")
    topic = models.CharField(_("topic"), max_length=100)
    delivery_id = models.CharField(_("delivery id"), max_length=200)
    body_encrypted = models.TextField(_("body (encrypted)"), editable=False)
    reason = models.TextField(_("reason"))
    code = models.CharField(_("reason code"), max_length=40)
    status = models.CharField(
        _("status"), max_length=16, choices=DeadLetterStatus.choices, default=DeadLetterStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    replayed_at = models.DateTimeField(_("replayed at"), null=True, blank=True)
    replayed_by = models.CharField(_("replayed by"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ("-received_at",)
        indexes = [models.Index(fields=["status", "received_at"], name="integrations_deadletter_status")]

    def __str__(self) -> str:
        return f"{self.platform} {self.topic}: {self.code}"


class DeadLetterSubject(models.Model):
    """A person a dead-lettered body names, as the keyed digest of their identifier key ("email:ana@example.com"):
    an erasure finds the bodies to drop without the body being readable or the identifier stored in clear."""

    dead_letter = models.ForeignKey(DeadLetter, on_delete=models.CASCADE, related_name="subjects")
    digest = models.CharField(_("identifier digest"), max_length=64, db_index=True)

    class Meta:
        verbose_name = _("dead letter subject")
        verbose_name_plural = _("dead letter subjects")
        constraints = [
            models.UniqueConstraint(fields=["dead_letter", "digest"], name="integrations_deadletter_subject_uniq")
        ]

    def __str__(self) -> str:
        return self.digest[:12]


class OversellAlert(models.Model):
    """An order a shop (its platform's webhook, or a tracking source that places orders) sold that our location could
    not cover. Staff resolve it (restock, transfer, cancel)."""

    order_id = models.CharField(_("order"), max_length=64, unique=True)
    platform = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    platform_order_id = models.CharField(_("platform order id"), max_length=64)
    lines = models.JSONField(_("lines short"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("oversell alert")
        verbose_name_plural = _("oversell alerts")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return self.order_id
