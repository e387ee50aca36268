"""Reads of messaging: delivery history for the admin and other apps."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from backoffice.eventstore import store

from .backends import backend_for
from .models import OutboundMessage, Status


def message_events(*, message: OutboundMessage) -> list[store.RecordedEvent]:
    """Every event of one message, oldest first (content and address readable unless the customer was erased)."""
    return store.read_stream(message.stream)


def messages_search(*, queryset: QuerySet[OutboundMessage], term: str) -> QuerySet[OutboundMessage]:
    """By message or customer id, provider message id, idempotency key, or campaign, case or order id."""
    term = term.strip()
    if not term:
        return queryset
    try:
        as_uuid = uuid.UUID(term)
    except ValueError:
        as_uuid = None
    match = (
        Q(provider_message_id=term) | Q(idempotency_key=term) | Q(campaign_id=term) | Q(case_id=term) | Q(order_id=term)
    )
    if as_uuid is not None:
        match |= Q(id=as_uuid) | Q(customer_id=as_uuid)
    return queryset.filter(match)


def channel_health(*, channel: str) -> dict:
    """What an operator checks first: the backend in use, whether it is configured, and the queue by status."""
    since = timezone.now() - timedelta(hours=24)
    counts = OutboundMessage.objects.filter(channel=channel).aggregate(
        queued=Count("id", filter=Q(status=Status.QUEUED)),
        sending=Count("id", filter=Q(status=Status.SENDING)),
        deferred=Count("id", filter=Q(status=Status.DEFERRED)),
        review=Count("id", filter=Q(status=Status.REVIEW)),
        sent_24h=Count("id", filter=Q(status=Status.SENT, sent_at__gte=since)),
        failed_24h=Count("id", filter=Q(status=Status.FAILED, updated_at__gte=since)),
        suppressed_24h=Count("id", filter=Q(status=Status.SUPPRESSED, updated_at__gte=since)),
    )
    backend = backend_for(channel)
    return {
        "backend": backend.name or type(backend).__name__,
        "honours_idempotency_key": backend.honours_idempotency_key,
        "webhook_url": settings.MESSAGING_WEBHOOK_URLS.get(channel, ""),
        "has_webhook_secret": bool(settings.MESSAGING_WEBHOOK_SECRETS.get(channel)),
        **counts,
    }
