import uuid

import pytest

from backoffice.eventstore import store
from customers.services.ingestion import customer_register
from tests.factories import ConsentFactory


@pytest.fixture
def customer(db):
    """A registered customer (by default with an email and a mobile phone); returns the id."""
    counter = iter(range(1, 1_000_000))

    def make(*, email: str | None = "", phone: str | None = "") -> uuid.UUID:
        n = next(counter)
        identifiers = {}
        if email is not None:
            identifiers["email"] = email or f"cliente{n}-{uuid.uuid4().hex[:6]}@example.es"
        if phone is not None:
            identifiers["phone"] = phone or f"+346{n:02d}{uuid.uuid4().int % 10**6:06d}"
        customer_id, _ = customer_register(customer=identifiers, channel="web", actor="test")
        return customer_id

    return make


@pytest.fixture
def grant(db):
    def make(customer_id: uuid.UUID, channel: str, purpose: str = "marketing", *, granted: bool = True) -> None:
        ConsentFactory(customer_id=customer_id, channel=channel, purpose=purpose, is_granted=granted, wording="Acepto")

    return make


def message_events(message) -> list[store.RecordedEvent]:
    return store.read_stream(f"message-{message.id}")


def event_types(message) -> list[str]:
    return [event.type for event in message_events(message)]
