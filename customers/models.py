"""Read models of customers (projections of customer and interaction events). Rebuildable from the log."""

from django.db import models
from django.db.models.functions import ExtractDay, ExtractMonth
from django.utils.translation import gettext_lazy as _

from .vocabulary import CaseStatus as CaseStatus  # re-exported: defined once in vocabulary


class Customer(models.Model):
    id = models.UUIDField(primary_key=True)
    registered_at = models.DateTimeField(_("registered at"))
    acquisition_channel = models.CharField(_("acquisition channel"), max_length=16, blank=True, default="")
    # Personal (sealed in the events, scrubbed by erasure): how staff and messages address the customer.
    display_name = models.CharField(_("name"), max_length=200, blank=True, default="")
    # The name as the name search compares it (customers.projections.name_search_key: no case, no accents), written
    # with display_name: "alvaro nunez" finds Álvaro Núñez on every database (SQLite's LIKE folds ASCII only).
    search_name = models.TextField(_("name for search"), blank=True, default="", editable=False)
    # IANA zone for quiet hours and send windows; empty means settings.TIME_ZONE.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, default="")
    # Preferred language for messages (es, en); empty means settings.LANGUAGE_CODE.
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    # Personal (sealed in the events, scrubbed by erasure): from the profile or an identify's `birthday` trait; the
    # date journeys celebrate in the customer's zone (month and day indexed: beat looks them up every tick).
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set by erasure (GDPR): the customer's key is destroyed and their identifiers scrubbed; the row stays so
    # amounts, channels and times about them still count.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    # Kept by the asynchronous activity projection.
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True)
    interaction_count = models.PositiveIntegerField(_("interactions"), default=0)
    channels_used = models.JSONField(_("channels used"), default=list, blank=True)
    # Kept by the inline commerce projection (CustomerOrder): this customer's own orders, cancelled ones left
    # out; the 360 view adds up the customers merged into it.
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    # Net of refunds, in the shop currency.
    lifetime_value = models.DecimalField(_("lifetime value"), max_digits=14, decimal_places=2, default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["registered_at"], name="customers_registered_at"),
            models.Index(ExtractMonth("birthday"), ExtractDay("birthday"), name="customers_birthday_day"),
        ]

    def __str__(self) -> str:
        return str(self.id)


class CustomerIdentifier(models.Model):
    """One identifier of one customer. `key` is "kind:normalised value", unique: an identifier names one person."""

    key = models.CharField(max_length=300, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=20)
    value = models.CharField(max_length=254)
    added_at = models.DateTimeField()
    # A provider reported the address dead (customer.address_undeliverable): never sent to again.
    undeliverable_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")

    def __str__(self) -> str:
        return self.kind


class ChannelActivityDaily(models.Model):
    """Interactions per day, channel and event type: the rollup behind funnels and channel dashboards."""

    day = models.DateField()
    channel = models.CharField(max_length=16)
    type = models.CharField(max_length=100)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "channel", "type"], name="customers_channel_daily_uniq")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.type}: {self.count}"


class Consent(models.Model):
    """The current consent of a customer for one channel and purpose. Its history is the consent events."""

    # Not a foreign key: each projection is rebuilt on its own, and emptying customers must not empty consents.
    customer_id = models.UUIDField(_("customer"))
    channel = models.CharField(_("channel"), max_length=16)
    purpose = models.CharField(_("purpose"), max_length=16)
    is_granted = models.BooleanField(_("granted"))
    source_channel = models.CharField(_("given or withdrawn on"), max_length=16, blank=True, default="")
    wording = models.TextField(_("wording shown"), blank=True, default="")
    changed_at = models.DateTimeField(_("changed at"))
    position = models.BigIntegerField(help_text="position of the event that set this state")

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(fields=["customer_id", "channel", "purpose"], name="customers_consent_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.purpose}: {'granted' if self.is_granted else 'revoked'}"


class CustomerOrder(models.Model):
    """An order as the customer's record needs it, from the orders app's events read by type name: what it was
    worth, on which channel, what was refunded. The orders app holds the order itself."""

    order_id = models.CharField(_("order"), max_length=64, primary_key=True)
    customer_id = models.UUIDField(_("customer"), db_index=True)
    channel = models.CharField(_("channel"), max_length=16, blank=True, default="")
    placed_at = models.DateTimeField(_("placed at"))
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    refunded = models.DecimalField(_("refunded"), max_digits=14, decimal_places=2, default=0)
    is_cancelled = models.BooleanField(_("cancelled"), default=False)

    class Meta:
        verbose_name = _("customer order")
        verbose_name_plural = _("customer orders")

    def __str__(self) -> str:
        return self.order_id


class Case(models.Model):
    """A customer-service case: one thread across channels, its SLA clock, resolution and satisfaction."""

    Status = CaseStatus

    id = models.UUIDField(primary_key=True)
    customer_id = models.UUIDField(_("customer"), db_index=True)
    channel = models.CharField(_("opened on"), max_length=16)
    subject = models.CharField(_("subject"), max_length=300)
    order_ref = models.CharField(_("order"), max_length=64, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(_("opened at"))
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"))
    message_count = models.PositiveIntegerField(_("messages"), default=0)
    resolution = models.TextField(_("resolution"), blank=True, default="")
    compensation = models.JSONField(_("compensation"), default=dict, blank=True)
    csat_score = models.PositiveSmallIntegerField(_("satisfaction (1-5)"), null=True, blank=True)
    csat_comment = models.TextField(_("satisfaction comment"), blank=True, default="")
    csat_at = models.DateTimeField(_("satisfaction answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["status", "channel", "opened_at"], name="customers_case_inbox")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(csat_score__isnull=True) | models.Q(csat_score__gte=1, csat_score__lte=5),
                name="customers_case_csat_1_to_5",
            )
        ]

    def __str__(self) -> str:
        return str(self.id)


class CaseMessage(models.Model):
    """One message of a case's thread, on whatever channel it came or went."""

    position = models.BigIntegerField(primary_key=True, help_text="position of the event that added it")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(_("direction"), max_length=3)
    channel = models.CharField(_("channel"), max_length=16)
    text = models.TextField(_("text"))
    actor = models.CharField(_("by"), max_length=100, blank=True, default="")
    message_id = models.CharField(max_length=64, blank=True, default="")
    occurred_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("case message")
        verbose_name_plural = _("case messages")
        ordering = ["occurred_at", "position"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.direction} {self.channel}"
