"""The beat job on a real worker: an idle cart is abandoned once and its reminder queued on the consented channel."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.celery import app as celery_app
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from customers.services import interactions_ingest
from orders.tasks import abandon_idle_carts_task
from tests.factories import ConsentFactory, interaction

from .conftest import wait_for


def _worker_idle() -> bool:
    """the worker has no task running, reserved or scheduled"""
    inspect = celery_app.control.inspect(timeout=1)
    queues = [inspect.active() or {}, inspect.reserved() or {}, inspect.scheduled() or {}]
    return bool(queues[0]) and not any(tasks for queue in queues for tasks in queue.values())


pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_abandons_an_idle_cart_once_and_queues_one_reminder(tasks_go_to_the_broker):
    celery_app.control.purge()  # work an earlier test left in the queue would only delay ours
    at = timezone.now() - timedelta(minutes=90)
    item = interaction(
        channel="web",
        occurred_at=at.isoformat(),
        customer={"email": "ana@example.es"},
        data={"cart_id": "c-int-1", "sku": "CAM-ALG-BLA-M", "quantity": 1, "unit_price": "19.90"},
    )
    customer_id = interactions_ingest(raw_items=[item], actor="test")[0].customer_id
    ConsentFactory(customer_id=customer_id, wording="Acepto")

    abandon_idle_carts_task.delay()
    abandon_idle_carts_task.delay()  # beat firing twice (or two workers): still one abandonment, one reminder

    wait_for(lambda: Event.objects.filter(type="cart.abandoned").exists())
    wait_for(lambda: OutboundMessage.objects.filter(status="sent").exists())
    wait_for(_worker_idle)  # nothing still running when the test's tables are emptied
    abandoned = Event.objects.get(type="cart.abandoned")
    assert abandoned.data["reminder_channel"] == "email"
    (message,) = OutboundMessage.objects.all()
    assert (message.channel, message.purpose, str(message.id)) == (
        "email",
        "marketing",
        abandoned.data["reminder_message_id"],
    )
