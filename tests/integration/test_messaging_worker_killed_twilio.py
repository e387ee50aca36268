"""The kill test again with a real provider backend: 2,000 SMS through the Twilio backend (the `twilio` library,
pointed at a loopback Messages API by TWILIO_BASE_URL), a worker SIGKILLed while the provider holds a message it
accepted, then restarted: every message reaches the provider exactly once, none is lost or recorded as sent twice.

The loopback API dedupes creates by I-Twilio-Idempotency-Token, and the worker runs with TWILIO_IDEMPOTENCY_HONOURED
(the backend's documented switch for an endpoint that does), so interrupted sends are resent with their keys."""

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from tests.messaging.providers.loopback import LoopbackProviders

from .test_messaging_worker_killed import (
    MESSAGES,
    messaging_worker,
    send_killing_the_worker_mid_way,
    wait_until_all_sent,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SID, TOKEN = "AC" + "1" * 32, "kill-test-token"


@pytest.fixture
def twilio_api():
    running = LoopbackProviders(twilio_sid=SID, twilio_token=TOKEN, hold_at=MESSAGES // 3).start()
    yield running
    running.release.set()
    running.stop()


@pytest.fixture
def worker(twilio_api, tmp_path):
    with messaging_worker(
        tmp_path / "worker.log",
        MESSAGING_BACKEND_SMS="twilio",
        TWILIO_ACCOUNT_SID=SID,
        TWILIO_AUTH_TOKEN=TOKEN,
        TWILIO_FROM_SMS="+34911000000",
        TWILIO_BASE_URL=twilio_api.url,
        TWILIO_IDEMPOTENCY_HONOURED="true",
        MESSAGING_SENDING_STALE_SECONDS="2",
    ) as running:
        yield running


def test_a_worker_killed_mid_send_through_twilio_delivers_every_message_once(twilio_api, worker):
    in_flight, delivered_before_kill = send_killing_the_worker_mid_way(
        worker, twilio_api, key_prefix="kill-twilio", delivered=twilio_api.answered
    )
    wait_until_all_sent(worker, timeout=120)

    keys = set(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert 0 < delivered_before_kill < MESSAGES
    assert in_flight > 0, "the kill happened with messages in flight"
    assert set(twilio_api.answered) == keys  # every message reached Twilio: none lost
    assert set(twilio_api.deliveries.values()) == {1}  # and each was delivered once
    assert len(twilio_api.by("twilio")) > MESSAGES  # the interrupted sends were resent, with their tokens
    assert Event.objects.filter(type="message.sent").count() == MESSAGES
    stored = dict(OutboundMessage.objects.values_list("idempotency_key", "provider_message_id"))
    assert stored == twilio_api.answered
