"""Journeys' tables: projections of their events (campaigns.journeys.projections), except the process manager's
cursor (how far it has read the log: its own bookkeeping, moved in the transaction of what it did).

    draft --publish--> live (version 1) --publish again--> live (version 2; people in flight stay on 1)
    live --pause--> paused (no entries, no steps; goals still take people out) --publish--> live
"""

import uuid
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class JourneyStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    LIVE = "live", _("live")
    PAUSED = "paused", _("paused")


class Journey(models.Model):
    """The definition staff edit (the draft of the next version) and the journey's lifecycle."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=8, choices=JourneyStatus.choices, default=JourneyStatus.DRAFT)
    objective = models.TextField(_("objective"), blank=True, default="")
    kpi = models.CharField(_("KPI"), max_length=100, blank=True, default="")
    # The limits of the journey's events (campaigns.journeys.events), as the campaign's.
    holdout_share = models.DecimalField(
        _("holdout share"),
        max_digits=4,
        decimal_places=3,
        default="0.100",
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("0.5"))],
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("attribution window (days)"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    definition = models.JSONField(_("definition"), default=dict)
    template = models.CharField(_("template"), max_length=40, blank=True, default="")
    # The live version people enter; 0 before the first publication.
    version = models.PositiveIntegerField(_("version"), default=0)
    # Triggers recorded before this log position never enter anyone (before publication, or while paused).
    live_since_position = models.BigIntegerField(default=0)
    created_by = models.CharField(_("created by"), max_length=100, blank=True, default="")
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def stream(self) -> str:
        return f"journey-{self.id}"


class JourneyVersion(models.Model):
    """A published definition, frozen: the runs that entered it follow it to the end."""

    id = models.BigAutoField(primary_key=True)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    holdout_share = models.DecimalField(max_digits=4, decimal_places=3)
    attribution_days = models.PositiveSmallIntegerField()
    published_by = models.CharField(max_length=100)
    published_at = models.DateTimeField()

    class Meta:
        verbose_name = _("journey version")
        verbose_name_plural = _("journey versions")
        constraints = [models.UniqueConstraint(fields=["journey", "version"], name="journeys_version_uniq")]

    def __str__(self) -> str:
        return f"{self.journey_id} v{self.version}"


class RunStatus(models.TextChoices):
    ACTIVE = "active", _("in the journey")
    DONE = "done", _("finished")
    EXITED = "exited", _("exited by goal")


class JourneyRun(models.Model):
    """One person's run through one version: where they are, and when (or on what event) they move on. The step
    workers' queue: active runs whose `due_at` has come."""

    id = models.UUIDField(primary_key=True, editable=False)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="runs")
    version = models.PositiveIntegerField()
    customer_id = models.UUIDField()
    entry = models.PositiveIntegerField()
    is_holdout = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.ACTIVE)
    step = models.CharField(max_length=64, blank=True, default="")
    phase = models.CharField(max_length=16, blank=True, default="")
    due_at = models.DateTimeField(null=True, blank=True)
    awaiting = models.CharField(max_length=100, blank=True, default="")
    trigger_position = models.BigIntegerField(null=True, blank=True)
    # The last message a send step queued (its fallback checks whether it was read).
    last_message_id = models.CharField(max_length=64, blank=True, default="")
    entered_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_reason = models.CharField(max_length=16, blank=True, default="")
    converted_at = models.DateTimeField(null=True, blank=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Steps done, in order: [[step, outcome, at], ...] (the report's "through", the staff page's history).
    path = models.JSONField(default=list)

    class Meta:
        verbose_name = _("journey run")
        verbose_name_plural = _("journey runs")
        constraints = [
            models.UniqueConstraint(fields=["journey", "customer_id", "entry"], name="journeys_run_entry_uniq")
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="journeys_run_due"),
            models.Index(fields=["customer_id", "status"], name="journeys_run_customer"),
            models.Index(fields=["journey", "step"], name="journeys_run_step"),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} {self.customer_id} #{self.entry}"

    @property
    def stream(self) -> str:
        return f"journey-{self.journey_id}-{self.customer_id}"


class CustomerTag(models.Model):
    """Tags journeys put on people (a tag step), for branches and staff pages."""

    id = models.BigAutoField(primary_key=True)
    customer_id = models.UUIDField()
    tag = models.CharField(max_length=64)
    tagged_at = models.DateTimeField()
    journey_id = models.UUIDField()

    class Meta:
        verbose_name = _("customer tag")
        verbose_name_plural = _("customer tags")
        constraints = [models.UniqueConstraint(fields=["customer_id", "tag"], name="journeys_tag_uniq")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.tag}"


class JourneyCursor(models.Model):
    """How far the journeys' process manager has read the log. Moved in the same transaction as the entries, exits
    and event arrivals it recorded for the events read, so a crash repeats nothing and skips nothing."""

    name = models.CharField(max_length=64, primary_key=True)
    # The (transaction_id, position) of the last event handled: the store's commit-order checkpoint, so an event
    # committed late by a parallel writer is never skipped (backoffice.eventstore.store.read_committed).
    transaction_id = models.BigIntegerField(default=0)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("journey cursor")
        verbose_name_plural = _("journey cursors")

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"


class JourneySegmentState(models.Model):
    """Which segment a segment-triggered journey follows, and when its members were last evaluated. Bookkeeping of
    the entry by segment (services.segments), not a projection: a rebuild of the journeys leaves it."""

    journey_id = models.UUIDField(primary_key=True)
    segment_id = models.UUIDField()
    evaluated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("journey segment state")
        verbose_name_plural = _("journey segment states")

    def __str__(self) -> str:
        return f"{self.journey_id} {self.segment_id}"


class JourneySegmentMember(models.Model):
    """A member of the journey's segment at its last evaluation: who is not here and is a member now has entered
    the segment."""

    id = models.BigAutoField(primary_key=True)
    journey_id = models.UUIDField()
    customer_id = models.UUIDField()
    since = models.DateTimeField()

    class Meta:
        verbose_name = _("journey segment member")
        verbose_name_plural = _("journey segment members")
        constraints = [
            models.UniqueConstraint(fields=["journey_id", "customer_id"], name="journeys_segment_member_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} {self.customer_id}"
