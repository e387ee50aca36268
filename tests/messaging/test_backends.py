"""Backends against real peers on loopback: an SMTP server (aiosmtpd) and an HTTP provider."""

import socket
import uuid
from email import message_from_bytes
from email.policy import default

import orjson
import pytest
from aiosmtpd.controller import Controller

from backoffice.messaging import signing
from backoffice.messaging.backends import OutgoingMessage
from backoffice.messaging.backends.local import FileBackend
from backoffice.messaging.backends.webhook import WebhookBackend
from backoffice.messaging.errors import DeliveryError
from backoffice.messaging.models import ChannelSetting, Status
from backoffice.messaging.services import message_send, messages_drain

from .conftest import message_events
from .provider import LoopbackProvider

pytestmark = pytest.mark.django_db


class _Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "email": "smtp"}
    yield inbox
    controller.stop()


@pytest.fixture
def provider(settings):
    running = LoopbackProvider().start()
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "whatsapp": "webhook", "sms": "webhook"}
    settings.MESSAGING_WEBHOOK_URLS = {**settings.MESSAGING_WEBHOOK_URLS, "whatsapp": running.url, "sms": running.url}
    yield running
    running.stop()


def test_smtp_delivers_the_email_to_a_real_server_with_the_channels_sender(customer, smtp_server):
    customer_id = customer(email="ana@example.es")
    ChannelSetting.objects.create(channel="email", sender="tienda@example.es", reply_to="ayuda@example.es")

    message = message_send(
        customer_id=customer_id,
        channel="email",
        purpose="service",
        content={"subject": "Tu pedido está listo", "body": "Recógelo en la tienda de Sol."},
        idempotency_key="order-7-ready",
        actor="test",
    )
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.SENT
    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "tienda@example.es"
    assert envelope.rcpt_tos == ["ana@example.es"]
    email = message_from_bytes(envelope.content, policy=default)
    assert email["Subject"] == "Tu pedido está listo"
    assert email.get_content().strip() == "Recógelo en la tienda de Sol."
    assert email["Reply-To"] == "ayuda@example.es"
    assert email["Message-ID"] == message.provider_message_id
    assert message.provider_message_id == f"<{message.id}@backoffice.example>"


def test_smtp_unreachable_is_a_temporary_failure(customer, settings):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "email": "smtp"}
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()  # nobody listens there

    message = message_send(
        customer_id=customer(),
        channel="email",
        purpose="service",
        content={"subject": "Hola", "body": "x"},
        idempotency_key=f"k-{uuid.uuid4()}",
        actor="test",
    )
    messages_drain()

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.reason.startswith("smtp unavailable")
    assert message_events(message)[-1].data["terminal"] is False


def test_the_webhook_backend_signs_the_request_and_stores_the_provider_message_id(customer, provider, settings):
    customer_id = customer(phone="+34611222999")

    message = message_send(
        customer_id=customer_id,
        channel="whatsapp",
        purpose="service",
        content={"template": "pedido_listo", "parameters": ["A-1"]},
        idempotency_key="order-1-ready-wa",
        actor="test",
        order_id="A-1",
    )
    messages_drain()

    message.refresh_from_db()
    [request] = provider.requests
    assert message.status == Status.SENT
    assert message.provider_message_id == provider.accepted["order-1-ready-wa"]
    assert request.idempotency_key == "order-1-ready-wa"
    signing.verify("whatsapp", request.body, request.headers)  # raises if the signature is wrong
    body = orjson.loads(request.body)
    assert body["to"] == "+34611222999"
    assert body["content"] == {"template": "pedido_listo", "parameters": ["A-1"]}
    assert body["tags"] == {"order_id": "A-1"}
    assert message_events(message)[-1].data["provider_message_id"] == message.provider_message_id


def test_the_webhook_backend_times_out_cleanly_as_a_temporary_failure(provider, settings):
    settings.MESSAGING_WEBHOOK_TIMEOUT = 0.2
    provider.delay = 1.0
    outgoing = OutgoingMessage(
        message_id="m-1", idempotency_key="k-1", channel="sms", purpose="service", to="+34600000000", content={}
    )

    with pytest.raises(DeliveryError) as failed:
        WebhookBackend().send(outgoing)

    assert failed.value.reason == "provider timed out"
    assert failed.value.is_temporary


def test_a_signature_from_another_secret_does_not_verify(provider):
    outgoing = OutgoingMessage(
        message_id="m-2", idempotency_key="k-2", channel="sms", purpose="service", to="+34600000000", content={}
    )
    WebhookBackend().send(outgoing)

    with pytest.raises(signing.SignatureInvalid):
        signing.verify("whatsapp", provider.requests[0].body, provider.requests[0].headers)


def test_the_file_backend_writes_one_file_per_idempotency_key(settings, tmp_path):
    settings.MESSAGING_FILE_DIR = tmp_path
    outgoing = OutgoingMessage(
        message_id="m-3", idempotency_key="k-3", channel="sms", purpose="service", to="+34600000000", content={}
    )

    first = FileBackend().send(outgoing)
    second = FileBackend().send(outgoing)

    assert first == second
    assert len(list((tmp_path / "sms").iterdir())) == 1
