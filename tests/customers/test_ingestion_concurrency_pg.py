"""Two calls bringing the same new person at once (two web servers, two devices): both are stored, the person is
registered once. Identity resolution reads before the store's lock, so the second commit meets the identifier's
unique key; the call is done again and finds the person (a 500 before)."""

import threading
import uuid

import pytest
from django.db import connection

from backoffice.eventstore.models import Event
from customers.models import Customer
from customers.services.ingestion import interactions_ingest
from tests.factories import interaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_new_person_from_two_calls_at_once_is_registered_once():
    errors: list[Exception] = []
    start = threading.Barrier(2)

    def ingest(person: int):
        try:
            start.wait()
            item = interaction(id=str(uuid.uuid4()), customer={"email": f"nueva{person}@example.es"})
            interactions_ingest(raw_items=[item], actor="test")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    for person in range(10):
        threads = [threading.Thread(target=ingest, args=(person,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert Customer.objects.filter(merged_into__isnull=True).count() == 10
    assert Event.objects.filter(type="cart.item_added").count() == 20
