"""Tracking sources and their write keys: created (the key is shown once), revoked, recognised on each call."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from backoffice.eventstore.schema import CHANNELS
from orders.selectors import location_get

from ..models import TrackingSource


class SourceRefused(Exception):
    def __init__(self, field: str, message: str, code: str):
        self.field, self.code = field, code
        super().__init__(message)


@dataclass(frozen=True)
class NewSource:
    source: TrackingSource
    write_key: str


def key_hash(write_key: str) -> str:
    return hashlib.sha256(write_key.encode()).hexdigest()


def tracking_source_create(*, name: str, channel: str, user_id_system: str = "", order_location: str = "") -> NewSource:
    """A new source with a fresh write key (returned once: only its hash is kept). A revoked source of the same
    name gets a new key and is active again. `order_location`: only for a shop with no platform webhook, its
    `Order Completed` events place orders shipped from there (services.tracking_orders)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise SourceRefused("name", "1 to 100 characters", "invalid")
    if channel not in CHANNELS:
        raise SourceRefused("channel", f"one of {', '.join(CHANNELS)}", "invalid_choice")
    if order_location and location_get(code=order_location) is None:
        raise SourceRefused("order_location", f"no location {order_location!r}", "unknown_location")
    write_key = secrets.token_urlsafe(32)
    with transaction.atomic():
        source = TrackingSource.objects.select_for_update().filter(name=name).first()
        if source is not None and source.is_active:
            raise SourceRefused("name", f"a source named {name!r} exists; revoke it first to get a new key", "exists")
        source = source or TrackingSource(name=name)
        source.channel = channel
        source.user_id_system = (user_id_system or source.user_id_system or name)[:50]
        source.key_hash = key_hash(write_key)
        source.key_prefix = write_key[:6]
        source.order_location = order_location
        source.is_active, source.revoked_at = True, None
        source.save()
    return NewSource(source, write_key)


def tracking_source_revoke(*, name: str | None = None, source_id: uuid.UUID | None = None) -> TrackingSource:
    """Its key stops working at once; the source and its counters stay."""
    with transaction.atomic():
        found = TrackingSource.objects.select_for_update().filter(
            **({"name": name} if source_id is None else {"id": source_id})
        )
        source = found.first()
        if source is None:
            raise SourceRefused("name", "no such source", "not_found")
        if source.is_active:
            source.is_active, source.revoked_at = False, timezone.now()
            source.save(update_fields=["is_active", "revoked_at"])
    return source


def tracking_source_for_key(write_key: str) -> TrackingSource | None:
    if not write_key:
        return None
    return TrackingSource.objects.filter(key_hash=key_hash(write_key), is_active=True).first()


def tracking_source_count(*, source_id: uuid.UUID, events: int) -> None:
    """Last seen now; `events` more today (the day restarts the count). One statement, in the caller's transaction."""
    now = timezone.now()
    today = timezone.localdate(now)
    TrackingSource.objects.filter(id=source_id).update(
        last_seen_at=now,
        events_today=Case(When(events_day=today, then=F("events_today") + events), default=Value(events)),
        events_day=today,
        events_total=F("events_total") + events,
    )
