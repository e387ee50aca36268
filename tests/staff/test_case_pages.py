"""The case inbox and the case page: filters, the cross-channel thread, replies and resolution through the
services, and refusals as pages (never a 500)."""

import html
import uuid
from datetime import timedelta

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from customers.models import Case
from customers.services import cases as case_services
from customers.services.ingestion import customer_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def case():
    customer_id, _ = customer_register(
        customer={"email": "marta@example.es", "phone": "600222333", "name": "Marta Vidal"}, channel="app", actor="t"
    )
    return case_services.case_open(
        customer_id=customer_id,
        channel="phone",
        subject="Pedido incompleto",
        text="Faltaba una camiseta en el pedido de la app",
        order_ref="APP-77",
        actor="t",
    )


@pytest.fixture
def support(login):
    return login("support")


def test_the_inbox_lists_open_cases_with_their_sla_state(support, case, settings):
    settings.CASES_SLA = {"first_response": timedelta(seconds=-1), "resolution": timedelta(days=2)}

    page = support.get("/staff/cases/").content.decode()

    assert "Pedido incompleto" in page
    assert "SLA breached" in page


@pytest.mark.parametrize(
    ("query", "is_listed"),
    [("channel=phone", True), ("channel=sms", False), ("status=resolved", False), ("breached=no", True)],
)
def test_the_inbox_filters(support, case, query, is_listed):
    page = support.get(f"/staff/cases/?{query}").content.decode()

    assert ("Pedido incompleto" in page) is is_listed


def test_an_unknown_filter_value_is_a_400_page(support, case):
    response = support.get("/staff/cases/?channel=fax")

    assert response.status_code == 400


def test_the_case_page_shows_the_thread_and_the_customers_story(support, case):
    page = support.get(f"/staff/cases/{case.id}/").content.decode()

    assert "Faltaba una camiseta en el pedido de la app" in page
    assert "Marta Vidal" in page
    assert "APP-77" in page


def test_a_reply_is_sent_once_even_when_the_form_is_posted_twice(support, case):
    form = {"action": "reply", "channel": "email", "text": "Se la enviamos hoy", "reply_id": str(uuid.uuid4())}

    first = support.post(f"/staff/cases/{case.id}/", form)
    again = support.post(f"/staff/cases/{case.id}/", form)

    assert first.status_code == 302
    assert again.status_code == 302
    assert OutboundMessage.objects.filter(case_id=str(case.id)).count() == 1
    assert Case.objects.get(id=case.id).message_count == 2


def test_a_reply_on_a_channel_the_customer_cannot_be_reached_on_is_refused_and_writes_nothing(support, case):
    events_before = Event.objects.count()

    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "reply", "channel": "instagram", "text": "Hola", "reply_id": str(uuid.uuid4())},
    )

    assert response.status_code == 400
    assert Event.objects.count() == events_before


def test_a_channel_operations_switched_off_is_not_offered_and_a_reply_on_it_is_refused(support, case):
    from backoffice.messaging.models import ChannelSetting
    from backoffice.messaging.services.channel_settings import channel_setting_save

    channel_setting_save(setting=ChannelSetting(channel="sms", is_enabled=False), actor="t")

    page = support.get(f"/staff/cases/{case.id}/")
    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "reply", "channel": "sms", "text": "Le escribimos", "reply_id": str(uuid.uuid4())},
    )

    offered = [code for code, _label in page.context["reply_form"].fields["channel"].choices]
    assert "sms" not in offered
    assert "email" in offered
    assert response.status_code == 400
    assert not OutboundMessage.objects.filter(case_id=str(case.id), channel="sms").exists()


