"""The case inbox and the case page: filters, the cross-channel thread, replies and resolution through the
services, and refusals as pages (never a 500)."""

import html
import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from backoffice.staff.forms import COMPENSATION_CEILING, CaseResolveForm
from customers.models import Case
from customers.services import cases as case_services
from customers.services.ingestion import customer_register
from customers.wording import money_text

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


def test_a_reply_to_a_case_another_agent_resolved_meanwhile_says_why_and_keeps_the_typed_text(support, case):
    """The agent opened the case while it was open and typed a long reply; a colleague resolved it meanwhile. The
    refusal reaches the agent (CASE_REFUSALS['case_closed']) and the text typed is still on the page."""
    reply_id = support.get(f"/staff/cases/{case.id}/").context["reply_form"]["reply_id"].value()
    case_services.case_resolve(case_id=case.id, resolution="Resuelto por otra agente", actor="t")  # a colleague

    typed = "Hola Marta, le enviamos hoy la camiseta que faltaba con envío urgente."
    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "reply", "channel": "phone", "text": typed, "reply_id": str(reply_id)},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert "The case is already resolved; open a new one to go on." in page, "the refusal is not shown anywhere"
    assert typed in page, "the reply the agent typed is gone"
    assert "Your reply was not sent" in page
    assert Case.objects.get(id=case.id).message_count == 1


def test_a_resolution_of_a_case_resolved_meanwhile_says_why_and_keeps_the_typed_text(support, case):
    case_services.case_resolve(case_id=case.id, resolution="Resuelto por otra agente", actor="t")  # a colleague

    typed = "Vale de 5 € por las molestias y la camiseta enviada hoy."
    response = support.post(
        f"/staff/cases/{case.id}/",
        {"action": "resolve", "resolution": typed, "compensation": "voucher", "amount": "5", "code": "PERDON5"},
        HTTP_ACCEPT_LANGUAGE="es",
    )

    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert "El caso ya está resuelto; abre uno nuevo para seguir." in page
    assert typed in page
    assert "Tu resolución no se ha registrado" in page
    assert Case.objects.get(id=case.id).resolution == "Resuelto por otra agente"


def resolve_with(client, case, amount: str, **headers):
    return client.post(
        f"/staff/cases/{case.id}/",
        {"action": "resolve", "resolution": "Vale", "compensation": "voucher", "amount": amount, "code": "VALE"},
        **headers,
    )


@pytest.mark.parametrize(
    ("typed", "recorded"),
    [
        ("15,50", "15.50"),
        ("15.50", "15.50"),
        ("15,5", "15.50"),
        ("15.5", "15.50"),  # a point is a decimal point in Spanish too: never 155
        ("15", "15.00"),
        (" 15,50 € ", "15.50"),
        ("0,99", "0.99"),
    ],
)
@pytest.mark.parametrize("language", ["es", "en"])
def test_a_compensation_amount_is_read_with_a_decimal_comma_or_point_in_either_language(
    support, case, typed, recorded, language
):
    response = resolve_with(support, case, typed, HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 302, response.context and response.context["resolve_form"].errors
    assert Case.objects.get(id=case.id).compensation["amount"] == recorded


@pytest.mark.parametrize(
    ("typed", "amount"), [("1.550,00", Decimal("1550.00")), ("1,550.00", Decimal("1550.00")), ("1550,00", 1550)]
)
def test_thousands_separators_are_read_when_the_decimals_are_written_too(typed, amount):
    form = CaseResolveForm(
        {"resolution": "Vale", "compensation": "voucher", "amount": typed, "code": "VALE"}, order_total=Decimal(2000)
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == amount


@pytest.mark.parametrize("typed", ["1.550", "1,550", "15,505", "15,5,0", "1.550.00", "1,550,00", "diez", "-5", "1e3"])
def test_an_ambiguous_or_unreadable_amount_is_refused_never_guessed(support, case, typed):
    events_before = Event.objects.count()

    response = resolve_with(support, case, typed, HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 400
    assert response.context["resolve_form"].errors["amount"] == [
        "Escribe el importe como 15,50: hasta dos decimales tras una coma o un punto."
    ]
    assert Case.objects.get(id=case.id).status == "open"
    assert Event.objects.count() == events_before


def test_the_amount_is_a_text_box_with_a_decimal_keypad_not_a_number_box(support, case):
    page = support.get(f"/staff/cases/{case.id}/").content.decode()

    (amount,) = re.findall(r'<input[^>]*name="amount"[^>]*>', page)
    assert 'type="text"' in amount
    assert 'inputmode="decimal"' in amount


def test_an_amount_refused_is_shown_again_as_typed(support, case):
    response = resolve_with(support, case, "1.550", HTTP_ACCEPT_LANGUAGE="es")

    assert re.search(r'<input[^>]*name="amount"[^>]*value="1.550"', response.content.decode())


@pytest.fixture
def case_about_an_order(shop):
    customer_id, _ = customer_register(customer={"email": "lola@example.es", "name": "Lola"}, channel="app", actor="t")
    order = shop(
        customer_id, order_id="APP-90", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}], fulfilment={"method": "ship"}
    )
    return case_services.case_open(
        customer_id=customer_id,
        channel="email",
        subject="Llegó rota",
        text="Una llegó rota",
        order_ref=order.id,
        actor="t",
    )


def test_a_compensation_worth_more_than_the_order_is_refused_naming_its_total(support, case_about_an_order):
    case = case_about_an_order

    shown = support.get(f"/staff/cases/{case.id}/", HTTP_ACCEPT_LANGUAGE="es")
    refused = resolve_with(support, case, "39,81", HTTP_ACCEPT_LANGUAGE="es")
    taken = resolve_with(support, case, "39,80", HTTP_ACCEPT_LANGUAGE="es")

    assert "Hasta 39,80 €, el total del pedido." in html.unescape(shown.content.decode())
    assert refused.status_code == 400
    assert refused.context["resolve_form"].errors["amount"] == [
        "Más que el total del pedido (39,80 €): un vale o un reembolso no puede valer más."
    ]
    assert taken.status_code == 302
    assert Case.objects.get(id=case.id).compensation["amount"] == "39.80"


def test_a_compensation_on_a_case_about_no_known_order_has_a_ceiling(support, case):
    refused = resolve_with(support, case, "500,01", HTTP_ACCEPT_LANGUAGE="en")
    taken = resolve_with(support, case, "500", HTTP_ACCEPT_LANGUAGE="en")

    assert refused.status_code == 400
    assert refused.context["resolve_form"].errors["amount"] == [
        f"More than {money_text(COMPENSATION_CEILING)}, the most a voucher or a refund may be worth here."
    ]
    assert taken.status_code == 302


def test_a_reply_form_resent_with_other_text_is_refused_as_already_recorded_and_keeps_the_text(support, case):
    form = {"action": "reply", "channel": "email", "text": "Se la enviamos hoy", "reply_id": str(uuid.uuid4())}
    assert support.post(f"/staff/cases/{case.id}/", form).status_code == 302
    events = Event.objects.count()

    edited = support.post(f"/staff/cases/{case.id}/", {**form, "text": "Se la enviamos mañana"})  # back, edit, send

    assert edited.status_code == 409
    page = html.unescape(edited.content.decode())
    assert "This was already recorded with other details; reload the page and try again." in page
    assert "Se la enviamos mañana" in page
    assert Event.objects.count() == events
