"""Segments and campaigns (staff-edited plans: mutable tables, their lifecycle recorded as events), the audience
snapshot of a launch and the deliveries it planned (one row per campaign, customer and channel: the exactly-once
guard of the fan-out).

    draft --approve (another staff member)--> approved --launch--> scheduled (start in the future, beat launches it)
                                                              \\-> running --fan-out done--> completed
    draft | approved | scheduled | running --cancel--> cancelled
    completed --cancel, while messages of it still wait in the outbox--> cancelled (they are withdrawn)
    approved --edited--> draft (approval is of what was approved, not of what it became)
    approved | scheduled --a segment it uses changes its rules--> draft
"""

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.vocabulary import OUTBOUND_CHANNELS

CHANNEL_CHOICES = [(c, c) for c in OUTBOUND_CHANNELS]


class Segment(models.Model):
    """A rule over the customer 360 projection, stored as data and evaluated in SQL (campaigns.segments)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True, default="")
    # {"op": "and"|"or", "rules": [{"field": ..., "cmp": ..., "value": ...} | {"op": ..., "rules": [...]}]}
    rules = models.JSONField(_("rules"), default=dict)
    created_by = models.CharField(_("created by"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Status(models.TextChoices):
    DRAFT = "draft", _("draft")
    APPROVED = "approved", _("approved")
    SCHEDULED = "scheduled", _("scheduled")
    RUNNING = "running", _("running")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class ChannelMode(models.TextChoices):
    BEST = "best", _("best channel (the consented channel the customer engages with most)")
    EVERY = "every", _("every consented channel")


# The variant fields per channel: {channel: [(model field, content key)]}.
VARIANT_FIELDS = {
    "email": [("email_subject", "subject"), ("email_body", "body")],
    "sms": [("sms_text", "text")],
    "whatsapp": [("whatsapp_template", "template"), ("whatsapp_parameters", "parameters")],
    "push": [("push_title", "title"), ("push_body", "body")],
    "facebook": [("facebook_text", "text")],
    "instagram": [("instagram_text", "text")],
}
# The same fields as the list of them, in that order.
VARIANT_FIELD_NAMES = tuple(field for fields in VARIANT_FIELDS.values() for field, _key in fields)


# What staff write on the worksheet (with its segments and exclusions); the rest of a campaign is its lifecycle.
WORKSHEET_FIELDS = (
    "name",
    "key_message",
    "intent",
    "offer_code",
    "discount",
    "valid_until",
    "holdout_share",
    "channels",
    "channel_mode",
    "starts_at",
    "ends_at",
    "send_window_start",
    "send_window_end",
    *VARIANT_FIELD_NAMES,
    "objective",
    "kpi",
    "target_value",
    "attribution_days",
    "costs",
    "budget",
)


class Campaign(models.Model):
    """The QQOQCP worksheet: what, who, where, when, how, why. Offer code, discount and validity live here only and
    reach every variant through placeholders ({offer_code}, {discount}, {valid_until})."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    # What
    key_message = models.TextField(_("key message"), blank=True, default="")
    intent = models.CharField(_("intent"), max_length=300, blank=True, default="")
    offer_code = models.CharField(_("offer code"), max_length=40, blank=True, default="")
    discount = models.CharField(_("discount"), max_length=40, blank=True, default="", help_text=_("e.g. 20%"))
    valid_until = models.DateField(_("offer valid until"), null=True, blank=True)
    # Who
    segments = models.ManyToManyField(Segment, verbose_name=_("segments"), related_name="campaigns", blank=True)
    exclusions = models.ManyToManyField(
        Segment, verbose_name=_("excluded segments"), related_name="excluded_by", blank=True
    )
    holdout_share = models.DecimalField(
        _("holdout share"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.100"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("0.5"))],
        help_text=_("Share of the audience kept as control group (0.10 = 10%)."),
    )
    # Where
    channels = models.JSONField(_("channels"), default=list, blank=True)
    channel_mode = models.CharField(_("channel mode"), max_length=8, choices=ChannelMode.choices, default="best")
    # When
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    send_window_start = models.TimeField(_("send window from"), null=True, blank=True, help_text=_("local time"))
    send_window_end = models.TimeField(_("send window until"), null=True, blank=True)
    # How: one variant per channel, with placeholders.
    email_subject = models.CharField(_("email subject"), max_length=200, blank=True, default="")
    email_body = models.TextField(_("email body"), blank=True, default="")
    sms_text = models.TextField(_("SMS text"), blank=True, default="")
    whatsapp_template = models.CharField(_("WhatsApp template"), max_length=100, blank=True, default="")
    whatsapp_parameters = models.TextField(
        _("WhatsApp template parameters"), blank=True, default="", help_text=_("one per line, with placeholders")
    )
    push_title = models.CharField(_("push title"), max_length=100, blank=True, default="")
    push_body = models.TextField(_("push body"), blank=True, default="")
    facebook_text = models.TextField(_("Facebook message"), blank=True, default="")
    instagram_text = models.TextField(_("Instagram message"), blank=True, default="")
    # Why
    objective = models.TextField(_("objective"), blank=True, default="")
    kpi = models.CharField(_("KPI"), max_length=100, blank=True, default="")
    target_value = models.DecimalField(_("target value"), max_digits=14, decimal_places=2, null=True, blank=True)
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    # {channel: "0.05"}: what one message costs on each channel, in the shop currency.
    costs = models.JSONField(_("cost per message per channel"), default=dict, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, null=True, blank=True)
    # Lifecycle
    created_by = models.CharField(_("created by"), max_length=100, blank=True, default="")
    approved_by = models.CharField(_("approved by"), max_length=100, blank=True, default="")
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    # The audience snapshot: done when every person of the segments at launch has an audience row.
    is_snapshot_done = models.BooleanField(default=False)
    snapshot_cursor = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "starts_at"], name="campaigns_due")]

    def __str__(self) -> str:
        return self.name

    @property
    def stream(self) -> str:
        return f"campaign-{self.id}"


