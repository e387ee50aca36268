"""The shared words are defined once (backoffice.eventstore.vocabulary); the event schemas' Literal types, which
pydantic validates against, must say exactly the same values."""

import json
from typing import get_args

from backoffice.eventstore import vocabulary
from backoffice.eventstore.vocabulary import (
    CHANNELS,
    CONSENT_CHANNELS,
    OUTBOUND_CHANNELS,
    Channel,
    FulfilmentMethod,
    Purpose,
    SuppressionReason,
)
from customers.vocabulary import IdentifierKind


def test_event_schemas_literals_say_the_vocabularys_values():
    from backoffice.messaging import events as messaging_events
    from campaigns import events as campaign_events
    from customers import events as customer_events
    from orders import events as order_events

    assert get_args(messaging_events.OutboundChannel) == OUTBOUND_CHANNELS
    assert get_args(campaign_events.OutboundChannel) == OUTBOUND_CHANNELS
    assert get_args(customer_events.ConsentChannel) == CONSENT_CHANNELS
    assert get_args(messaging_events.Purpose) == tuple(Purpose)
    assert get_args(customer_events.ConsentPurpose) == tuple(Purpose)
    assert get_args(order_events.FulfilmentMethod) == tuple(FulfilmentMethod)
    assert get_args(customer_events.IdentifierKind) == tuple(IdentifierKind)


def test_the_constants_other_apps_import_are_the_vocabularys():
    from backoffice.eventstore import schema
    from backoffice.messaging import events as messaging_events
    from campaigns import models as campaign_models
    from campaigns import segments
    from campaigns.journeys import definition
    from customers import wording
    from orders.services import orders

    assert schema.CHANNELS is CHANNELS == tuple(Channel)
    assert messaging_events.OUTBOUND_CHANNELS is OUTBOUND_CHANNELS
    assert campaign_models.OUTBOUND_CHANNELS is OUTBOUND_CHANNELS
    assert definition.OUTBOUND_CHANNELS is OUTBOUND_CHANNELS
    assert segments.ANY_CHANNELS is CHANNELS
    assert orders.FULFILMENT_METHODS == ("ship", "pickup", "counter")
    assert set(wording.SUPPRESSION_REASONS) == set(SuppressionReason)
    assert set(wording.CHANNEL_LABELS) >= set(Channel)
    assert set(wording.IDENTIFIER_LABELS) == set(IdentifierKind)


def test_members_are_their_strings_in_json_and_comparisons():
    assert json.dumps({"channel": Channel.EMAIL, "purpose": Purpose.MARKETING}) == (
        '{"channel": "email", "purpose": "marketing"}'
    )
    assert Channel.WHATSAPP == "whatsapp"
    assert "sms" in OUTBOUND_CHANNELS
    assert {m.value for m in SuppressionReason} == {
        "no_consent",
        "no_address",
        "channel_disabled",
        "customer_erased",
        "whatsapp_window_closed",
        "quiet_hours",
        "campaign_cancelled",
    }
    assert vocabulary.__doc__


def test_every_delivery_status_has_its_event_and_its_rank():
    from backoffice.messaging.services import status
    from backoffice.messaging.vocabulary import DeliveryStatus

    assert set(status.STATUS_EVENTS) == set(DeliveryStatus)
    assert set(status._RANK) == set(DeliveryStatus)
    assert set(status.GENERIC_STATUSES) <= set(DeliveryStatus)
