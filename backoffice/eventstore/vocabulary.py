"""The words every app shares, defined once: channels, purposes, fulfilment methods, why a message was not sent.

StrEnums, so a member is its string everywhere a string is expected (JSON, the database, comparisons with "email"),
and a typo in the code is an AttributeError instead of a silent miss. Event schemas (pydantic) keep `Literal` types
for their fields, which state the same values; `tests/eventstore/test_vocabulary.py` holds each equal to its enum.
Statuses of a table's rows are Django `TextChoices` (also str enums) in their app's `vocabulary` module.
"""

from enum import StrEnum
from typing import Final


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    STORE = "store"
    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    PUSH = "push"


# Every channel an interaction can come from, in the order pages list them.
CHANNELS: Final[tuple[str, ...]] = tuple(Channel)
# The channels we send messages on (campaigns, journeys, service notifications), in order of preference.
OUTBOUND_CHANNELS: Final[tuple[str, ...]] = (
    Channel.EMAIL,
    Channel.SMS,
    Channel.WHATSAPP,
    Channel.PUSH,
    Channel.FACEBOOK,
    Channel.INSTAGRAM,
)
# A consent is given per channel we send on, and for calls.
CONSENT_CHANNELS: Final[tuple[str, ...]] = (*OUTBOUND_CHANNELS, Channel.PHONE)


class Purpose(StrEnum):
    """Why we contact someone: marketing needs an explicit grant; service (their orders and cases) does not."""

    MARKETING = "marketing"
    SERVICE = "service"


class FulfilmentMethod(StrEnum):
    SHIP = "ship"
    PICKUP = "pickup"
    COUNTER = "counter"


class SuppressionReason(StrEnum):
    """Why the pipeline did not send a message (a code on the message and its event, never personal data)."""

    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    CHANNEL_DISABLED = "channel_disabled"
    CUSTOMER_ERASED = "customer_erased"
    WHATSAPP_WINDOW_CLOSED = "whatsapp_window_closed"
    QUIET_HOURS = "quiet_hours"