def test_resolving_with_a_voucher_records_it_and_queues_the_survey(support, case):
    response = support.post(
        f"/staff/cases/{case.id}/",
        {
            "action": "resolve",
            "resolution": "Vale enviado",
            "compensation": "voucher",
            "amount": "10",
            "code": "SORRY10",
        },
    )

    assert response.status_code == 302
    resolved = Case.objects.get(id=case.id)
    assert resolved.status == "resolved"
    assert resolved.compensation == {"kind": "voucher", "amount": "10.00", "currency": "EUR", "code": "SORRY10"}
    assert OutboundMessage.objects.filter(idempotency_key=f"case-csat-{case.id}").exists()
    # The page writes the voucher's money as the timeline beside it does, in the page's language.
    assert (
        "Vale 10,00 € (SORRY10)" in support.get(f"/staff/cases/{case.id}/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    )
    assert (
        "Voucher 10.00 € (SORRY10)"
        in support.get(f"/staff/cases/{case.id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )


def test_a_case_whose_survey_the_channel_refuses_is_resolved_and_says_so(support, case, monkeypatch):
    from customers.services import cases

    monkeypatch.setattr(cases, "_survey_content", lambda case, channel: {"text": "\U0001f621" * 1000})

    response = support.post(
        f"/staff/cases/{case.id}/", {"action": "resolve", "resolution": "Hecho", "compensation": "none"}, follow=True
    )

    assert response.redirect_chain[0][1] == 302
    assert "Case resolved. No satisfaction survey could be sent." in response.content.decode()
    assert Case.objects.get(id=case.id).status == "resolved"


def test_a_voucher_without_a_code_is_a_400_page_and_the_case_stays_open(support, case):
    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "resolve", "resolution": "Vale", "compensation": "voucher", "amount": "5"},
    )

    assert response.status_code == 400
    assert Case.objects.get(id=case.id).status == "open"


def test_replying_to_a_resolved_case_is_a_409_page(support, case):
    case_services.case_resolve(case_id=case.id, resolution="Hecho", actor="t")

    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "reply", "channel": "phone", "text": "Otra cosa", "reply_id": str(uuid.uuid4())},
    )

    assert response.status_code in (400, 409)
    assert Case.objects.get(id=case.id).message_count == 1


@pytest.mark.parametrize(
    ("data", "status", "said", "case_status"),
    [
        (
            {"action": "reply", "channel": "phone", "text": "Le llamamos"},
            409,
            "This customer's data was erased: the case cannot go on.",
            "open",
        ),
        (
            {"action": "resolve", "resolution": "Cerrado", "compensation": "none"},
            302,
            "Case closed. The customer was erased: no resolution is kept and no survey is sent.",
            "resolved",
        ),
    ],
    ids=["reply", "resolve"],
)
def test_an_erased_customers_case_left_open_can_be_closed_but_not_replied_to(
    support, case, monkeypatch, data, status, said, case_status
):
    from customers.services import gdpr

    # Erased before erasure closed the customer's cases: the case was left open.
    monkeypatch.setattr(gdpr, "_open_case_ids", lambda customer_ids: [])
    gdpr.customer_erase(customer_id=case.customer_id, actor="t")
    support.raise_request_exception = False

    response = support.post(f"/staff/cases/{case.id}/", {**data, "reply_id": str(uuid.uuid4())}, follow=status == 302)

    assert (response.redirect_chain[0][1] if status == 302 else response.status_code) == status
    assert said in html.unescape(response.content.decode())
    assert Case.objects.get(id=case.id).status == case_status
    assert not OutboundMessage.objects.filter(idempotency_key=f"case-csat-{case.id}").exists()


def test_the_customer_page_lists_the_open_case(support, case):
    page = support.get(f"/staff/customers/{case.customer_id}/").content.decode()

    assert f"/staff/cases/{case.id}/" in page


def test_marketing_staff_cannot_see_cases(login, case):
    client = login("marketing")

    assert client.get("/staff/cases/").status_code == 403
    assert client.get(f"/staff/cases/{case.id}/").status_code == 403


def test_an_unknown_case_is_a_404_page(support):
    assert support.get(f"/staff/cases/{uuid.uuid4()}/").status_code == 404
