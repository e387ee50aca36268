"""The words every app shares, defined once: channels, purposes, fulfilment methods, why a message was not sent.

StrEnums, so a member is its string everywhere a string is expected (JSON, the database, comparisons with "email"),
and a typo in the code is an AttributeError instead of a silent miss. Event schemas (pydantic) keep `Literal` types
for their fields, which state the same values; `tests/eventstore/test_vocabulary.py` holds each equal to its enum.
Statuses of a table's rows are Django `TextChoices` (also str enums) in their app's `vocabulary` module.
"""

from enum import StrEnum
from typing import Final

from django.utils.translation import gettext_lazy


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
    CAMPAIGN_CANCELLED = "campaign_cancelled"  # withdrawn by its sender before any provider had it


# How staff read these words, in their language: every page, chart and admin list names them so (customers.wording
# reads them too). Here, with the words, so an app below the customers app (messaging's admin) names them alike.
CHANNEL_LABELS = {
    Channel.WEB: gettext_lazy("Web"),
    Channel.APP: gettext_lazy("App"),
    Channel.STORE: gettext_lazy("Store"),
    Channel.PHONE: gettext_lazy("Phone"),
    Channel.EMAIL: gettext_lazy("Email"),
    Channel.SMS: gettext_lazy("SMS"),
    Channel.WHATSAPP: gettext_lazy("WhatsApp"),
    Channel.FACEBOOK: gettext_lazy("Facebook"),
    Channel.INSTAGRAM: gettext_lazy("Instagram"),
    Channel.PUSH: gettext_lazy("Push notification"),
}

FULFILMENT_LABELS = {
    FulfilmentMethod.SHIP: gettext_lazy("Shipping"),
    FulfilmentMethod.PICKUP: gettext_lazy("Pickup in store"),
    FulfilmentMethod.COUNTER: gettext_lazy("Sold at the till"),
}

PURPOSE_LABELS = {
    Purpose.MARKETING: gettext_lazy("Offers and news"),
    Purpose.SERVICE: gettext_lazy("Orders and service"),
}

# Why the pipeline did not send, as staff would say it.
SUPPRESSION_REASONS = {
    SuppressionReason.NO_CONSENT: gettext_lazy("no consent for this channel"),
    SuppressionReason.NO_ADDRESS: gettext_lazy("no address for this channel"),
    SuppressionReason.CHANNEL_DISABLED: gettext_lazy("the channel is switched off"),
    SuppressionReason.CUSTOMER_ERASED: gettext_lazy("the customer's data was erased"),
    SuppressionReason.WHATSAPP_WINDOW_CLOSED: gettext_lazy("the 24-hour WhatsApp window had closed"),
    SuppressionReason.QUIET_HOURS: gettext_lazy("quiet hours"),
    SuppressionReason.CAMPAIGN_CANCELLED: gettext_lazy("the campaign was cancelled"),
}
