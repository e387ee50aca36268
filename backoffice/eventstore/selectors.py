"""Reads of the log for views and other apps."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, Max

from . import store
from .models import Event, ProjectionCheckpoint, ProjectionFailure
from .store import RecordedEvent


def events_committed_after(*, cursor: tuple[int, int], limit: int, above: int = 0) -> list[RecordedEvent]:
    """The log in commit-safe order after `cursor` = (transaction_id, position) of the last event read, only events
    whose position is above `above`: a client following it never misses an event that commits late under parallel
    writers (store.read_committed)."""
    return store.read_committed(after=cursor, limit=limit, above=above, reading=True)


# Reads of the log's columns (who, where, what, when), never of its data: counts and latest times that other apps ask
# of the log. Only the store reads the events' data (it upcasts and decrypts), and only this app reads its tables:
# an import-linter contract forbids other apps to import these models (pyproject.toml).


def stored_event_ids(ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these event ids are in the log."""
    return set(Event.objects.filter(id__in=list(ids)).values_list("id", flat=True))


def event_count() -> int:
    return Event.objects.count()


def first_metadata_with_correlation_prefix(prefix: str) -> dict[str, Any] | None:
    """The metadata of the oldest event whose correlation id starts with `prefix` (the demo's anchor)."""
    return (
        Event.objects.filter(metadata__correlation_id__startswith=prefix)
        .order_by("position")
        .values_list("metadata", flat=True)
        .first()
    )


def customers_with_events(*, customer_ids: Iterable[uuid.UUID], channels: Sequence[str]) -> set[uuid.UUID]:
    """The customers among `customer_ids` with any event on one of `channels`."""
    found = (
        Event.objects.filter(customer_id__in=list(customer_ids), channel__in=list(channels))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    # The column is nullable (events with no customer), though the filter on ids never returns a null.
    return {customer_id for customer_id in found if customer_id is not None}


def event_counts_per_customer_and_channel(
    *, customer_ids: Iterable[uuid.UUID], channels: Sequence[str], exclude_types: Iterable[str] = ()
) -> list[tuple[uuid.UUID, str, int]]:
    return list(
        Event.objects.filter(customer_id__in=list(customer_ids), channel__in=list(channels))
        .exclude(type__in=list(exclude_types))
        .values_list("customer_id", "channel")
        .annotate(n=Count("position"))
        .order_by()
    )


def last_occurred_per_customer(
    *, customer_ids: Iterable[uuid.UUID], type: str, channel: str
) -> list[tuple[uuid.UUID, datetime]]:
    """The newest `occurred_at` of an event of `type` on `channel` per customer."""
    newest = (
        Event.objects.filter(customer_id__in=list(customer_ids), type=type, channel=channel)
        .values("customer_id")
        .annotate(last=Max("occurred_at"))
        .values_list("customer_id", "last")
        .order_by()
    )
    return [(customer_id, last) for customer_id, last in newest if customer_id is not None]


def channel_events_since(*, channel: str, type: str, since: datetime) -> tuple[int, datetime | None]:
    """How many events of `type` on `channel` occurred since `since`, and the newest one's time (the channel-and-time
    index answers it)."""
    found = Event.objects.filter(channel=channel, type=type, occurred_at__gte=since).aggregate(
        n=Count("position"), last=Max("occurred_at")
    )
    return found["n"], found["last"]


def projection_checkpoints() -> dict[str, tuple[int, int]]:
    """Each projection's checkpoint as (transaction_id, position) of the last event it read."""
    return {
        name: (transaction_id, position)
        for name, transaction_id, position in ProjectionCheckpoint.objects.values_list(
            "name", "transaction_id", "position"
        )
    }


def projection_checkpoint_stamp(name: str) -> tuple[int, datetime | None]:
    """The position a projection has reached and when it last moved: a key that changes whenever its tables do."""
    return ProjectionCheckpoint.objects.filter(name=name).values_list("position", "updated_at").first() or (0, None)


def unresolved_failures_per_projection() -> dict[str, int]:
    return dict(
        ProjectionFailure.objects.filter(resolved_at__isnull=True).values_list("projection").annotate(count=Count("id"))
    )


def event_id_at(position: int) -> uuid.UUID | None:
    """The id of the event at `position`, or None (a reader's check that the log was not emptied and refilled)."""
    return Event.objects.filter(position=position).values_list("id", flat=True).first()
