"""Sending through the real backends in tests: queue with message_send, drain as a worker does."""

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import message_send, messages_drain

from .conftest import unique_key


def send_and_drain(customer_id, channel: str, content: dict, *, purpose: str = "service", **attribution):
    row = message_send(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        content=content,
        idempotency_key=unique_key(channel),
        actor="test",
        **attribution,
    )
    messages_drain(max_seconds=30)
    return OutboundMessage.objects.get(id=row.id)


def written() -> tuple[int, int]:
    """What a request could have written: events, and outbox rows."""
    return Event.objects.count(), OutboundMessage.objects.count()
