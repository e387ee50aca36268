"""Reads of messaging: delivery history for the admin and other apps."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backoffice.eventstore import store
from backoffice.eventstore.selectors import channel_events_since
from backoffice.eventstore.vocabulary import Channel, Purpose

from .backends import backend_for
from .events import MessageFailed
from .models import OutboundMessage, ReceivedCallback, Status, StatusCallback
from .vocabulary import NOT_SENT, OUTBOX_PENDING


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


# --- Providers (issue 13) -----------------------------------------------------------------------------------------

# What each backend needs from the environment before it can send (names only: values never leave the environment).
PROVIDER_SETTINGS = {
    "anymail": ("ANYMAIL_ESP_BACKEND",),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
    "meta": ("META_ACCESS_TOKEN", "META_APP_SECRET", "META_VERIFY_TOKEN"),
    "webhook": (),
    "smtp": ("EMAIL_HOST",),
}


@dataclass(frozen=True)
class Webhook:
    """A URL to paste into the provider's console, and how the provider must authenticate when it calls it."""

    label: str
    url: str
    authentication: str


def provider_status(*, channel: str, base_url: str) -> dict:
    """Which provider serves the channel, whether its settings are there, when it last sent and last called us
    back, how many sends failed in the last hour, and the webhooks to configure at the provider."""
    backend = backend_for(channel)
    name = backend.name or type(backend).__name__
    now = timezone.now()
    missing = [setting for setting in PROVIDER_SETTINGS.get(name, ()) if not getattr(settings, setting, "")]
    if (
        name == "twilio"
        and channel in (Channel.SMS, Channel.WHATSAPP)
        and not getattr(settings, f"TWILIO_FROM_{channel.upper()}")
    ):
        missing.append(f"TWILIO_FROM_{channel.upper()}")
    if name == "meta" and channel == Channel.WHATSAPP and not settings.WHATSAPP_PHONE_NUMBER_ID:
        missing.append("WHATSAPP_PHONE_NUMBER_ID")
    if name == "webhook" and not settings.MESSAGING_WEBHOOK_URLS.get(channel):
        missing.append(f"MESSAGING_WEBHOOK_URL_{channel.upper()}")
    last_sent = OutboundMessage.objects.filter(channel=channel, sent_at__isnull=False).aggregate(at=Max("sent_at"))[
        "at"
    ]
    last_callback = StatusCallback.objects.filter(message__channel=channel).aggregate(at=Max("received_at"))["at"]
    # Inbound messages of the last week (the channel-and-time index): enough to see that the webhook works. They are
    # the customers app's `message.received` (a layer above messaging: named by its type name).
    _, last_inbound = channel_events_since(channel=channel, type="message.received", since=now - timedelta(days=7))
    failures, _ = channel_events_since(channel=channel, type=MessageFailed.type_name, since=now - timedelta(hours=1))
    return {
        "channel": channel,
        "provider": name,
        "honours_idempotency_key": backend.honours_idempotency_key,
        "missing_settings": missing,
        "last_sent_at": last_sent,
        "last_callback_at": max([at for at in (last_callback, last_inbound) if at], default=None),
        "failures_last_hour": failures,
        "webhooks": provider_webhooks(channel=channel, provider=name, base_url=base_url),
    }


