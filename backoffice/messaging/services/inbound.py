"""Inbound messages from provider adapters (anymail, Twilio, Meta), handed to customers through
MESSAGING_INBOUND_HOOK: customers resolves the sender, appends to their open case or opens one, and treats STOP as a
revocation (customers.services.inbound). Messaging sits below customers, so it never imports it."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


def provider_inbound_receive(
    *,
    channel: str,
    provider_message_id: str,
    sender: str,
    text: str,
    subject: str = "",
    name: str = "",
    received_at: datetime | None = None,
    is_opt_out: bool = False,
    actor: str,
) -> Any:
    """Record one inbound message once (a provider retrying it changes nothing). Raises EventValidationError naming
    the bad field (`from`, `text`, `received_at`...)."""
    payload: dict[str, Any] = {"provider_message_id": provider_message_id, "from": sender, "text": text}
    if subject:
        payload["subject"] = subject
    if name:
        payload["name"] = name
    if received_at is not None:
        payload["received_at"] = received_at
    if is_opt_out:
        payload["is_opt_out"] = True
    return import_string(settings.MESSAGING_INBOUND_HOOK)(channel=channel, payload=payload, actor=actor)
