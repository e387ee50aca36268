"""Channel fallback: a WhatsApp not read after N hours (or undeliverable) is followed by the email; one read is not;
without WhatsApp consent the email goes at once."""

import pytest

from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import message_status_record

from ..conftest import revoke
from .conftest import advance, page_viewed, publish, run_of

pytestmark = pytest.mark.django_db

DEFINITION = {
    "trigger": {"kind": "event", "event": "page.viewed"},
    "steps": [
        {
            "id": "nudge",
            "kind": "send",
            "channel": "whatsapp",
            "variants": {
                "whatsapp": {"template": "nudge", "parameters": "Hola"},
                "email": {"subject": "Hola", "body": "Por si no viste el WhatsApp"},
            },
            "fallback": {"channel": "email", "after_hours": 4},
            "next": "done",
        },
        {"id": "done", "kind": "tag", "tag": "nudged"},
    ],
}


def _channels(customer):
    return list(
        OutboundMessage.objects.filter(customer_id=customer).order_by("created_at").values_list("channel", flat=True)
    )


@pytest.mark.parametrize(("is_read", "expected"), [(False, ["whatsapp", "email"]), (True, ["whatsapp"])])
def test_an_unread_whatsapp_is_followed_by_the_email_after_the_hours_given(person, is_read, expected):
    customer = person(consents=("whatsapp", "email"))
    journey = publish(DEFINITION)
    page_viewed(customer)
    assert (_channels(customer), run_of(journey, customer).phase) == (["whatsapp"], "fallback")
    if is_read:
        (message,) = OutboundMessage.objects.filter(customer_id=customer)
        message_status_record(channel="whatsapp", provider_message_id="", message_id=message.id, status="read")

    advance(hours=3)
    assert _channels(customer) == ["whatsapp"]  # not yet
    advance(hours=4, minutes=1)

    assert _channels(customer) == expected
    run = run_of(journey, customer)
    assert [outcome for _step, outcome, _at in run.path] == ["sent", "read" if is_read else "fallback_sent", "tagged"]
    assert run.status == "done"


def test_without_whatsapp_consent_the_email_goes_at_once(person):
    customer = person(consents=("email",))
    journey = publish(DEFINITION)
    page_viewed(customer)
    assert _channels(customer) == ["email"]
    assert run_of(journey, customer).status == "done"


@pytest.mark.parametrize("why", ["pressure", "unreachable"])
def test_the_delayed_fallback_asks_the_budget_and_the_consent_again(person, settings, why):
    """Hours after the first message, the fallback is another marketing message: it is not sent past the person's
    contact-pressure budget, nor on a channel they have withdrawn meanwhile."""
    if why == "pressure":
        settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 1, "days": 7}
    customer = person(consents=("whatsapp", "email"))
    journey = publish(DEFINITION)
    page_viewed(customer)
    if why == "unreachable":
        revoke(customer, "email")

    advance(hours=5)

    assert _channels(customer) == ["whatsapp"]
    run = run_of(journey, customer)
    assert [outcome for _step, outcome, _at in run.path] == ["sent", why, "tagged"]
    assert run.status == "done"