def provider_webhooks(*, channel: str, provider: str, base_url: str) -> list[Webhook]:
    base = (settings.MESSAGING_PUBLIC_URL or base_url).rstrip("/")
    if provider == "anymail":
        esp = settings.ANYMAIL_ESP_BACKEND.split(".")[-2] if "." in settings.ANYMAIL_ESP_BACKEND else "esp"
        basic = _("HTTP basic auth: https://USER:PASSWORD@... with the value of ANYMAIL_WEBHOOK_SECRET (USER:PASSWORD)")
        return [
            Webhook(
                _("Tracking (delivery, bounce, complaint, open, click, unsubscribe)"),
                f"{base}/anymail/{esp}/tracking/",
                basic,
            ),
            Webhook(_("Inbound email"), f"{base}/anymail/{esp}/inbound/", basic),
            Webhook(
                _("One-click unsubscribe (List-Unsubscribe, set by us on marketing mail)"),
                f"{base}/api/v1/providers/email/unsubscribe/<token>",
                _("a token signed by us in each message: nothing to configure"),
            ),
        ]
    if provider == "twilio":
        signed = _("X-Twilio-Signature, signed by Twilio with the account's auth token (TWILIO_AUTH_TOKEN)")
        return [
            Webhook(
                _("A message comes in (the number or Messaging Service)"),
                f"{base}/api/v1/providers/twilio/messages",
                signed,
            ),
            Webhook(
                _("Status callback URL (also TWILIO_STATUS_CALLBACK_URL)"),
                f"{base}/api/v1/providers/twilio/status",
                signed,
            ),
        ]
    if provider == "meta":
        return [
            Webhook(
                _(
                    "Callback URL of the app's webhook (fields: messages; Messenger and Instagram: messages, "
                    "message_deliveries, message_reads, message_reactions)"
                ),
                f"{base}/api/v1/providers/meta/webhook",
                _(
                    "Verify token: the value of META_VERIFY_TOKEN; POSTs are signed with X-Hub-Signature-256 by the "
                    "app secret (META_APP_SECRET)"
                ),
            )
        ]
    if provider == "webhook":
        signed = _(
            "X-Signature: t=<unix>,v1=<HMAC-SHA256 of '<t>.'+body> with MESSAGING_WEBHOOK_SECRET_%(channel)s"
        ) % {"channel": channel.upper()}
        return [
            Webhook(_("Inbound messages"), f"{base}/api/v1/channels/{channel}/inbound", signed),
            Webhook(_("Delivery callbacks"), f"{base}/api/v1/channels/{channel}/status", signed),
        ]
    return []


def outbox_depth_by_channel_and_status() -> dict[tuple[str, str], int]:
    rows = (
        OutboundMessage.objects.filter(status__in=OUTBOX_PENDING)
        .values_list("channel", "status")
        .annotate(count=Count("id"))
    )
    return {(channel, status): count for channel, status, count in rows}


def outbox_oldest_due(*, now: datetime | None = None) -> datetime | None:
    """When the oldest message that is due now (queued, and not held back by a backoff or quiet hours) became due."""
    now = now or timezone.now()
    queued = OutboundMessage.objects.filter(status=Status.QUEUED)
    held = queued.filter(not_before__isnull=False, not_before__lte=now).aggregate(oldest=Min("not_before"))
    fresh = queued.filter(not_before__isnull=True).aggregate(oldest=Min("created_at"))
    candidates = [value for value in (held["oldest"], fresh["oldest"]) if value is not None]
    return min(candidates) if candidates else None


def received_callbacks_backlog() -> tuple[int, datetime | None]:
    """Status callbacks received and not applied yet (services.received), and when the oldest arrived."""
    backlog = ReceivedCallback.objects.aggregate(count=Count("id"), oldest=Min("received_at"))
    return backlog["count"], backlog["oldest"]


def marketing_messages_since(*, customer_ids: list[uuid.UUID], since: datetime) -> dict[uuid.UUID, int]:
    """Marketing messages each person was sent (or is about to be) since `since`, from every campaign, journey and
    sender, on every channel: what the contact-pressure budget counts."""
    counts = (
        OutboundMessage.objects.filter(customer_id__any=customer_ids, purpose=Purpose.MARKETING, created_at__gt=since)
        .exclude(status__in=NOT_SENT)
        .values_list("customer_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(counts)


def message_delivery(*, message_id) -> tuple[str, str] | None:
    """(status, delivery_status) of one outbound message, or None when there is no such message."""
    return OutboundMessage.objects.filter(id=message_id).values_list("status", "delivery_status").first()


def message_queued_under(*, idempotency_key: str) -> bool:
    """Whether a message was queued under this key (whatever became of it since)."""
    return OutboundMessage.objects.filter(idempotency_key=idempotency_key).exists()


def campaign_messages(*, campaign_ids: list[str], status: str | None = None) -> QuerySet[OutboundMessage]:
    """The messages of these campaigns (optionally in one status), oldest first."""
    messages = OutboundMessage.objects.filter(campaign_id__in=campaign_ids)
    if status is not None:
        messages = messages.filter(status=status)
    return messages.order_by("created_at", "id")
