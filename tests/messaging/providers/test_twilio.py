"""SMS and WhatsApp through Twilio: the `twilio` library against a loopback Messages API, and Twilio's webhooks
(form-encoded, X-Twilio-Signature computed as the library's RequestValidator does) in Twilio's documented shapes."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import Status
from customers.models import Case, CustomerIdentifier
from customers.selectors import consent_allows
from customers.services.inbound import inbound_message_receive

from .conftest import TWILIO_SID, fixture, twilio_post, unique_key
from .helpers import send_and_drain, written

pytestmark = pytest.mark.django_db

PHONE = "+34600111222"


def status_params(name: str, sid: str, **changes) -> dict:
    params = fixture(name)
    params.update({"MessageSid": sid, "SmsSid": sid, "AccountSid": TWILIO_SID, "To": PHONE, **changes})
    return params


def inbound_params(name: str, **changes) -> dict:
    params = fixture(name)
    sid = "SM" + unique_key()[-32:].replace("-", "0")
    params.update({"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": TWILIO_SID, **changes})
    return params


def test_an_sms_goes_through_the_twilio_client_to_the_loopback_api(providers, customer):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Tu pedido está listo"})

    assert row.status == Status.SENT
    (request,) = providers.by("twilio")
    form = request.form()
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert (form["To"], form["From"], form["Body"]) == (PHONE, "+34911000000", "Tu pedido está listo")
    assert request.headers["I-Twilio-Idempotency-Token"] == row.idempotency_key
    assert row.provider_message_id.startswith("SM")


def test_whatsapp_outside_the_window_goes_as_a_content_sid_with_variables(providers, customer):
    row = send_and_drain(customer(phone=PHONE), "whatsapp", {"template": "case_update", "parameters": ["Ana", "C-12"]})

    form = providers.by("twilio")[0].form()
    assert row.status == Status.SENT
    assert (form["To"], form["From"]) == (f"whatsapp:{PHONE}", "whatsapp:+34911000001")
    assert form["ContentSid"] == "HX" + "1" * 32
    assert form["ContentVariables"] == '{"1":"Ana","2":"C-12"}'
    assert "Body" not in form


def test_whatsapp_free_text_inside_the_window_goes_as_a_body(providers, customer):
    person = customer(phone=PHONE)
    inbound_message_receive(
        channel="whatsapp",
        payload={"provider_message_id": unique_key(), "from": PHONE, "text": "Hola"},
        actor="test",
    )

    row = send_and_drain(person, "whatsapp", {"text": "¡Hola! ¿En qué te ayudamos?"})

    assert row.status == Status.SENT
    assert providers.by("twilio")[0].form()["Body"] == "¡Hola! ¿En qué te ayudamos?"


def test_a_status_callback_is_recorded_once_and_resent_records_nothing(providers, customer, client):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    params = status_params("twilio_status_delivered.json", row.provider_message_id)

    first = twilio_post(client, "status", params)
    before = written()
    again = twilio_post(client, "status", params)

    assert (first.status_code, again.status_code) == (204, 204)
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert written() == before


def test_a_bad_signature_is_401_and_writes_nothing(providers, customer, client):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    params = status_params("twilio_status_delivered.json", row.provider_message_id)
    before = written()

    forged = twilio_post(client, "status", params, token="not-the-auth-token")
    missing = twilio_post(client, "status", params, signature="")
    inbound = twilio_post(client, "messages", inbound_params("twilio_inbound_sms.json"), token="guess")

    assert (forged.status_code, missing.status_code, inbound.status_code) == (401, 401, 401)
    assert forged.json()["errors"][0]["code"] == "invalid_signature"
    assert written() == before


def test_a_number_twilio_reports_unreachable_is_marked_undeliverable(providers, customer, client):
    person = customer(phone=PHONE)
    row = send_and_drain(person, "sms", {"text": "Aviso"})

    response = twilio_post(client, "status", status_params("twilio_status_undelivered.json", row.provider_message_id))

    assert response.status_code == 204
    failed = Event.objects.get(type="message.failed", stream=f"message-{row.id}", data__terminal=True)
    assert "30005" in failed.data["reason"]
    assert CustomerIdentifier.objects.get(customer_id=person, kind="phone").undeliverable_at is not None
    following = send_and_drain(person, "sms", {"text": "Otro aviso"})
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_address")
    assert len(providers.by("twilio")) == 1


def test_inbound_sms_from_an_unknown_number_opens_a_case_for_a_new_customer(providers, client):
    params = inbound_params("twilio_inbound_sms.json", From="+34699000111")

    first = twilio_post(client, "messages", params)
    before = written()
    again = twilio_post(client, "messages", params)

    assert (first.status_code, again.status_code) == (200, 200)
    assert first["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in first.content
    customer_id = CustomerIdentifier.objects.get(kind="phone", value="+34699000111").customer_id
    assert Case.objects.get(customer_id=customer_id).channel == "sms"
    assert written() == before


def test_inbound_whatsapp_joins_the_case_on_the_whatsapp_channel(providers, client):
    response = twilio_post(
        client, "messages", inbound_params("twilio_inbound_whatsapp.json", From="whatsapp:+34699000222")
    )

    assert response.status_code == 200
    customer_id = CustomerIdentifier.objects.get(kind="phone", value="+34699000222").customer_id
    assert Case.objects.get(customer_id=customer_id).channel == "whatsapp"
    assert Event.objects.get(type="message.received", customer_id=customer_id).channel == "whatsapp"


@pytest.mark.parametrize(("body", "opt_out_type"), [("STOP", ""), ("Baja", ""), ("para ya", "STOP")])
def test_stop_withdraws_sms_marketing_and_the_next_campaign_sms_is_suppressed(
    providers, customer, grant, client, body, opt_out_type
):
    person = customer(phone=PHONE)
    grant(person, "sms")
    params = inbound_params("twilio_inbound_sms.json", From=PHONE, Body=body)
    if opt_out_type:
        params["OptOutType"] = opt_out_type  # Twilio's Advanced Opt-Out classified it

    response = twilio_post(client, "messages", params)

    assert response.status_code == 200
    assert not consent_allows(customer_id=person, channel="sms", purpose="marketing")
    following = send_and_drain(person, "sms", {"text": "Rebajas"}, purpose="marketing", campaign_id="c-1")
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")
    assert providers.by("twilio") == []


def test_start_after_stop_resubscribes_as_twilio_does_and_opens_no_case(providers, customer, grant, client):
    """With Advanced Opt-Out, OptOutType=START says the person texted START, YES or UNSTOP and Twilio re-subscribed
    the number: it delivers their marketing again, so the ledger grants it (else every campaign would suppress them
    as no_consent forever)."""
    person = customer(phone=PHONE)
    grant(person, "sms")
    stop = inbound_params("twilio_inbound_sms.json", From=PHONE, Body="STOP", OptOutType="STOP")
    assert twilio_post(client, "messages", stop).status_code == 200
    assert not consent_allows(customer_id=person, channel="sms", purpose="marketing")

    start = inbound_params("twilio_inbound_sms.json", From=PHONE, Body="Start", OptOutType="START")
    response = twilio_post(client, "messages", start)
    before = written()
    again = twilio_post(client, "messages", start)

    assert response.status_code == 200
    assert consent_allows(customer_id=person, channel="sms", purpose="marketing"), (
        "Twilio re-subscribed the number (OptOutType=START) but our ledger still says marketing is withdrawn"
    )
    granted = Event.objects.filter(type="consent.granted", customer_id=person).latest("position")
    received = Event.objects.filter(type="message.received", customer_id=person).latest("position")
    assert granted.data["wording"] == f"Opt-in keyword received on sms (inbound message {received.id})."
    assert not Case.objects.filter(customer_id=person).exists()
    assert (again.status_code, written()) == (200, before)
    following = send_and_drain(person, "sms", {"text": "Rebajas"}, purpose="marketing", campaign_id="c-1")
    assert following.status == Status.SENT


def test_start_on_whatsapp_grants_whatsapp_marketing_only(providers, customer, client):
    person = customer(phone=PHONE)
    params = inbound_params("twilio_inbound_whatsapp.json", From=f"whatsapp:{PHONE}", Body="YES", OptOutType="START")

    assert twilio_post(client, "messages", params).status_code == 200

    assert consent_allows(customer_id=person, channel="whatsapp", purpose="marketing")
    assert not consent_allows(customer_id=person, channel="sms", purpose="marketing")


def test_help_answered_by_twilio_is_recorded_and_opens_no_case(providers, customer, grant, client):
    person = customer(phone=PHONE)
    grant(person, "sms")

    response = twilio_post(
        client, "messages", inbound_params("twilio_inbound_sms.json", From=PHONE, Body="HELP", OptOutType="HELP")
    )

    assert response.status_code == 200
    assert Event.objects.filter(type="message.received", customer_id=person).count() == 1
    assert not Case.objects.filter(customer_id=person).exists()
    assert consent_allows(customer_id=person, channel="sms", purpose="marketing")


def test_start_from_the_number_of_an_erased_customer_grants_them_nothing(providers, customer, client):
    from customers.services import customer_erase

    person = customer(phone=PHONE)
    customer_erase(customer_id=person, actor="user:1")

    response = twilio_post(
        client, "messages", inbound_params("twilio_inbound_sms.json", From=PHONE, Body="START", OptOutType="START")
    )

    assert response.status_code == 200
    assert not Event.objects.filter(type="consent.granted", customer_id=person).exists()
    assert not consent_allows(customer_id=person, channel="sms", purpose="marketing")


def test_the_window_still_decides_free_text_or_template(providers, customer):
    person = customer(phone=PHONE)
    inbound_message_receive(
        channel="whatsapp",
        payload={
            "provider_message_id": unique_key(),
            "from": PHONE,
            "text": "Hola",
            "received_at": timezone.now() - timedelta(hours=25),
        },
        actor="test",
    )
    from backoffice.messaging.errors import ChannelRuleError

    with pytest.raises(ChannelRuleError) as refused:
        send_and_drain(person, "whatsapp", {"text": "Hola de nuevo"})
    assert refused.value.code == "template_required"


def test_twilio_errors_are_temporary_or_final_by_status(providers, customer):
    providers.status = 500
    assert send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"}).status == Status.QUEUED
    providers.status = 400
    assert send_and_drain(customer(phone="+34600111333"), "sms", {"text": "Aviso"}).status == Status.FAILED


def _twilio_refuses(providers, code: int, message: str) -> None:
    """The Messages API answers the create with HTTP 400 and Twilio's error code, as for an opted-out or invalid
    number (twilio.com/docs/api/errors/21610, /21211, /21614): no Message resource, so no status callback follows."""
    original = providers.answer

    def answer(path, headers, body):
        status, payload, provider = original(path, headers, body)
        if provider == "twilio":
            more_info = f"https://www.twilio.com/docs/errors/{code}"
            return 400, {"code": code, "message": message, "more_info": more_info, "status": 400}, "twilio"
        return status, payload, provider

    providers.answer = answer


def test_21610_on_create_withdraws_sms_marketing_like_the_callback_does(providers, customer, grant):
    person = customer(phone=PHONE)
    grant(person, "sms")
    _twilio_refuses(providers, 21610, "Attempt to send to unsubscribed recipient")

    row = send_and_drain(person, "sms", {"text": "Rebajas"}, purpose="marketing", campaign_id="c-1")

    assert (row.status, row.reason) == (Status.FAILED, "twilio answered 400 (error 21610)")
    assert not consent_allows(customer_id=person, channel="sms", purpose="marketing"), (
        "Twilio said the recipient replied STOP (21610) but SMS marketing consent is still granted"
    )
    failed = Event.objects.get(type="message.failed", stream=f"message-{row.id}")
    revoked = Event.objects.get(type="consent.revoked", customer_id=person)
    assert revoked.data["channel"] == "sms"
    assert revoked.id == uuid.uuid5(failed.id, "consent.revoked")  # caused by the failure, as a callback's would be
    following = send_and_drain(person, "sms", {"text": "Rebajas"}, purpose="marketing", campaign_id="c-2")
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")


@pytest.mark.parametrize("code", [21211, 21614])
def test_an_invalid_number_on_create_marks_the_number_undeliverable_like_the_callback_does(providers, customer, code):
    person = customer(phone=PHONE)
    _twilio_refuses(providers, code, f"The 'To' number {PHONE} is not a valid phone number.")

    row = send_and_drain(person, "sms", {"text": "Aviso"})

    assert row.status == Status.FAILED
    assert CustomerIdentifier.objects.get(customer_id=person, kind="phone").undeliverable_at is not None
    assert consent_allows(customer_id=person, channel="sms", purpose="service")


def test_another_refusal_on_create_changes_nothing_about_the_recipient(providers, customer, grant):
    person = customer(phone=PHONE)
    grant(person, "sms")
    _twilio_refuses(providers, 21408, "Permission to send an SMS has not been enabled for the region")

    assert send_and_drain(person, "sms", {"text": "Rebajas"}, purpose="marketing").status == Status.FAILED

    assert consent_allows(customer_id=person, channel="sms", purpose="marketing")
    assert CustomerIdentifier.objects.get(customer_id=person, kind="phone").undeliverable_at is None


def test_callbacks_for_another_account_are_refused(providers, customer, client):
    row = send_and_drain(customer(phone=PHONE), "sms", {"text": "Aviso"})
    params = status_params("twilio_status_delivered.json", row.provider_message_id, AccountSid="AC" + "9" * 32)
    before = written()

    assert twilio_post(client, "status", params).status_code == 403
    assert written() == before
