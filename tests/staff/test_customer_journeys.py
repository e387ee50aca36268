"""A person's page shows the journeys they are in: the step, what comes next and when."""

import pytest

from customers.services.ingestion import customer_register
from tests.campaigns.journeys.conftest import page_viewed, publish

pytestmark = pytest.mark.django_db


def _customer():
    return customer_register(customer={"email": "ana@example.es"}, channel="web", actor="test")[0]


def test_the_customer_page_shows_the_journey_step_and_what_comes_next(login):
    customer = _customer()
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [
            {"id": "wait-1h", "kind": "wait", "minutes": 60, "next": "hello"},
            {
                "id": "hello",
                "kind": "send",
                "channel": "email",
                "variants": {"email": {"subject": "Hola", "body": "Hola"}},
            },
        ],
    }
    publish(definition, name="Bienvenida de prueba")
    page_viewed(customer)
    browser = login("support")

    page = browser.get(f"/staff/customers/{customer}/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Bienvenida de prueba" in page
    assert "<code>wait-1h</code>" in page
    assert "<code>hello</code>" in page
    assert "Recorridos" in page


def test_a_customer_in_no_journey_says_so(login):
    customer = _customer()
    browser = login("support")
    page = browser.get(f"/staff/customers/{customer}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "In no journey." in page
