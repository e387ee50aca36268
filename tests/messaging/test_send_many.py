"""message_send_many: a batch of messages queued with the checks and idempotency of message_send, in one append."""

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import MessageRequest, message_send, message_send_many

pytestmark = pytest.mark.django_db


def request(customer_id, key, channel="email", **content):
    content = content or ({"subject": "Hola", "body": "Rebajas"} if channel == "email" else {"text": "Rebajas"})
    return MessageRequest(
        customer_id=customer_id,
        channel=channel,
        purpose="marketing",
        content=content,
        idempotency_key=key,
        actor="test",
        campaign_id="c-1",
        variant=channel,
    )


def test_a_batch_is_queued_once_per_key_and_again_changes_nothing(customer):
    ana, luis = customer(), customer()
    already = message_send(
        customer_id=ana, channel="sms", purpose="marketing", content={"text": "Hola"}, idempotency_key="k-0", actor="t"
    )
    batch = [request(ana, "k-0", "sms"), request(ana, "k-1"), request(luis, "k-2", "sms"), request(luis, "k-2", "sms")]

    first = message_send_many(batch)
    again = message_send_many(batch)

    assert first[0].id == already.id
    assert first[2].id == first[3].id
    assert [m.id for m in again] == [m.id for m in first]
    assert OutboundMessage.objects.count() == 3
    assert Event.objects.filter(type="message.queued").count() == 3
    assert OutboundMessage.objects.get(idempotency_key="k-1").campaign_id == "c-1"


def test_a_rule_broken_anywhere_names_its_index_and_writes_nothing(customer):
    ana = customer()
    batch = [request(ana, "k-1"), request(ana, "k-2", "sms", text="x" * 2000)]

    with pytest.raises(ChannelRuleError) as caught:
        message_send_many(batch)

    assert caught.value.field == "1.content.text"
    assert not OutboundMessage.objects.exists()
    assert not Event.objects.filter(type="message.queued").exists()
