"""Inbound messages from provider adapters (anymail, Twilio, Meta), handed to customers through
MESSAGING_INBOUND_HOOK: customers resolves the sender, appends to their open case or opens one, and treats STOP as a
revocation (customers.services.inbound). Messaging sits below customers, so it never imports it.

What a provider classified (Twilio's OptOutType, Meta's user_preferences) goes to the same hook as `classified_as`
(vocabulary.InboundClassification); an ordinary message goes without it, so the hook's contract for those is the
public webhook's."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..vocabulary import InboundClassification


def provider_inbound_receive(
    *,
    channel: str,
    provider_message_id: str,
    sender: str,
    text: str,
    subject: str = "",
    name: str = "",
    received_at: datetime | None = None,
    classified_as: InboundClassification | None = None,
    actor: str,
) -> Any:
    """Record one inbound message once (a provider retrying it changes nothing). `classified_as`: what the provider
    made of it (an opt-out, an opt-in, a request for help). Raises EventValidationError naming the bad field
    (`from`, `text`, `received_at`...)."""
    payload: dict[str, Any] = {"provider_message_id": provider_message_id, "from": sender, "text": text}
    if subject:
        payload["subject"] = subject
    if name:
        payload["name"] = name
    if received_at is not None:
        payload["received_at"] = received_at
    if classified_as == InboundClassification.OPT_OUT:
        payload["is_opt_out"] = True  # as the public webhook says it
        classified_as = None
    extra = {"classified_as": classified_as} if classified_as else {}
    return import_string(settings.MESSAGING_INBOUND_HOOK)(channel=channel, payload=payload, actor=actor, **extra)


def provider_marketing_stopped(
    *, channel: str, reference: str, sender: str, occurred_at: datetime | None, actor: str
) -> Any:
    """The person stopped marketing messages in the provider's app (no message was sent): customers withdraws
    marketing on the channel of the customer `sender` names, once per `reference` (a resend changes nothing)."""
    payload: dict[str, Any] = {"provider_message_id": reference, "from": sender}
    if occurred_at is not None:
        payload["received_at"] = occurred_at
    return import_string(settings.MESSAGING_INBOUND_HOOK)(
        channel=channel, payload=payload, actor=actor, classified_as=InboundClassification.MARKETING_STOPPED
    )
