"""Status callbacks arriving together from many threads are committed together: each recorded once, each thread
answered with its own result only after the commit, and a bad one fails alone."""

import threading
import uuid

import pytest
from django.db import connection

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, StatusCallback
from backoffice.messaging.services import message_send, messages_drain
from backoffice.messaging.services.status import StatusResult
from backoffice.messaging.services.status_group import message_status_record_grouped
from customers.services.ingestion import customer_register

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_callbacks_are_recorded_once_each_and_a_bad_one_fails_alone(outbox):
    customer_id, _ = customer_register(customer={"phone": "+34600123456"}, channel="web", actor="t")
    rows = [
        message_send(
            customer_id=customer_id,
            channel="sms",
            purpose="service",
            content={"text": f"Aviso {n}"},
            idempotency_key=f"group-{n}-{uuid.uuid4()}",
            actor="t",
        )
        for n in range(12)
    ]
    messages_drain(max_seconds=30)
    provider_ids = list(
        OutboundMessage.objects.filter(id__in=[r.id for r in rows]).values_list("provider_message_id", flat=True)
    )
    calls = [(pid, "delivered") for pid in provider_ids] + [(provider_ids[0], "delivered")] * 3 + [("x", "bogus")]
    start = threading.Barrier(len(calls))
    outcomes: dict[int, object] = {}

    def post(index: int, provider_id: str, status: str) -> None:
        try:
            start.wait()
            outcomes[index] = message_status_record_grouped(
                source="test", channel="sms", provider_message_id=provider_id, status=status
            )
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n, *call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert isinstance(outcomes[len(calls) - 1], ValueError)  # the bad one
    results = [outcomes[n] for n in range(len(calls) - 1)]
    assert all(isinstance(r, StatusResult) for r in results)
    assert sum(not r.duplicate for r in results) == 12
    assert Event.objects.filter(type="message.delivered").count() == 12
    assert StatusCallback.objects.count() == 12
