"""Messaging's vocabulary: where an outbound message stands, and what a provider said became of it.

Kept apart from the models so that other apps can name a status without importing messaging's models (an
import-linter contract forbids that: pyproject.toml).
"""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    SUPPRESSED = "suppressed", _("suppressed")
    DEFERRED = "deferred", _("deferred")
    REVIEW = "review", _("needs review")


# Statuses of messages still to be sent (the outbox's depth).
OUTBOX_PENDING = (Status.QUEUED, Status.DEFERRED, Status.SENDING, Status.REVIEW)
# Statuses of messages that never reached the person (they do not count against their contact-pressure budget).
NOT_SENT = (Status.SUPPRESSED, Status.FAILED)


class DeliveryStatus(StrEnum):
    """What a provider said became of a sent message: a status callback's status, and the furthest one reached is the
    message's `delivery_status` (a summary column without choices, so a plain StrEnum: staff never pick one)."""

    DELAYED = "delayed"
    DELIVERED = "delivered"
    READ = "read"
    REACTED = "reacted"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    FAILED = "failed"
    COMPLAINED = "complained"


class InboundClassification(StrEnum):
    """What a provider itself made of something a person did on its channel, handed to customers' inbound hook
    (MESSAGING_INBOUND_HOOK, `classified_as`) by the provider doors, never by the public webhook:
    - OPT_OUT: the message is an opt-out (Twilio's Advanced Opt-Out OptOutType=STOP): marketing withdrawn;
    - OPT_IN: the person re-subscribed at the provider (OptOutType=START: START, YES, UNSTOP): marketing granted;
    - HELP: the provider answered it itself (OptOutType=HELP): recorded, no case opened;
    - MARKETING_STOPPED: not a message: the person stopped marketing messages in the app (WhatsApp's "Stop
      promotions", Meta's user_preferences webhook): marketing withdrawn, nothing recorded as a message (a message
      would open WhatsApp's 24-hour window)."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    MARKETING_STOPPED = "marketing_stopped"


# A delivery status as staff read it (the admin's list and filter); in its own context, as "read" in a campaign's
# figures is a count ("leídos") and here a state ("leído").
DELIVERY_LABELS = {
    DeliveryStatus.DELAYED: pgettext_lazy("delivery status", "delayed"),
    DeliveryStatus.DELIVERED: pgettext_lazy("delivery status", "delivered"),
    DeliveryStatus.READ: pgettext_lazy("delivery status", "read"),
    DeliveryStatus.REACTED: pgettext_lazy("delivery status", "reacted"),
    DeliveryStatus.CLICKED: pgettext_lazy("delivery status", "clicked"),
    DeliveryStatus.UNSUBSCRIBED: pgettext_lazy("delivery status", "unsubscribed"),
    DeliveryStatus.BOUNCED: pgettext_lazy("delivery status", "bounced"),
    DeliveryStatus.FAILED: pgettext_lazy("delivery status", "delivery failed"),
    DeliveryStatus.COMPLAINED: pgettext_lazy("delivery status", "marked as spam"),
}
