"""Provider callbacks about no message we know yet are kept and tried again, never lost and never applied twice;
those that never match expire with their content dropped, and an erasure drops them at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, UnmatchedCallback
from backoffice.messaging.services.unmatched import unmatched_callbacks_retry
from customers.services import customer_erase

from .conftest import TWILIO_SID, fixture, twilio_post
from .helpers import send_and_drain

pytestmark = pytest.mark.django_db

PHONE = "+34600111333"


def delivered(sid: str) -> dict:
    params = fixture("twilio_status_delivered.json")
    params.update({"MessageSid": sid, "SmsSid": sid, "AccountSid": TWILIO_SID, "To": PHONE})
    return params


def later(seconds: int):
    return timezone.now() + timedelta(seconds=seconds)


def test_a_callback_that_overtakes_our_record_of_the_send_is_applied_once_when_the_record_lands(
    providers, customer, client
):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    sid = row.provider_message_id
    # Our record of the send is not there yet when Twilio calls back (its commit comes after the callback).
    OutboundMessage.objects.filter(id=row.id).update(provider_message_id="")

    response = twilio_post(client, "status", delivered(sid))
    resent = twilio_post(client, "status", delivered(sid))

    assert (response.status_code, resent.status_code) == (204, 204)
    kept = UnmatchedCallback.objects.get()  # the resend is the same callback: one row
    assert (kept.state, kept.status, kept.provider_message_id, kept.source) == (
        "pending",
        "delivered",
        sid,
        "twilio.status",
    )
    assert PHONE.encode() not in kept.data_encrypted.encode()
    assert not Event.objects.filter(type="message.delivered").exists()
    assert unmatched_callbacks_retry(now=later(5)) == {"applied": 0, "waiting": 0, "expired": 0}  # not due yet
    assert unmatched_callbacks_retry(now=later(31)) == {"applied": 0, "waiting": 1, "expired": 0}  # still unknown

    OutboundMessage.objects.filter(id=row.id).update(provider_message_id=sid)  # the record lands
    assert unmatched_callbacks_retry(now=later(31)) == {"applied": 0, "waiting": 0, "expired": 0}  # backed off
    assert unmatched_callbacks_retry(now=later(120)) == {"applied": 1, "waiting": 0, "expired": 0}

    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    kept.refresh_from_db()
    assert (kept.state, kept.data_encrypted, kept.attempts) == ("applied", "", 2)
    assert OutboundMessage.objects.get(id=row.id).delivery_status == "delivered"
    # Applied once: trying again, or Twilio resending the callback, records nothing more.
    assert unmatched_callbacks_retry(now=later(3600), due_only=False)["applied"] == 0
    twilio_post(client, "status", delivered(sid))
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1


def test_a_callback_that_never_matches_expires_with_its_content_dropped(providers, client, settings):
    settings.MESSAGING_UNMATCHED_CALLBACK_RETENTION_HOURS = 72
    twilio_post(client, "status", delivered("SM" + "f" * 32))  # another system's SMS on the same account

    counts = unmatched_callbacks_retry(now=later(73 * 3600))

    assert counts == {"applied": 0, "waiting": 0, "expired": 1}
    kept = UnmatchedCallback.objects.get()
    assert (kept.state, kept.data_encrypted, kept.address_digest) == ("expired", "", "")


def test_erasing_the_customer_an_unmatched_callback_is_addressed_to_drops_it(providers, customer, client):
    person = customer(phone=PHONE)
    twilio_post(client, "status", delivered("SM" + "a" * 32))
    other = delivered("SM" + "b" * 32)
    other["To"] = "+34600999888"
    twilio_post(client, "status", other)

    customer_erase(customer_id=person, actor="user:1")

    states = dict(UnmatchedCallback.objects.values_list("provider_message_id", "state"))
    assert states == {"SM" + "a" * 32: "expired", "SM" + "b" * 32: "pending"}
    assert UnmatchedCallback.objects.get(provider_message_id="SM" + "a" * 32).data_encrypted == ""


def test_the_generic_signed_webhook_keeps_nothing_its_caller_sees_the_404(providers, client):
    from backoffice.messaging.services import UnknownMessage, message_status_record

    with pytest.raises(UnknownMessage):
        message_status_record(channel="sms", provider_message_id="nobody", status="delivered")

    assert not UnmatchedCallback.objects.exists()


def test_the_admin_lists_them_for_operations_and_tries_them_again(providers, client, admin_client):
    twilio_post(client, "status", delivered("SM" + "c" * 32))
    kept = UnmatchedCallback.objects.get()

    listing = admin_client.get("/admin/messaging/unmatchedcallback/")
    action = admin_client.post(
        "/admin/messaging/unmatchedcallback/",
        {"action": "try_again", "_selected_action": [kept.pk]},
        follow=True,
    )

    assert listing.status_code == 200
    assert "SM" + "c" * 32 in listing.content.decode()
    assert PHONE not in listing.content.decode()
    assert action.status_code == 200
    assert UnmatchedCallback.objects.get().attempts == 2
