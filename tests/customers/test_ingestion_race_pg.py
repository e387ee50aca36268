"""Batches that name the same new person at the same moment (two tabs, an SDK retrying on another connection) are
each stored once, for one customer: the one that loses the race on the identifier's unique key resolves again
instead of answering 500 (found by benchmarks/load.py)."""

import threading
import uuid

import pytest
from django.db import connection

from customers.models import CustomerIdentifier
from customers.services.ingestion import interactions_ingest
from tests.factories import interaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_batches_naming_the_same_new_person_register_them_once(settings):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    rounds, writers = 6, 4
    for round_number in range(rounds):
        person = {"email": f"race{round_number}@example.es", "anonymous_id": f"web-race-{round_number}"}
        barrier = threading.Barrier(writers)
        results: list = []

        def write(person=person, barrier=barrier, results=results):
            try:
                barrier.wait(timeout=10)
                results.append(
                    interactions_ingest(raw_items=[interaction(id=str(uuid.uuid4()), customer=person)], actor="t")
                )
            except Exception as exc:  # noqa: BLE001 - the test looks at what every writer got
                results.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert [r for r in results if isinstance(r, Exception)] == []
        customers = {r[0].customer_id for r in results}
        assert len(customers) == 1, customers
        assert CustomerIdentifier.objects.filter(key=f"email:{person['email']}").count() == 1
