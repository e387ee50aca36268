"""The outbox (one row per outbound message: the state machine the pipeline drives), the ledger of provider
callbacks already applied, and the channel settings operations change at run time.

The row holds no content and no address: the content is read from the sealed `message.queued` event when sending
(so erasure covers it), and the address is asked of the recipient policy at send time.

    queued --drain--> sending (attempt recorded and committed BEFORE the provider call) --> sent
                                                                                        \\-> failed (terminal)
                                                                                        \\-> queued (retry later)
    queued --drain--> suppressed (no consent, no address, channel disabled...) | deferred (quiet hours)
    deferred --release at `not_before`--> queued
    sending, stale (worker died) --> queued again with the same key if the backend honours keys, else review
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .events import OUTBOUND_CHANNELS
from .vocabulary import Status as Status  # re-exported: defined once in vocabulary

CHANNEL_CHOICES = [(c, c) for c in OUTBOUND_CHANNELS]


class OutboundMessage(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    customer_id = models.UUIDField(_("customer"))
    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES)
    purpose = models.CharField(_("purpose"), max_length=16)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Why it is suppressed, failed, deferred or held for review (a code, never personal data).
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Not sent before this (retry backoff, quiet hours); null means now.
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    sending_since = models.DateTimeField(_("sending since"), null=True, blank=True)
    backend = models.CharField(_("backend"), max_length=40, blank=True, default="")
    provider_message_id = models.CharField(_("provider message id"), max_length=300, blank=True, default="")
    # The last delivery status a provider reported: delivered, read, clicked, bounced, failed.
    delivery_status = models.CharField(_("delivery status"), max_length=16, blank=True, default="")
    queued_event_id = models.UUIDField()
    campaign_id = models.CharField(_("campaign"), max_length=64, blank=True, default="")
    case_id = models.CharField(_("case"), max_length=64, blank=True, default="")
    order_id = models.CharField(_("order"), max_length=64, blank=True, default="")
    variant = models.CharField(_("variant"), max_length=64, blank=True, default="")
    actor = models.CharField(_("actor"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            # The drain's question: what is due, oldest first.
            models.Index(fields=["status", "not_before"], name="messaging_due"),
            # The drain's other question: who has been sending too long (a dead worker). Only rows in `sending` are
            # in it, by time, so the question reads the few old enough, not every version that ever was `sending`.
            models.Index(fields=["sending_since"], condition=models.Q(status="sending"), name="messaging_sending"),
            models.Index(fields=["customer_id", "created_at"], name="messaging_customer"),
            models.Index(fields=["provider_message_id"], name="messaging_provider_id"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.id}"

    @property
    def stream(self) -> str:
        return f"message-{self.id}"

    def attribution(self) -> dict:
        """The data every event of this message carries."""
        data = {"message_id": str(self.id), "purpose": self.purpose}
        for name in ("campaign_id", "case_id", "order_id", "variant"):
            value = getattr(self, name)
            if value:
                data[name] = value
        return data


class StatusCallback(models.Model):
    """Provider callbacks already applied, by their content digest: the same callback twice records once."""

    digest = models.CharField(max_length=64, unique=True)
    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="callbacks")
    status = models.CharField(max_length=16)
    event_id = models.UUIDField()
    received_at = models.DateTimeField()

    class Meta:
        verbose_name = _("delivery callback")
        verbose_name_plural = _("delivery callbacks")

    def __str__(self) -> str:
        return f"{self.status} {self.message_id}"


class UnmatchedState(models.TextChoices):
    PENDING = "pending", _("waiting for its message")
    APPLIED = "applied", _("applied")
    EXPIRED = "expired", _("expired")


class UnmatchedCallback(models.Model):
    """A provider's status callback about no message we know (yet): kept and tried again, so a callback that
    overtakes our own record of the send (the provider answered, called back, and our commit came after) is not
    lost. One that never matches (mail another system sent through the same account) expires; its content is
    dropped then, and at once when a customer it names is erased (CUSTOMERS_ERASURE_HOOKS)."""

    digest = models.CharField(max_length=64, unique=True)  # the callback's own: a provider's resend is one row
    source = models.CharField(_("source"), max_length=40)
    channel = models.CharField(_("channel"), max_length=16)
    provider_message_id = models.CharField(_("provider message id"), max_length=300, blank=True, default="")
    status = models.CharField(_("status"), max_length=16)
    # The callback's fields as JSON, Fernet-encrypted: the address and the provider's reason are personal.
    data_encrypted = models.TextField(editable=False, blank=True, default="")
    address_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    state = models.CharField(_("state"), max_length=16, choices=UnmatchedState.choices, default=UnmatchedState.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    received_at = models.DateTimeField(_("received at"))
    next_attempt_at = models.DateTimeField(_("next attempt"))
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("unmatched callback")
        verbose_name_plural = _("unmatched callbacks")
        ordering = ("-received_at",)
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="messaging_unmatched_due")]

    def __str__(self) -> str:
        return f"{self.source} {self.status} {self.provider_message_id}"


class ReceivedCallback(models.Model):
    """A provider's status callback, signed and checked, stored as received and applied moments later in batches
    (services.received). A provider that posts one callback per request (Twilio) gets its 2xx once this row is
    committed: nothing accepted is lost, and a batch costs a fraction of a transaction per callback. Applied rows are
    deleted (the ledger, StatusCallback, keeps what was recorded); a resend is applied again and found a duplicate."""

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(max_length=40)
    received_at = models.DateTimeField()
    # The callback's fields as JSON, Fernet-encrypted: the address and the provider's reason are personal.
    data_encrypted = models.TextField(editable=False)

    class Meta:
        verbose_name = _("received callback")
        verbose_name_plural = _("received callbacks")

    def __str__(self) -> str:
        return f"{self.source} {self.received_at:%Y-%m-%d %H:%M:%S}"


class ChannelSetting(models.Model):
    """What operations change without a deploy, per channel. A channel without a row uses the settings' defaults."""

    channel = models.CharField(_("channel"), max_length=16, choices=CHANNEL_CHOICES, unique=True)
    is_enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("When off, messages on this channel are suppressed (channel_disabled).")
    )
    is_paused = models.BooleanField(
        _("paused"),
        default=False,
        help_text=_("When on, messages wait in the queue (nothing is suppressed) until the channel is resumed."),
    )
    sender = models.CharField(
        _("sender"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("From address (email), sender id (SMS), or the provider's sender/page/number id."),
    )
    reply_to = models.CharField(_("reply-to"), max_length=200, blank=True, default="")
    quiet_hours_start = models.TimeField(
        _("quiet hours start"),
        null=True,
        blank=True,
        help_text=_("Customer's local time; empty: MESSAGING_QUIET_HOURS"),
    )
    quiet_hours_end = models.TimeField(_("quiet hours end"), null=True, blank=True)
    quiet_hours_for_service = models.BooleanField(
        _("quiet hours apply to service messages"),
        default=True,
        help_text=_("Off: order and case updates go out at any hour; marketing still waits."),
    )
    max_sms_segments = models.PositiveSmallIntegerField(
        _("max SMS segments"), null=True, blank=True, help_text=_("Empty: MESSAGING_SMS_MAX_SEGMENTS")
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("max attempts"), null=True, blank=True, help_text=_("Empty: MESSAGING_MAX_ATTEMPTS")
    )
    notes = models.TextField(_("notes"), blank=True, default="")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    updated_by = models.CharField(_("updated by"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("channel setting")
        verbose_name_plural = _("channel settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="messaging_quiet_hours_both_or_neither",
            )
        ]

    def __str__(self) -> str:
        return self.channel
