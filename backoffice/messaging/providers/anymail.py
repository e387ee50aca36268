"""Email webhooks through django-anymail: its tracking and inbound views for every ESP (`/anymail/<esp>/tracking/`,
`/anymail/<esp>/inbound/`), authenticated by anymail (ANYMAIL["WEBHOOK_SECRET"] basic auth, plus the ESP's own
signature where anymail checks one), parsed by anymail into normalised events, and received here from anymail's
`tracking` and `inbound` signals. Nothing ESP-specific is parsed by hand, but for one thing anymail cannot say: a
soft bounce it reports as `bounced` must not mark the address dead (see BOUNCE_IS_PERMANENT).

The views are anymail's own, wrapped (`urlpatterns`) so that a wrong secret is 401 (anymail says 400), a webhook with
no secret configured refuses everything, a body over the limit is 413, an unusable payload is 400 naming why, and the
events of one request are recorded together or not at all.
"""

import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import inbound, tracking
from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt

from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.vocabulary import Channel

from ..services import UnknownMessage, message_status_record
from ..services.inbound import provider_inbound_receive
from ..vocabulary import DeliveryStatus
from .common import ProviderInputError, aware, problem, too_large, unauthorized

logger = logging.getLogger(__name__)

# anymail's normalised event_type -> our status; queued and sent add nothing to the message.sent we recorded.
TRACKING_STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "opened": DeliveryStatus.READ,
    "clicked": DeliveryStatus.CLICKED,
    "unsubscribed": DeliveryStatus.UNSUBSCRIBED,
    "complained": DeliveryStatus.COMPLAINED,
    "bounced": DeliveryStatus.BOUNCED,
    "rejected": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "deferred": DeliveryStatus.DELAYED,
}
# anymail reject_reason values that say the address itself is dead, or that the person does not want mail.
DEAD_ADDRESS = frozenset({"bounced", "invalid"})
NO_MORE_MAIL = frozenset({"spam", "unsubscribed"})


def _field(esp_event: Any, *path: str) -> Any:
    """esp_event[path[0]][path[1]]..., or None where the payload has no such object."""
    value = esp_event
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _one_of(value: Any, permanent: Collection[str], temporary: Collection[str]) -> bool | None:
    if not isinstance(value, str):
        return None
    return True if value in permanent else False if value in temporary else None


def _sparkpost(esp_event: Any) -> bool | None:
    # SparkPost's bounce classes: Hard (10 invalid recipient, 30 no RCPT); Soft (the 2x, 40, 60, 70, 100).
    events = [value for value in (_field(esp_event, "msys") or {}).values() if isinstance(value, Mapping)]
    bounce_class = str(events[0].get("bounce_class", "")) if len(events) == 1 else ""
    return _one_of(bounce_class, {"10", "30"}, {"20", "21", "22", "23", "24", "40", "60", "70", "100"})


def _mailgun(esp_event: Any) -> bool | None:
    if isinstance(esp_event, Mapping) and "event-data" in esp_event:
        return _one_of(_field(esp_event, "event-data", "severity"), {"permanent"}, {"temporary"})
    return True if _field(esp_event, "event") == "bounced" else None  # legacy webhooks: "bounced" is a hard bounce


# anymail reports some temporary bounces as `bounced` (Brevo's soft_bounce, Mailjet's hard_bounce false, every Amazon
# SES bounce): what each ESP's own payload says of a bounce, read per ESP (anymail's esp_name). True: permanent;
# False: temporary; None: the payload does not say, and a bounce it does not call permanent leaves the address alone.
BOUNCE_IS_PERMANENT: dict[str, Callable[[Any], bool | None]] = {
    "Postmark": lambda e: _one_of(_field(e, "Type"), {"HardBounce"}, {"SoftBounce"}),
    "Brevo": lambda e: _one_of(_field(e, "event"), {"hard_bounce", "invalid_email"}, {"soft_bounce"}),
    "Mailjet": lambda e: hard if isinstance(hard := _field(e, "hard_bounce"), bool) else None,
    "Amazon SES": lambda e: _one_of(_field(e, "bounce", "bounceType"), {"Permanent"}, {"Transient"}),
    "Resend": lambda e: _one_of(_field(e, "data", "bounce", "type"), {"Permanent"}, {"Transient"}),
    "Mailgun": _mailgun,
    "Mandrill": lambda e: _one_of(_field(e, "event"), {"hard_bounce"}, {"soft_bounce"}),
    "MailerSend": lambda e: _one_of(_field(e, "data", "type"), {"hard_bounced"}, {"soft_bounced"}),
    "SparkPost": _sparkpost,
    "SendGrid": lambda e: _one_of(_field(e, "type"), {"bounce"}, {"blocked"}),
    "Unisender Go": lambda e: _one_of(_field(e, "status"), {"hard_bounced"}, {"soft_bounced"}),
    "Mailtrap": lambda e: _one_of(_field(e, "event"), {"bounce"}, {"soft bounce"}),
}
BOUNCE_IS_PERMANENT["SendinBlue"] = BOUNCE_IS_PERMANENT["Brevo"]  # anymail's old name for Brevo's webhook


def bounce_is_permanent(esp_name: str, esp_event: Any) -> bool | None:
    reader = BOUNCE_IS_PERMANENT.get(esp_name)
    return reader(esp_event) if reader is not None else None


