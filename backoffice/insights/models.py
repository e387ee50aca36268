"""Insights' tables: the rollups its projection keeps (per day x channel x metric), the few per-customer and
per-order facts the customer-level figures need, and the one table staff edit (acquisition spend)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyMetric(models.Model):
    """One figure for one day (local time), channel and metric; `dimension` is a store code or a campaign id where
    the metric is per store or per campaign, else empty."""

    day = models.DateField()
    channel = models.CharField(max_length=16, blank=True, default="")
    metric = models.CharField(max_length=40)
    dimension = models.CharField(max_length=64, blank=True, default="")
    value = models.DecimalField(max_digits=18, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(fields=["day", "channel", "metric", "dimension"], name="insights_daily_metric_key")
        ]
        indexes = [models.Index(fields=["metric", "day"], name="insights_metric_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.metric} {self.dimension}: {self.value}"


class PersonFact(models.Model):
    """A customer profile as insights counts it: registered when and through which channel, and the person it
    belongs to once merges are folded (`person_id`: itself, or the profile at the end of its merge chain)."""

    customer_id = models.UUIDField(primary_key=True)
    person_id = models.UUIDField(db_index=True)
    merged_into = models.UUIDField(null=True, blank=True)
    acquisition_channel = models.CharField(max_length=16, blank=True, default="")
    registered_day = models.DateField()
    # Months since year 0 (year * 12 + month - 1), so month arithmetic is plain integer SQL on every database.
    registered_month = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["registered_day"], name="insights_person_registered")]

    def __str__(self) -> str:
        return str(self.customer_id)


class OrderFact(models.Model):
    """One order. `person_id` and `acquisition_channel` are the person's (merges folded), kept up to date on
    merges, so customer-level figures aggregate this one table."""

    order_id = models.CharField(max_length=64, primary_key=True)
    customer_id = models.UUIDField(null=True, blank=True, db_index=True)
    person_id = models.UUIDField(null=True, blank=True, db_index=True)
    acquisition_channel = models.CharField(max_length=16, blank=True, default="")
    # The person's registration month (year * 12 + month - 1), for the historic CLTV's first 12 months.
    registered_month = models.IntegerField(null=True, blank=True)
    channel = models.CharField(max_length=16, blank=True, default="")
    placed_at = models.DateTimeField()
    placed_day = models.DateField(db_index=True)
    placed_month = models.IntegerField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    refunded = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # total - refunded in cents: integer sums are several times faster than numeric ones over many orders.
    net_cents = models.BigIntegerField(default=0)
    is_cancelled = models.BooleanField(default=False)
    fulfilment_method = models.CharField(max_length=8, blank=True, default="")
    fulfilment_location = models.CharField(max_length=32, blank=True, default="")
    # The campaign (and its message channel) a message of which reached the customer within the attribution window.
    campaign_id = models.CharField(max_length=64, blank=True, default="")
    campaign_channel = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return self.order_id


class CampaignTouch(models.Model):
    """The last campaign message sent to each customer profile (last-touch attribution of later orders)."""

    customer_id = models.UUIDField(primary_key=True)
    campaign_id = models.CharField(max_length=64)
    channel = models.CharField(max_length=16, blank=True, default="")
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.customer_id} <- {self.campaign_id}"


class CampaignFact(models.Model):
    """A campaign as its lift needs it: when it was launched and the end of its attribution window (launch +
    attribution days). Projected from the campaign's own events, so the lift reads no other app's table."""

    campaign_id = models.UUIDField(primary_key=True)
    attribution_days = models.PositiveSmallIntegerField(default=7)
    launched_at = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.campaign_id)


class AudienceFact(models.Model):
    """One person of a campaign's audience frozen at launch, held out or not (campaign.audience_snapshotted and
    campaign.audience_imported). The relations carry no database constraint: the facts arrive in log order, and a
    profile insights has not seen registered has no PersonFact (the profile is then its own person)."""

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(
        CampaignFact, on_delete=models.DO_NOTHING, db_constraint=False, related_name="audience"
    )
    # The profile's PersonFact gives the person it belongs to now (merges folded); the column is the customer id.
    profile = models.ForeignKey(
        PersonFact,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        db_column="customer_id",
        related_name="+",
    )
    is_holdout = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "profile"], name="insights_audience_member")]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.profile_id}"


class AcquisitionSpend(models.Model):
    """What marketing spent to acquire customers through a channel in a month (entered by staff, mutable)."""

    channel = models.CharField(_("channel"), max_length=16)
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("amount (EUR)"), max_digits=14, decimal_places=2)
    updated_by = models.CharField(_("updated by"), max_length=100, blank=True, default="")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("acquisition spend")
        verbose_name_plural = _("acquisition spend")
        ordering = ["-month", "channel"]
        constraints = [models.UniqueConstraint(fields=["channel", "month"], name="insights_spend_channel_month")]

    def __str__(self) -> str:
        return f"{self.channel} {self.month:%Y-%m}: {self.amount}"


class Dashboard(DailyMetric):
    """The dashboard's entry in the admin (no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboard")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
