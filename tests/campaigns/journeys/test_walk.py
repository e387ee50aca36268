"""What a step does (campaigns.journeys.services.walk): a step visited again through a loop does its work again,
under keys of its own, the first visit's keys unchanged."""

import pytest

from backoffice.messaging.models import OutboundMessage
from campaigns import services

from .conftest import advance, page_viewed, publish, run_of

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def _reminder_loop(**send):
    return {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "goal": {"event": "order.placed"},
        "steps": [
            {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL, "next": "we", **send},
            {
                "id": "we",
                "kind": "wait_event",
                "event": "order.placed",
                "timeout_minutes": 1440,
                "next": "end",
                "timeout_next": "s",
            },
            {"id": "end", "kind": "end"},
        ],
    }


def test_a_send_step_visited_again_through_a_loop_sends_again(person, settings):
    """Loops through a wait are allowed ("remind every day until they buy"). The message key was
    journey:version:person:entry:step, the same on the second pass: messaging answered the first message for the
    known key and queued nothing, while the run recorded the step as "sent" again. The person gets the second
    reminder; the first keeps its key (messages queued before the change stay idempotent)."""
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 10, "days": 7}
    customer = person(consents=("email",))
    journey = publish(_reminder_loop())
    page_viewed(customer)
    advance(hours=25)

    run = run_of(journey, customer)
    assert [outcome for step, outcome, _at in run.path if step == "s"] == ["sent", "sent"]
    keys = sorted(OutboundMessage.objects.filter(customer_id=customer).values_list("idempotency_key", flat=True))
    first = f"journey:{journey.id}:v1:{customer}:1:s"
    assert keys == [first, f"{first}:3"]


def test_a_task_step_visited_again_through_a_loop_opens_another_case(person):
    from customers.models import Case

    customer = person()
    journey = publish(
        {
            "trigger": {"kind": "event", "event": "page.viewed"},
            "steps": [
                {"id": "call", "kind": "task", "queue": "support", "title": "Llamar", "next": "we"},
                {
                    "id": "we",
                    "kind": "wait_event",
                    "event": "order.placed",
                    "timeout_minutes": 1440,
                    "next": "end",
                    "timeout_next": "call",
                },
                {"id": "end", "kind": "end"},
            ],
        }
    )
    page_viewed(customer)
    advance(hours=25)

    assert [outcome for step, outcome, _at in run_of(journey, customer).path if step == "call"] == ["task_created"] * 2
    assert Case.objects.filter(customer_id=customer).count() == 2


def test_the_simulator_sends_every_pass_of_a_loop_as_the_step_workers_do(person, settings):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 10, "days": 7}
    customer = person(consents=("email",))
    journey = publish(_reminder_loop())

    timeline = services.journey_simulate(journey_id=journey.id, customer_id=customer)["steps"]

    sends = [(s["step"], s["outcome"]) for s in timeline if s["step"] == "s"]
    assert sends[:3] == [("s", "sent")] * 3