@receiver(tracking, dispatch_uid="messaging.anymail.tracking")
def on_tracking(sender, event, esp_name, **kwargs) -> None:
    status = TRACKING_STATUSES.get(event.event_type)
    if status is None:
        return
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    given_id = metadata.get("message_id")
    message_id = None
    if given_id:
        try:
            message_id = uuid.UUID(str(given_id))
        except ValueError:
            # Another system sending through the same ESP account, with its own `message_id` metadata: not ours, so
            # found by the ESP's id if at all. Never refused: that would refuse our events in the same POST too.
            pass
    provider_id = str(event.message_id or "")[:300]
    if message_id is None and not provider_id:
        # Nothing to find it by: another system's mail through the same ESP account (SendGrid's opens and clicks
        # carry neither its smtp-id nor our metadata). Skipped, never refused: a 400 would refuse our own events
        # in the same batch, and the ESP would send the batch again, to the same end, until it gives up.
        logger.info("anymail %s %s event naming no message of ours: ignored", esp_name, event.event_type)
        return
    reason = str(event.reject_reason or event.description or event.mta_response or "")[:500]
    is_permanent = bounce_is_permanent(esp_name, event.esp_event)
    if status == DeliveryStatus.BOUNCED and is_permanent is False:
        status = DeliveryStatus.DELAYED
    if status == DeliveryStatus.BOUNCED:
        # Dead only when the ESP's payload says the bounce is permanent, or anymail that the address is invalid.
        is_dead = event.reject_reason in (None, *DEAD_ADDRESS) and bool(
            is_permanent or event.reject_reason == "invalid"
        )
    else:
        is_dead = status == DeliveryStatus.FAILED and event.reject_reason in DEAD_ADDRESS and is_permanent is not False
    try:
        message_status_record(
            channel=Channel.EMAIL,
            message_id=message_id,
            provider_message_id=provider_id,
            status=status,
            occurred_at=aware(event.timestamp),
            url=str(event.click_url or "")[:2000],
            reason=reason,
            address=str(event.recipient or ""),
            is_undeliverable=is_dead,
            withdraws_marketing=status == DeliveryStatus.FAILED and event.reject_reason in NO_MORE_MAIL,
            source=f"anymail:{esp_name}",
            keep_unmatched=True,
        )
    except UnknownMessage:
        # Mail sent by another system through the same ESP account, or a message since deleted: the ESP expects a
        # 2xx (it would retry for days), so it is acknowledged, and kept a while in case our record of the send
        # commits after it (services.unmatched).
        logger.info("anymail %s %s event for no message of ours yet: kept", esp_name, event.event_type)


@receiver(inbound, dispatch_uid="messaging.anymail.inbound")
def on_inbound(sender, event, esp_name, **kwargs) -> None:
    message = event.message
    if message is None:
        raise ProviderInputError("message", "the inbound event carries no message")
    from_email = message.from_email
    if from_email is None or not from_email.addr_spec:
        raise ProviderInputError("from", "the inbound message has no sender")
    text = (getattr(message, "stripped_text", None) or message.text or "").strip()
    if not text and message.html:
        text = "[html]"
    provider_id = str(event.event_id or message.get("Message-ID") or "").strip()
    if not provider_id:
        raise ProviderInputError("message_id", "the inbound message has no id")
    try:
        provider_inbound_receive(
            channel=Channel.EMAIL,
            provider_message_id=provider_id[:200],
            sender=from_email.addr_spec,
            name=from_email.display_name or "",
            subject=(message.subject or "")[:300],
            text=text[:10000] or "(sin texto)",
            received_at=aware(event.timestamp),
            actor=f"anymail:{esp_name}",
        )
    except EventValidationError as exc:
        first = exc.errors[0]
        raise ProviderInputError(first.field, first.message, first.code) from None


def _guarded(view, *, is_inbound: bool):
    @csrf_exempt
    def guarded(request, *args, **kwargs):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if is_inbound else settings.MESSAGING_PROVIDER_MAX_BODY
        if (refusal := too_large(request, limit)) is not None:
            return refusal
        if request.method == "POST" and not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return unauthorized("no ANYMAIL WEBHOOK_SECRET is configured", challenge='Basic realm="anymail"')
        challenge = 'Basic realm="anymail"'
        try:
            # anymail's own authentication, first and alone: basic auth, and the ESP's signature where it has one.
            # An ESP whose webhook needs a signing key (Mailgun, Mandrill, Postal...) or a package (Amazon SES)
            # not configured here cannot authenticate anything: refused like a wrong secret.
            instance = view.view_class(**view.view_initkwargs)
            instance.setup(request, *args, **kwargs)
            if request.method == "POST":
                instance.run_validators(request)
        except AnymailWebhookValidationFailure:
            return unauthorized("wrong or missing basic auth (ANYMAIL WEBHOOK_SECRET)", challenge=challenge)
        except AnymailConfigurationError:
            detail = "this ESP's webhook is not configured here (its signing key or package is missing)"
            return unauthorized(detail, challenge=challenge)
        try:
            with transaction.atomic():
                return instance.dispatch(request, *args, **kwargs)
        except ProviderInputError as exc:
            return problem(400, "invalid_payload", "Unusable payload", exc.message, field=exc.field, code=exc.code)
        except (ValueError, KeyError, TypeError, AttributeError, AnymailConfigurationError) as exc:
            # anymail parses the ESP's body: malformed JSON or form data, or an event of the other webhook's kind.
            logger.info("anymail webhook refused: %s", type(exc).__name__)
            return problem(
                400,
                "invalid_payload",
                "Unusable payload",
                "the body is not a payload of this ESP webhook",
                field="body",
                code="malformed",
            )

    return guarded


# anymail's own URL patterns and names (reverse("anymail:postmark_tracking_webhook") still works), guarded.
urlpatterns = [
    URLPattern(
        pattern.pattern,
        _guarded(pattern.callback, is_inbound="inbound" in (pattern.name or "")),
        pattern.default_args,
        pattern.name,
    )
    for pattern in anymail_urls.urlpatterns
]
