"""The insights dashboard's journey block: each published journey with its people entered, in it and converted."""

import pytest

from campaigns import services
from customers.services.ingestion import customer_register
from tests.campaigns.journeys.conftest import page_viewed, publish

pytestmark = pytest.mark.django_db


def test_the_dashboard_lists_published_journeys_with_their_people(login):
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [{"id": "w", "kind": "wait", "minutes": 60}],
    }
    publish(definition, name="Bienvenida publicada")
    services.journey_save(journey_id=None, values={"name": "Borrador sin publicar"}, actor="t")
    for n in range(2):
        page_viewed(customer_register(customer={"email": f"j{n}@example.es"}, channel="web", actor="t")[0])
    browser = login("marketing")

    page = browser.get("/admin/insights/dashboard/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    block = page[page.index('id="figure-journeys"') :]
    assert "Recorridos" in block
    assert "Bienvenida publicada" in block
    assert "Borrador sin publicar" not in block
    assert '<td class="num">2</td><td class="num">2</td>' in block  # entered, in the journey now