class Outcome(models.TextChoices):
    PENDING = "", _("pending")
    SENT = "sent", _("queued for sending")
    HOLDOUT = "holdout", _("holdout (control group)")
    PRESSURE = "pressure", _("contact-pressure budget reached")
    UNREACHABLE = "unreachable", _("no consented channel")
    # Their values broke a channel's rules (an SMS over its segments, a blank WhatsApp parameter): nothing was sent.
    INVALID_CONTENT = "invalid_content", _("message refused by the channel's rules")
    EXPIRED = "expired", _("campaign ended before the send window")
    CANCELLED = "cancelled", _("campaign cancelled")


class AudienceMember(models.Model):
    """One person of a launched campaign's audience, frozen at launch, and what the fan-out decided for them."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="audience")
    customer_id = models.UUIDField()
    is_holdout = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING, blank=True)
    # Not before this (the send window in the customer's local time); null: now.
    not_before = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("audience member")
        verbose_name_plural = _("audience")
        constraints = [models.UniqueConstraint(fields=["campaign", "customer_id"], name="campaigns_audience_uniq")]
        indexes = [models.Index(fields=["campaign", "outcome", "not_before"], name="campaigns_audience_due")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id}"


class Delivery(models.Model):
    """One message a campaign queued: at most one per (campaign, customer, channel), whatever retries happen."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="deliveries")
    customer_id = models.UUIDField()
    channel = models.CharField(max_length=16, choices=CHANNEL_CHOICES)
    message_id = models.UUIDField()
    queued_at = models.DateTimeField()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer_id", "channel"], name="campaigns_delivery_once")
        ]
        indexes = [models.Index(fields=["customer_id", "queued_at"], name="campaigns_delivery_customer")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.customer_id} {self.channel}"


# Journeys are a part of campaigns (campaigns.journeys); their tables are this app's.
from .journeys.models import (  # noqa: E402, F401
    CustomerTag,
    Journey,
    JourneyCursor,
    JourneyRun,
    JourneySegmentMember,
    JourneySegmentState,
    JourneyVersion,
)
