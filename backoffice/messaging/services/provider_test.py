"""A test message from the admin: straight through the channel's backend to a staff member's own address, outside
the outbox and the event store (it is nobody's customer message), so an operator sees at once whether the provider
takes it."""

import logging
import uuid

from django.utils.translation import gettext as _

from backoffice.eventstore.vocabulary import Purpose

from .. import policy
from ..backends import OutgoingMessage, backend_for
from ..errors import DeliveryError

logger = logging.getLogger(__name__)


def provider_test_send(*, channel: str, address: str, actor: str) -> str:
    """Send a short test message to `address`; return the provider's message id. Raises DeliveryError."""
    address = address.strip()
    if not address:
        raise DeliveryError(_("an address is needed"), is_temporary=False)
    text = _("Test message from the back-office: the provider works.")
    content = {
        "email": {"subject": _("Test message"), "body": text},
        "push": {"title": _("Test message"), "body": text},
    }.get(channel, {"text": text})
    rules = policy.channel_rules(channel)
    message_id = uuid.uuid4()
    outgoing = OutgoingMessage(
        message_id=str(message_id),
        idempotency_key=f"provider-test-{message_id}",
        channel=channel,
        purpose=Purpose.SERVICE,
        to=address,
        content=content,
        sender=rules.sender,
        reply_to=rules.reply_to,
    )
    provider_id = backend_for(channel).send(outgoing)
    logger.info("test message %s on %s sent by %s", message_id, channel, actor)
    return provider_id
