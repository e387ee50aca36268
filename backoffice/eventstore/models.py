"""The event table, the projection checkpoints and the per-customer keys.

Event is the only source of truth. Its rows are never updated nor deleted: the model refuses it, and triggers
created by migration 0002 refuse it in the database, whatever the client.
"""

import uuid
from typing import TYPE_CHECKING, Any, NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _

from .schema import CHANNELS

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    # django-stubs makes fields generic in (type assigned, type read); Django's classes take no subscript at run time.
    _BigIntegerField = models.BigIntegerField[int, int]
else:
    _BigIntegerField = models.BigIntegerField


class TransactionIdField(_BigIntegerField):
    """PostgreSQL's xid8 (a 64-bit transaction id that never wraps), a bigint elsewhere. Written by the database."""

    def db_type(self, connection: "BaseDatabaseWrapper") -> str:
        from .backends import recorder

        return recorder(connection.alias).transaction_id_type


class AppendOnlyError(Exception):
    pass


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("events are append-only")

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("append events through backoffice.eventstore.store.append")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only")


class Event(models.Model):
    position = models.BigAutoField(_("position"), primary_key=True)
    id = models.UUIDField(_("event id"), unique=True, editable=False)
    stream = models.CharField(_("stream"), max_length=200)
    version = models.PositiveIntegerField(_("version"))
    type = models.CharField(_("type"), max_length=100)  # indexed below: equality only (no LIKE index on PostgreSQL)
    schema_version = models.PositiveSmallIntegerField(_("schema version"), default=1)
    # The contract says null (not "") for an event with no channel, e.g. a back-office correction.
    channel = models.CharField(  # noqa: DJ001
        _("channel"), max_length=16, null=True, blank=True, choices=[(c, c) for c in CHANNELS]
    )
    customer_id = models.UUIDField(_("customer id"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    data = models.JSONField(_("data"))
    metadata = models.JSONField(_("metadata"), default=dict)
    # sha256 of the event as its sender submitted it: decides whether a re-sent id is a duplicate or a conflict.
    digest = models.CharField(_("digest"), max_length=64)
    # The writing transaction's id: xid8 DEFAULT pg_current_xact_id() on PostgreSQL (0 on SQLite), the order of the
    # catch-up read with the position (migration 0007, backends/postgres.py).
    transaction_id = TransactionIdField(_("transaction id"), editable=False, default=0)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["stream", "version"], name="eventstore_stream_version_uniq")]
        indexes = [
            models.Index(fields=["customer_id", "-occurred_at"], name="eventstore_customer_timeline"),
            models.Index(fields=["channel", "occurred_at"], name="eventstore_channel_time"),
            # Reads filter on exact types; db_index=True would also build a LIKE index, one more write per event.
            models.Index(fields=["type"], name="eventstore_type"),
            # The catch-up read: (transaction_id, position) after a checkpoint, below the high-water mark.
            models.Index(fields=["transaction_id", "position"], name="eventstore_committed_order"),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.stream}@{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        if not self._state.adding:
            raise AppendOnlyError("events are append-only")
        raise AppendOnlyError("append events through backoffice.eventstore.store.append")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are append-only")


class EventKey(models.Model):
    """PostgreSQL: the unique id and (stream, version) of the partitioned log (a partitioned table can only hold
    unique indexes that include its partition key, recorded_at). A trigger writes one row per event inserted, in the
    same statement (migration 0008), so the database refuses a second id or version whatever partition each would
    land in; the append's preflight and reads by id or stream go through it. Written only by that trigger; SQLite's
    single event table keeps its own constraints and leaves this table empty."""

    id = models.UUIDField(primary_key=True, editable=False)
    stream = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    position = models.BigIntegerField()
    recorded_at = models.DateTimeField()
    transaction_id = TransactionIdField(_("transaction id"), editable=False, default=0)

    class Meta:
        db_table = "eventstore_event_key"
        constraints = [models.UniqueConstraint(fields=("stream", "version"), name="eventstore_key_stream_version_uniq")]
        verbose_name = _("event key")
        verbose_name_plural = _("event keys")

    def __str__(self) -> str:
        return f"{self.stream}@{self.version} #{self.position}"


class ProjectionCheckpoint(models.Model):
    """How far an asynchronous projection has read the log: the (transaction_id, position) of the last event applied.
    Every event that sorts at or before it in (transaction_id, position) order is applied (store.read_committed);
    on SQLite transaction_id is always 0 and positions alone order the log."""

    name = models.CharField(_("name"), max_length=100, primary_key=True)
    transaction_id = models.BigIntegerField(_("transaction id"), default=0)
    position = models.BigIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("projection checkpoint")
        verbose_name_plural = _("projection checkpoints")

    def __str__(self) -> str:
        return f"{self.name}@{self.transaction_id}:{self.position}"


class CustomerKey(models.Model):
    """A customer's data key, wrapped by the master key. Erasing the customer destroys it (crypto-shredding)."""

    customer_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    wrapped_key = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(wrapped_key__isnull=True, destroyed_at__isnull=False)
                | models.Q(wrapped_key__isnull=False, destroyed_at__isnull=True),
                name="eventstore_customerkey_live_or_destroyed",
            )
        ]

    def __str__(self) -> str:
        return f"key of {self.customer_id}"


class ProjectionFailure(models.Model):
    """An event a projection could not apply. The projection went on past it, so one bad event never stops a read
    model for everyone; staff see it in the admin and retry it once the cause is fixed (projector.failure_retry).

    `error` holds the exception's class and message, never the event's data (which may hold personal fields)."""

    projection = models.CharField(_("projection"), max_length=100)
    position = models.BigIntegerField(_("position"))
    event_id = models.UUIDField(_("event id"))
    event_type = models.CharField(_("event type"), max_length=100)
    stream = models.CharField(_("stream"), max_length=200)
    error = models.TextField(_("error"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    failed_at = models.DateTimeField(_("failed at"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), auto_now=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ("-position",)
        constraints = [
            models.UniqueConstraint(fields=("projection", "position"), name="eventstore_projectionfailure_once"),
        ]
        indexes = [models.Index(fields=("resolved_at", "projection"), name="eventstore_pf_open")]
        verbose_name = _("projection failure")
        verbose_name_plural = _("projection failures")

    def __str__(self) -> str:
        return f"{self.projection} #{self.position} {self.event_type}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None
