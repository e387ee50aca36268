"""Event types of outbound messages: their life from queued to delivered, on stream `message-<message id>`.

Each carries `message_id`, `purpose` and, when set, `campaign_id` / `case_id` / `order_id` / `variant`, so the
projections of higher layers attribute deliveries without importing messaging. The content and the address are
personal data: sealed with the customer's key, unreadable after erasure, never logged.
"""

from typing import Any, Literal

from pydantic import Field

from backoffice.eventstore.schema import EventData
from backoffice.eventstore.vocabulary import OUTBOUND_CHANNELS as OUTBOUND_CHANNELS  # re-exported

Purpose = Literal["marketing", "service"]
OutboundChannel = Literal["email", "sms", "whatsapp", "push", "facebook", "instagram"]
# What we sent and how the pipeline handled it: not the customer engaging (reading, clicking, writing is). The one
# list that activity counts, channel engagement and "last interaction" leave out.
NOT_ENGAGEMENT_TYPES: frozenset[str] = frozenset(
    {
        "message.queued",
        "message.sent",
        "message.failed",
        "message.suppressed",
        "message.deferred",
        "message.delivered",
        "message.bounced",
    }
)


class _MessageEvent(EventData):
    message_id: str
    purpose: Purpose
    campaign_id: str | None = None
    case_id: str | None = None
    order_id: str | None = None
    variant: str | None = None


class MessageQueued(_MessageEvent):
    type_name = "message.queued"
    personal_fields = ("content",)

    idempotency_key: str = Field(max_length=200)
    content: dict[str, Any]


class MessageSent(_MessageEvent):
    """The provider accepted the message. `to` is the address it went to (personal)."""

    type_name = "message.sent"
    personal_fields = ("to",)

    provider_message_id: str = Field(default="", max_length=300)
    to: str = Field(default="", max_length=300)
    attempt: int = Field(ge=1)
    backend: str = Field(default="", max_length=40)


class MessageFailed(_MessageEvent):
    """An attempt failed. `terminal`: no more attempts will be made (refused for good, attempts exhausted, or the
    outcome is unknown and the message is held for manual review)."""

    type_name = "message.failed"

    reason: str = Field(max_length=500)
    terminal: bool
    attempt: int = Field(default=0, ge=0)


class MessageSuppressed(_MessageEvent):
    """Not sent, on purpose: no_consent, no_address, channel_disabled, customer_erased, whatsapp_window_closed."""

    type_name = "message.suppressed"

    reason: str = Field(max_length=100)


class MessageDeferred(_MessageEvent):
    """Held until `until` (quiet hours in the customer's local time), then sent: deferred, never dropped."""

    type_name = "message.deferred"

    until: str
    reason: str = Field(max_length=100)


class _StatusEvent(_MessageEvent):
    """A provider's delivery callback (POST /api/v1/channels/{channel}/status)."""

    provider_message_id: str = Field(default="", max_length=300)
    # The message had this status already (a second open, another click): the log keeps every one, and figures that
    # count messages ("opened", "clicked") count the first only.
    is_repeat: bool = False


class MessageDelivered(_StatusEvent):
    type_name = "message.delivered"


class MessageRead(_StatusEvent):
    type_name = "message.read"


class MessageClicked(_StatusEvent):
    type_name = "message.clicked"

    url: str = Field(default="", max_length=2000)


class MessageBounced(_StatusEvent):
    type_name = "message.bounced"

    reason: str = Field(default="", max_length=500)


class MessageUnsubscribed(_StatusEvent):
    """The recipient used the message's unsubscribe link or button (customers turns it into a revocation)."""

    type_name = "message.unsubscribed"


class MessageComplained(_StatusEvent):
    """The recipient marked the message as spam (an ESP's feedback loop): customers withdraws email marketing."""

    type_name = "message.complained"


class MessageDelayed(_StatusEvent):
    """The provider could not deliver yet and keeps trying (a soft bounce, a deferral): nothing to do but wait."""

    type_name = "message.delayed"

    reason: str = Field(default="", max_length=500)


class MessageReacted(_StatusEvent):
    """The recipient reacted to the message (WhatsApp, Messenger, Instagram): engagement, never a case."""

    type_name = "message.reacted"

    emoji: str = Field(default="", max_length=32)
