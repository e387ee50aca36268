"""message_send queues in the caller's transaction; the drain sends after commit, once, to whom consent allows."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.services import message_send, messages_drain

from .conftest import event_types, message_events

pytestmark = pytest.mark.django_db


def _send(customer_id, channel="email", purpose="service", content=None, key=None, **extra):
    return message_send(
        customer_id=customer_id,
        channel=channel,
        purpose=purpose,
        content={"subject": "Tu pedido", "body": "Ya está listo"} if content is None else content,
        idempotency_key=key or f"test-{uuid.uuid4()}",
        actor="test",
        **extra,
    )


def test_a_queued_message_is_sent_after_commit_through_the_channels_backend(
    customer, outbox, django_capture_on_commit_callbacks
):
    customer_id = customer(email="ana@example.es")

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = _send(customer_id, order_id="o-1")
        assert OutboundMessage.objects.get().status == Status.QUEUED
        assert outbox == []

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert [m.to for m in outbox] == ["ana@example.es"]
    assert outbox[0].content == {"subject": "Tu pedido", "body": "Ya está listo"}
    assert event_types(message) == ["message.queued", "message.sent"]
    sent = message_events(message)[1]
    assert sent.data["provider_message_id"] == message.provider_message_id != ""
    assert sent.data["order_id"] == "o-1"
    assert sent.customer_id == customer_id
    assert sent.channel == "email"


def test_the_content_is_sealed_in_the_log(customer, outbox):
    message = _send(customer())

    stored = Event.objects.get(type="message.queued").data

    assert "content" not in stored
    assert "Tu pedido" not in str(stored)
    assert message_events(message)[0].data["content"]["subject"] == "Tu pedido"


def test_the_same_idempotency_key_queues_one_message_and_sends_it_once(customer, outbox):
    customer_id = customer()

    first = _send(customer_id, key="order-1-ready")
    second = _send(customer_id, key="order-1-ready")
    messages_drain()

    assert first.id == second.id
    assert OutboundMessage.objects.count() == 1
    assert Event.objects.filter(type="message.queued").count() == 1
    assert len(outbox) == 1


def test_many_messages_queued_in_one_transaction_are_all_sent_after_its_commit(
    customer, outbox, django_capture_on_commit_callbacks
):
    customer_id = customer()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for _ in range(5):
            _send(customer_id, purpose="service")
        assert outbox == []

    assert len(outbox) == 5


def test_a_rolled_back_transaction_leaves_no_message(customer, outbox, django_capture_on_commit_callbacks):
    customer_id = customer()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):  # noqa: PT012
        with transaction.atomic():
            _send(customer_id)
            raise RuntimeError("the caller failed")

    assert OutboundMessage.objects.count() == 0
    assert not Event.objects.filter(type__startswith="message.").exists()
    assert outbox == []


@pytest.mark.parametrize(
    ("channel", "content", "field", "code"),
    [
        ("email", {"body": "sin asunto"}, "content.subject", "required"),
        ("email", {"subject": "  ", "body": "x"}, "content.subject", "required"),
        ("sms", {}, "content.text", "required"),
        ("sms", {"text": "x" * 500}, "content.text", "too_many_segments"),
        ("push", {"title": "Hola"}, "content.body", "required"),
        ("facebook", {"text": "hola", "subject": "x"}, "content.subject", "unknown_field"),
        ("whatsapp", {"template": "pedido_listo"}, "content.parameters", "required"),
        ("whatsapp", {"template": "pedido_listo", "parameters": [1]}, "content.parameters", "invalid"),
        ("fax", {"text": "hola"}, "channel", "unknown_channel"),
    ],
)
def test_a_channel_rule_violation_names_the_field_and_writes_nothing(customer, outbox, channel, content, field, code):
    customer_id = customer()

    with pytest.raises(ChannelRuleError) as refused:
        _send(customer_id, channel=channel, content=content)

    assert (refused.value.field, refused.value.code) == (field, code)
    assert OutboundMessage.objects.count() == 0
    assert not Event.objects.filter(type__startswith="message.").exists()


def test_a_bad_purpose_is_refused_naming_the_field(customer):
    with pytest.raises(ChannelRuleError) as refused:
        _send(customer(), purpose="spam")

    assert refused.value.field == "purpose"


def test_whatsapp_text_needs_the_customer_to_have_written_in_the_last_24_hours(customer, outbox):
    from customers.services import interactions_ingest
    from tests.factories import interaction

    customer_id = customer(phone="+34611222333")
    with pytest.raises(ChannelRuleError) as refused:
        _send(customer_id, channel="whatsapp", content={"text": "¿Te ayudamos?"})
    assert refused.value.field == "content.template"
    assert refused.value.code == "template_required"

    interactions_ingest(
        raw_items=[
            interaction(
                type="message.received",
                channel="whatsapp",
                occurred_at=(timezone.now() - timedelta(hours=2)).isoformat(),
                customer={"phone": "+34611222333"},
                data={"text": "Hola, ¿dónde está mi pedido?"},
            )
        ],
        actor="test",
    )
    message = _send(customer_id, channel="whatsapp", content={"text": "¿Te ayudamos?"})
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert outbox[0].to == "+34611222333"


def test_a_whatsapp_template_goes_out_of_the_window(customer, outbox):
    customer_id = customer(phone="+34611222334")

    message = _send(
        customer_id, channel="whatsapp", content={"template": "pedido_listo", "parameters": ["Ana", "A-123"]}
    )
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert outbox[0].content == {"template": "pedido_listo", "parameters": ["Ana", "A-123"]}


def test_a_batch_queues_every_message_in_one_go_and_skips_keys_already_queued(customer, outbox):
    from backoffice.messaging.services import MessageRequest, messages_send

    customer_id = customer()
    earlier = _send(customer_id, channel="sms", content={"text": "uno"}, key="k-1")
    requests = [
        MessageRequest(customer_id, "sms", "service", {"text": text}, key, campaign_id="c-9")
        for text, key in (("uno", "k-1"), ("dos", "k-2"), ("dos", "k-2"), ("tres", "k-3"))
    ]

    messages = messages_send(messages=requests, actor="test")
    messages_drain()

    assert [m.idempotency_key for m in messages] == ["k-1", "k-2", "k-2", "k-3"]
    assert messages[0].id == earlier.id
    assert Event.objects.filter(type="message.queued").count() == 3
    assert sorted(m.content["text"] for m in outbox) == ["dos", "tres", "uno"]


def test_a_rule_violation_in_a_batch_names_the_message_and_writes_nothing(customer):
    from backoffice.messaging.services import MessageRequest, messages_send

    customer_id = customer()
    requests = [
        MessageRequest(customer_id, "email", "service", {"subject": "Hola", "body": "x"}, "k-a"),
        MessageRequest(customer_id, "email", "service", {"body": "x"}, "k-b"),
    ]

    with pytest.raises(ChannelRuleError) as refused:
        messages_send(messages=requests, actor="test")

    assert (refused.value.index, refused.value.field) == (1, "content.subject")
    assert OutboundMessage.objects.count() == 0
    assert not Event.objects.filter(type__startswith="message.").exists()


def test_the_sms_segment_limit_comes_from_the_channel_settings(customer):
    from backoffice.messaging.models import ChannelSetting

    customer_id = customer()
    ChannelSetting.objects.create(channel="sms", max_sms_segments=1)

    with pytest.raises(ChannelRuleError) as refused:
        _send(customer_id, channel="sms", content={"text": "x" * 161})
    message = _send(customer_id, channel="sms", content={"text": "x" * 160})

    assert refused.value.code == "too_many_segments"
    assert message.status == Status.QUEUED
