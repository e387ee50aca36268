"""Erasure ends the person's journeys (campaigns.journeys.services.erasure, a CUSTOMERS_ERASURE_HOOKS hook)."""

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage

from .conftest import advance, page_viewed, publish, run_of

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def test_erasure_ends_the_persons_runs_in_every_journey(person):
    from customers import services as customer_services
    from customers.services.gdpr import customer_erase

    ana, ana_old = person(), person()
    waiting = publish(
        {
            "trigger": {"kind": "event", "event": "page.viewed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    page_viewed(ana)
    page_viewed(ana_old)
    customer_services.customer_merge(customer_ids=(ana, ana_old), into=ana, actor="test")
    customer_erase(customer_id=ana, actor="test")

    for customer in (ana, ana_old):
        run = run_of(waiting, customer)
        assert (run.status, run.exit_reason, run.due_at) == ("done", "erased", None)
        (exited,) = Event.objects.filter(stream=run.stream, type="journey.exited")
        assert exited.data["step"] == "w"
    advance(hours=2)
    assert not OutboundMessage.objects.filter(customer_id__in=(ana, ana_old)).exists()
