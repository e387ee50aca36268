"""customers.reachability: the recipient policy messaging asks, and the channel selectors other apps use."""

import pytest
from django.utils import timezone

from backoffice.messaging.models import ChannelSetting
from backoffice.messaging.services.channel_settings import channel_setting_save
from customers.models import CustomerIdentifier
from customers.reachability import RecipientPolicy, customer_preferred_channel, customer_reachable_channels
from customers.services import interactions_ingest
from tests.factories import interaction

pytestmark = pytest.mark.django_db


def _interactions(email: str, channel: str, count: int, type_: str = "message.received") -> None:
    items = [
        interaction(
            type=type_,
            channel=channel,
            customer={"email": email},
            occurred_at=timezone.now().isoformat(),
            data={"text": "hola"} if type_ == "message.received" else {"url": "https://tienda.example/"},
        )
        for _ in range(count)
    ]
    interactions_ingest(raw_items=items, actor="test")


def test_reachable_channels_need_an_address_and_consent_and_come_most_engaged_first(customer, grant):
    customer_id = customer(email="eva@example.es", phone="+34611333444")
    for channel in ("email", "sms", "whatsapp", "push"):
        grant(customer_id, channel)
    _interactions("eva@example.es", "whatsapp", 3)
    _interactions("eva@example.es", "sms", 1)

    channels = customer_reachable_channels(customer_id=customer_id, purpose="marketing")

    # push: no app use, so no address; facebook and instagram: no id.
    assert channels == ["whatsapp", "sms", "email"]
    assert customer_preferred_channel(customer_id=customer_id, purpose="marketing") == "whatsapp"


@pytest.mark.parametrize("closed_by", ["withdrawal", "operations"])
def test_service_messages_reach_every_channel_with_an_address_until_withdrawn_or_switched_off(
    customer, grant, closed_by
):
    customer_id = customer(email="leo@example.es", phone="+34611333445")
    assert customer_reachable_channels(customer_id=customer_id, purpose="service") == ["email", "sms", "whatsapp"]

    if closed_by == "withdrawal":
        grant(customer_id, "sms", purpose="service", granted=False)
    else:  # what the drain suppresses as channel_disabled
        channel_setting_save(setting=ChannelSetting(channel="sms", is_enabled=False), actor="test")

    assert customer_reachable_channels(customer_id=customer_id, purpose="service") == ["email", "whatsapp"]


def test_nobody_is_reachable_for_marketing_without_a_grant(customer):
    customer_id = customer()

    assert customer_reachable_channels(customer_id=customer_id, purpose="marketing") == []
    assert customer_preferred_channel(customer_id=customer_id, purpose="marketing") is None


def test_app_users_are_reachable_by_push(customer):
    customer_id = customer(email="app@example.es", phone=None)
    _interactions("app@example.es", "app", 1, type_="page.viewed")

    assert RecipientPolicy().address(customer_id, "push") == f"customer:{customer_id}"
    assert "push" in customer_reachable_channels(customer_id=customer_id, purpose="service")


def test_the_policy_answers_one_by_one_as_in_a_batch(customer, grant, settings):
    customer_id = customer(email="uno@example.es", phone="+34611333446")
    grant(customer_id, "email")
    policy = RecipientPolicy()
    now = timezone.now()

    assert policy.address(customer_id, "email") == "uno@example.es"
    assert policy.address(customer_id, "sms") == "+34611333446"
    assert policy.address(customer_id, "facebook") is None
    assert policy.allows(customer_id, "email", "marketing", now) is True
    assert policy.allows(customer_id, "sms", "marketing", now) is False
    assert policy.time_zone(customer_id) == settings.TIME_ZONE
    assert policy.last_inbound_at(customer_id, "whatsapp") is None


@pytest.mark.parametrize(
    ("channel", "address", "key"),
    [
        ("email", "  Eva@Example.ES ", "email:eva@example.es"),
        ("sms", "+34 611 33 34 44", "phone:+34611333444"),
        ("whatsapp", "34611333444", "phone:+34611333444"),  # WhatsApp's wa_id: no +
        ("facebook", "7102938475", "facebook_id:7102938475"),
        ("email", "not an address", ""),
        ("sms", "12", ""),
        ("push", "device-token", ""),  # no identifier kind on that channel
    ],
)
def test_a_provider_address_maps_to_the_key_the_directory_holds_it_under(channel, address, key):
    assert RecipientPolicy().identifier_key(channel, address) == key


def test_the_key_of_a_provider_address_is_the_one_its_customer_was_registered_under(customer):
    customer_id = customer(email="eva@example.es", phone="+34611333444")

    held = set(CustomerIdentifier.objects.filter(customer_id=customer_id).values_list("key", flat=True))
    assert RecipientPolicy().identifier_key("whatsapp", "34611333444") in held
    assert RecipientPolicy().identifier_key("email", "EVA@example.es") in held
