"""Service cases across channels, inbound messages from providers, and the satisfaction survey."""

import json
import uuid
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.messaging import signing
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import message_send, messages_drain
from customers import selectors, services
from customers.models import Case, CaseMessage, Consent, Customer
from tests.factories import ConsentFactory, interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(api_client_for):
    return api_client_for("support")


def _inbound(channel: str, payload: dict, *, secret_channel: str | None = None, signature: str | None = None):
    body = json.dumps(payload).encode()
    header = signature if signature is not None else signing.sign_for(secret_channel or channel, body)
    return APIClient().post(
        f"/api/v1/channels/{channel}/inbound", body, content_type="application/json", HTTP_X_SIGNATURE=header
    )


def _message(**overrides) -> dict:
    payload = {"provider_message_id": f"wamid-{uuid.uuid4().hex[:8]}", "from": "+34 600 111 222", "text": "Hola"}
    payload.update(overrides)
    return payload


def test_the_pizzeria_scenario_end_to_end_through_the_api(agent, outbox, django_capture_on_commit_callbacks):
    # Lucía orders in the app (the orders app may not know the order: the case keeps the reference loose).
    app_order = interaction(
        type="cart.checked_out",
        channel="app",
        customer={"email": "lucia@example.es", "phone": "600 111 222"},
        data={"cart_id": "app-cart-9", "order_id": "APP-1001"},
    )
    (ordered,) = services.interactions_ingest(raw_items=[app_order], actor="app")
    lucia = ordered.customer_id

    # She phones: the agent finds her by the number she calls from and opens a case about the app order.
    found = agent.get("/api/v1/customers", {"q": "600111222"}).json()["results"]
    assert [c["id"] for c in found] == [str(lucia)]
    opened = agent.post(
        "/api/v1/cases",
        {
            "customer_id": str(lucia),
            "channel": "phone",
            "subject": "Pizza equivocada",
            "text": "Pedí una margarita por la app y llegó una barbacoa",
            "order_ref": "APP-1001",
        },
    )
    assert opened.status_code == 201
    case_id = opened.json()["id"]

    # The phone agent sees the app history of the same person.
    detail = agent.get(f"/api/v1/cases/{case_id}").json()
    assert any(e["channel"] == "app" and e["type"] == "cart.checked_out" for e in detail["customer"]["recent_timeline"])
    assert detail["order_ref"] == "APP-1001"

    # The agent replies on WhatsApp (she wrote there before, so the 24-hour window is open).
    _inbound("whatsapp", _message(text="Sigo esperando respuesta"))
    with django_capture_on_commit_callbacks(execute=True):
        reply = agent.post(
            f"/api/v1/cases/{case_id}/messages",
            {"channel": "whatsapp", "text": "Lo sentimos, le enviamos un vale de 15 €"},
        )
    assert reply.status_code == 201
    assert [m.channel for m in outbox] == ["whatsapp"]
    assert outbox[0].to == "+34600111222"

    # Resolved with a voucher; the survey goes out on the case's channel or her preferred one.
    resolved = agent.post(
        f"/api/v1/cases/{case_id}/resolve",
        {"resolution": "Vale enviado", "compensation": {"kind": "voucher", "amount": "15.00", "code": "PIZZA15"}},
    )
    assert resolved.status_code == 200
    assert resolved.json()["compensation"] == {
        "kind": "voucher",
        "amount": "15.00",
        "currency": "EUR",
        "code": "PIZZA15",
    }
    # Tests share one outer transaction, where the pipeline wakes its drain once: run it as the worker would.
    messages_drain()
    survey = OutboundMessage.objects.get(idempotency_key=f"case-csat-{case_id}")
    assert len(outbox) == 2
    assert survey.purpose == "service"

    # She answers "5" on WhatsApp: the survey is answered.
    answered = _inbound("whatsapp", _message(text="5"))
    assert answered.json()["action"] == "csat"
    case = agent.get(f"/api/v1/cases/{case_id}").json()
    assert case["csat_score"] == 5
    assert [(m["direction"], m["channel"]) for m in case["thread"]] == [
        ("in", "phone"),
        ("in", "whatsapp"),
        ("out", "whatsapp"),
    ]
    assert case["first_response_at"] is not None
    assert case["sla"]["first_response_breached"] is False


def test_an_inbound_message_opens_a_case_then_joins_it(outbox):
    first = _inbound("sms", _message(text="Mi pedido no ha llegado", **{"from": "611 222 333"}))
    second = _inbound("sms", _message(text="¿Alguna novedad?", **{"from": "+34611222333"}))

    assert first.status_code == 200
    assert first.json()["action"] == "case_opened"
    assert second.json()["action"] == "case_message"
    assert second.json()["case_id"] == first.json()["case_id"]
    case = Case.objects.get(id=first.json()["case_id"])
    assert case.subject == "Mi pedido no ha llegado"
    assert case.message_count == 2
    assert Event.objects.filter(type="message.received", channel="sms").count() == 2


def test_the_same_provider_message_twice_is_handled_once(outbox):
    payload = _message(text="Hola, una duda")

    first = _inbound("whatsapp", payload)
    again = _inbound("whatsapp", payload)

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert CaseMessage.objects.count() == 1


def test_an_inbound_stop_on_sms_revokes_sms_marketing_and_suppresses_the_next_campaign_sms(outbox, grant_sms):
    customer_id = grant_sms("622 333 444")

    stopped = _inbound("sms", _message(text="BAJA", **{"from": "622333444"}))
    message = message_send(
        customer_id=customer_id,
        channel="sms",
        purpose="marketing",
        content={"text": "Rebajas: 20% en todo"},
        idempotency_key="campaign-1:sms",
        actor="campaign",
        campaign_id="campaign-1",
    )
    messages_drain()

    assert stopped.json()["action"] == "unsubscribed"
    assert not selectors.consent_allows(customer_id=customer_id, channel="sms", purpose="marketing")
    # The wording says how it was withdrawn, never the customer's words (they are not erased with the customer).
    revoked = Consent.objects.get(customer_id=customer_id, channel="sms", is_granted=False)
    assert revoked.wording == f"Opt-out keyword received on sms (inbound message {stopped.json()['event_id']})."
    assert selectors.consent_allows(customer_id=customer_id, channel="email", purpose="service")
    message.refresh_from_db()
    assert message.status == "suppressed"
    assert outbox == []
    assert not Case.objects.exists()


@pytest.fixture
def grant_sms():
    def make(phone: str) -> uuid.UUID:
        customer_id, _ = services.ingestion.customer_register(customer={"phone": phone}, channel="store", actor="t")
        ConsentFactory(customer_id=customer_id, channel="sms", source_channel="store", actor="t")
        return customer_id

    return make


@pytest.mark.parametrize(
    ("signature", "secret_channel"),
    [("", None), ("t=1,v1=deadbeef", None), (None, "email")],
    ids=["missing", "forged", "other-channels-secret"],
)
def test_a_bad_signature_is_a_401_and_writes_nothing(signature, secret_channel):
    events_before = Event.objects.count()

    response = _inbound("sms", _message(), signature=signature, secret_channel=secret_channel)

    assert response.status_code == 401
    assert Event.objects.count() == events_before
    assert not Customer.objects.exists()


def test_an_unknown_channel_is_a_404_problem_and_writes_nothing():
    response = _inbound("pigeon", _message(), secret_channel="sms")

    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "channel"
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider_message_id": "x", "from": "no es un teléfono", "text": "hola"}, "from"),
        ({"provider_message_id": "x", "from": "600111222"}, "text"),
        ({"provider_message_id": "x", "from": "600111222", "text": "hola", "extra": 1}, "extra"),
    ],
)
def test_a_malformed_inbound_message_is_a_400_naming_the_field(payload, field):
    response = _inbound("sms", payload)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Event.objects.exists()


@pytest.fixture
def open_case(agent):
    customer_id, _ = services.ingestion.customer_register(
        customer={"email": "pepe@example.es", "phone": "633444555"}, channel="web", actor="t"
    )
    body = agent.post(
        "/api/v1/cases",
        {"customer_id": str(customer_id), "channel": "email", "subject": "Factura", "text": "¿Y la factura?"},
    ).json()
    return body["id"]


def test_a_reply_to_a_resolved_case_is_a_409_and_sends_nothing(agent, open_case, outbox):
    agent.post(f"/api/v1/cases/{open_case}/resolve", {"resolution": "Enviada"})
    events_before = Event.objects.count()
    messages_before = OutboundMessage.objects.count()

    response = agent.post(f"/api/v1/cases/{open_case}/messages", {"channel": "email", "text": "Otra cosa"})

    assert response.status_code == 409
    assert response.json()["case_status"] == "resolved"
    assert Event.objects.count() == events_before
    assert OutboundMessage.objects.count() == messages_before


@pytest.fixture
def sms_case():
    customer_id, _ = services.ingestion.customer_register(
        customer={"email": "marta@example.es", "phone": "600222333"}, channel="app", actor="t"
    )
    return services.cases.case_open(customer_id=customer_id, channel="sms", subject="Pedido", text="Hola", actor="t")


def test_the_survey_of_a_case_on_a_channel_switched_off_goes_on_one_switched_on(sms_case):
    from backoffice.messaging.models import ChannelSetting
    from backoffice.messaging.services.channel_settings import channel_setting_save

    channel_setting_save(setting=ChannelSetting(channel="sms", is_enabled=False), actor="t")

    services.cases.case_resolve(case_id=sms_case.id, resolution="Hecho", actor="t")

    survey = OutboundMessage.objects.get(idempotency_key=f"case-csat-{sms_case.id}")
    assert survey.channel in ("push", "email")  # the preferred channel switched on, never sms


@pytest.mark.parametrize(
    ("subject", "survey_text", "is_survey_sent"),
    [
        ("No me ha llegado el pedido", None, True),
        ("\U0001f621" * 60, None, True),  # an angry first SMS line as the subject: the survey does not quote it
        ("Pedido", "\U0001f621" * 100, False),  # a survey the channel refuses: the resolution stands without it
    ],
    ids=["plain", "emoji-subject", "refused-survey"],
)
def test_an_sms_case_is_resolved_when_operations_cap_sms_at_one_segment(
    monkeypatch, caplog, subject, survey_text, is_survey_sent
):
    from backoffice.messaging.models import ChannelSetting
    from backoffice.messaging.services.channel_settings import channel_setting_save
    from customers.services import cases

    channel_setting_save(setting=ChannelSetting(channel="sms", max_sms_segments=1), actor="t")
    if survey_text:
        monkeypatch.setattr(cases, "SMS_SURVEY_TEXT", survey_text)
    customer_id, _ = services.ingestion.customer_register(customer={"phone": "600222333"}, channel="sms", actor="t")
    case = cases.case_open(customer_id=customer_id, channel="sms", subject=subject, text="...", actor="t")

    cases.case_resolve(case_id=case.id, resolution="Reenviado", actor="t")

    assert Case.objects.get(id=case.id).status == "resolved"
    assert selectors.case_survey_queued(case_id=case.id) is is_survey_sent
    if is_survey_sent:
        survey = OutboundMessage.objects.get(idempotency_key=f"case-csat-{case.id}")
        (queued,) = [e for e in store.read_stream(f"message-{survey.id}") if e.type == "message.queued"]
        assert (survey.channel, queued.data["content"]) == ("sms", {"text": cases.SMS_SURVEY_TEXT})
    else:
        assert "satisfaction survey not sent on sms (too_many_segments" in caplog.text


@pytest.mark.parametrize(
    ("quiet_for", "sent_as"),
    [(timedelta(minutes=10), "text"), (timedelta(hours=1), "template")],
    ids=["quiet-hours-end-in-the-window", "quiet-hours-end-past-the-window"],
)
def test_a_whatsapp_reply_held_by_quiet_hours_reaches_the_customer_as_text_or_as_the_template(
    settings, monkeypatch, quiet_for, sent_as
):
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from backoffice.messaging.services.pipeline import messages_release_deferred
    from customers.services.inbound import inbound_message_receive

    now = timezone.now()
    # She wrote on WhatsApp 23.5 hours ago: the 24-hour window closes in half an hour.
    written = inbound_message_receive(
        channel="whatsapp",
        payload={
            "provider_message_id": "wamid.1",
            "from": "34600222333",
            "text": "¿Dónde está mi pedido?",
            "received_at": (now - timedelta(hours=23, minutes=30)).isoformat(),
        },
        actor="t",
    )
    # Quiet hours (her local time) began a minute ago.
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    settings.MESSAGING_QUIET_HOURS = f"{(local - timedelta(minutes=1)):%H:%M}-{(local + quiet_for):%H:%M}"

    services.cases.case_reply(case_id=written.case_id, channel="whatsapp", text="Sale hoy", actor="t")
    messages_drain()  # held by quiet hours
    monkeypatch.setattr(timezone, "now", lambda: now + quiet_for + timedelta(minutes=5))
    messages_release_deferred()
    messages_drain()

    reply = OutboundMessage.objects.get(case_id=str(written.case_id), channel="whatsapp")
    assert reply.status == "sent", (reply.status, reply.reason)
    (queued,) = [e for e in store.read_stream(f"message-{reply.id}") if e.type == "message.queued"]
    expected = {"text": "Sale hoy"} if sent_as == "text" else {"template": "case_update", "parameters": ["Sale hoy"]}
    assert queued.data["content"] == expected


@pytest.fixture
def erased_open_case(open_case, monkeypatch):
    """An erased customer's case left open: erased before erasure closed their cases."""
    from customers.services import gdpr

    monkeypatch.setattr(gdpr, "_open_case_ids", lambda customer_ids: [])
    services.customer_erase(customer_id=Case.objects.get(id=open_case).customer_id, actor="t")
    assert Case.objects.get(id=open_case).status == "open"
    return open_case


@pytest.mark.parametrize("channel", ["email", "phone"])
def test_a_reply_to_an_erased_customers_case_is_a_409_erased_and_writes_nothing(agent, erased_open_case, channel):
    events_before, messages_before = Event.objects.count(), OutboundMessage.objects.count()

    response = agent.post(f"/api/v1/cases/{erased_open_case}/messages", {"channel": channel, "text": "Hola"})

    assert response.status_code == 409
    assert response.json()["type"].endswith("/erased")
    assert (Event.objects.count(), OutboundMessage.objects.count()) == (events_before, messages_before)


def test_an_erased_customers_open_case_is_closed_without_its_text_compensation_or_survey(agent, erased_open_case):
    voucher = {"kind": "voucher", "amount": "5", "code": "PERDON5"}
    refused = agent.post(
        f"/api/v1/cases/{erased_open_case}/resolve", {"resolution": "Vale", "compensation": voucher}, format="json"
    )
    surveys = OutboundMessage.objects.filter(idempotency_key__startswith="case-csat-")

    response = agent.post(f"/api/v1/cases/{erased_open_case}/resolve", {"resolution": "Cerrado, le llamé a casa"})

    assert refused.status_code == 409
    assert response.status_code == 200, response.content
    case = Case.objects.get(id=erased_open_case)
    assert (case.status, case.resolution, case.compensation["kind"]) == ("resolved", "", "none")
    closing = Event.objects.get(stream=f"case-{erased_open_case}", type="case.resolved")
    assert closing.data == {
        "case_id": erased_open_case,
        "resolution": "",
        "compensation": {"kind": "none", "amount": "", "currency": "EUR", "code": ""},
        "closed_because": "customer_erased",
    }
    assert not surveys.exists()


def test_a_reply_on_a_channel_the_customer_cannot_be_reached_on_is_a_400(agent, open_case):
    events_before = Event.objects.count()

    response = agent.post(f"/api/v1/cases/{open_case}/messages", {"channel": "instagram", "text": "Hola"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "channel"
    assert "email" in response.json()["reachable"]
    assert Event.objects.count() == events_before


@pytest.mark.parametrize("score", [0, 6, "five"])
def test_a_csat_out_of_range_is_a_400_and_writes_nothing(agent, open_case, score):
    agent.post(f"/api/v1/cases/{open_case}/resolve", {"resolution": "Hecho"})
    events_before = Event.objects.count()

    response = agent.post(f"/api/v1/cases/{open_case}/csat", {"score": score, "channel": "email"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "score"
    assert Event.objects.count() == events_before


def test_csat_before_resolution_or_twice_is_a_409(agent, open_case):
    early = agent.post(f"/api/v1/cases/{open_case}/csat", {"score": 4, "channel": "email"})
    agent.post(f"/api/v1/cases/{open_case}/resolve", {"resolution": "Hecho"})
    first = agent.post(f"/api/v1/cases/{open_case}/csat", {"score": 4, "channel": "email"})
    second = agent.post(f"/api/v1/cases/{open_case}/csat", {"score": 1, "channel": "email"})

    assert early.status_code == 409
    assert first.status_code == 201
    assert second.status_code == 409
    assert Case.objects.get(id=open_case).csat_score == 4


def test_a_voucher_without_a_code_is_a_400_naming_it(agent, open_case):
    response = agent.post(
        f"/api/v1/cases/{open_case}/resolve", {"resolution": "Vale", "compensation": {"kind": "voucher", "amount": "5"}}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "compensation.code"
    assert Case.objects.get(id=open_case).status == "open"


def test_the_inbox_filters_by_channel_status_and_sla_breach(agent, open_case, settings):
    from datetime import timedelta

    _inbound("sms", _message(text="Hola", **{"from": "644555666"}))
    settings.CASES_SLA = {"first_response": timedelta(seconds=-1), "resolution": timedelta(days=2)}

    by_channel = agent.get("/api/v1/cases", {"channel": "sms"}).json()["results"]
    breached = agent.get("/api/v1/cases", {"breached": "true"}).json()["results"]
    resolved = agent.get("/api/v1/cases", {"status": "resolved"}).json()["results"]

    assert [c["channel"] for c in by_channel] == ["sms"]
    assert len(breached) == 2
    assert all(c["sla"]["first_response_breached"] for c in breached)
    assert resolved == []
    assert agent.get("/api/v1/cases", {"breached": "maybe"}).status_code == 400
    assert agent.get("/api/v1/cases", {"channel": "fax"}).status_code == 400


def test_the_360_view_lists_open_cases(agent, open_case):
    customer_id = Case.objects.get(id=open_case).customer_id

    view = agent.get(f"/api/v1/customers/{customer_id}").json()

    assert [c["id"] for c in view["open_cases"]] == [open_case]


def test_marketing_staff_see_no_cases(api_client_for, open_case):
    assert api_client_for("marketing").get("/api/v1/cases").status_code == 403


@pytest.mark.parametrize(
    "again",
    [
        {"customer": "other", "channel": "phone", "subject": "Otra cosa"},  # another person's request
        {"customer": {"email": "nadie.conocido@example.es"}, "channel": "email", "subject": "Mi pedido"},  # nobody
        {"customer": "ana", "channel": "email", "subject": "Otro asunto"},  # the same person, another case
    ],
    ids=["another-person", "unknown-identifiers", "another-subject"],
)
def test_a_case_id_sent_again_for_another_opening_is_a_409_never_the_first_case(api_client_for, again):
    """The same id with the same opening answers the case; with another one it is a conflict: never the first
    case's subject and resolution to whoever reuses its id, and nobody registered by a resend."""
    from tests.factories import CustomerFactory

    client = api_client_for("support")
    people = {"ana": str(CustomerFactory(email="ana@example.es").id), "other": str(CustomerFactory().id)}
    case_id = str(uuid.uuid4())
    first = {"id": case_id, "customer": people["ana"], "channel": "email", "subject": "Mi pedido", "text": "hola"}
    assert client.post("/api/v1/cases", first, format="json").status_code == 201
    assert client.post("/api/v1/cases", first, format="json").status_code == 200  # a resend: the case
    customers, events = Customer.objects.count(), Event.objects.count()
    customer = (
        people.get(again["customer"], again["customer"]) if isinstance(again["customer"], str) else again["customer"]
    )

    response = client.post("/api/v1/cases", {**first, **again, "customer": customer}, format="json")

    assert response.status_code == 409
    assert "Mi pedido" not in response.content.decode()
    assert (Customer.objects.count(), Event.objects.count()) == (customers, events)


# --- A reply's id is its idempotency key: the same reply again is answered as recorded, another message is a 409 ---


def test_a_reply_sent_again_with_its_id_is_answered_as_recorded_and_sent_once(agent, open_case):
    message_id = str(uuid.uuid4())
    reply = {"id": message_id, "channel": "email", "text": "Ya está enviado"}
    first = agent.post(f"/api/v1/cases/{open_case}/messages", reply)
    events, messages = Event.objects.count(), OutboundMessage.objects.count()

    again = agent.post(f"/api/v1/cases/{open_case}/messages", reply)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["message_count"] == first.json()["message_count"]
    assert (Event.objects.count(), OutboundMessage.objects.count()) == (events, messages)


@pytest.mark.parametrize(
    "other",
    [
        {"channel": "email", "text": "Le devolvemos 10 EUR"},
        {"channel": "phone", "text": "Ya está enviado"},
        {"channel": "email", "text": "Ya está enviado", "direction": "in"},
    ],
    ids=["other-text", "other-channel", "from-the-customer"],
)
def test_a_case_message_id_reused_for_another_message_is_a_409_not_a_silent_201(agent, open_case, other):
    message_id = str(uuid.uuid4())
    first = agent.post(
        f"/api/v1/cases/{open_case}/messages", {"id": message_id, "channel": "email", "text": "Ya está enviado"}
    )
    assert first.status_code == 201
    events, messages = Event.objects.count(), OutboundMessage.objects.count()

    response = agent.post(f"/api/v1/cases/{open_case}/messages", {"id": message_id, **other})

    # As every other idempotency key of the API (events, consents, orders, steps, stock movements).
    assert response.status_code == 409, (response.status_code, response.json())
    assert response.json()["type"].endswith("/idempotency_conflict")
    assert (Event.objects.count(), OutboundMessage.objects.count()) == (events, messages)
    assert agent.get(f"/api/v1/cases/{open_case}").json()["message_count"] == first.json()["message_count"]


def test_a_case_message_id_used_on_another_case_is_a_409_not_answered_as_recorded(agent):
    from tests.factories import CaseFactory, CustomerFactory

    customer = CustomerFactory()
    case_a, case_b = CaseFactory(customer_id=customer.id), CaseFactory(customer_id=customer.id)
    message_id = str(uuid.uuid4())
    agent.post(f"/api/v1/cases/{case_a.id}/messages", {"id": message_id, "channel": "email", "text": "Hola"})
    before = agent.get(f"/api/v1/cases/{case_b.id}").json()["message_count"]
    events = Event.objects.count()

    on_b = agent.post(f"/api/v1/cases/{case_b.id}/messages", {"id": message_id, "channel": "email", "text": "Hola"})

    assert on_b.status_code == 409, (on_b.status_code, on_b.json())
    assert on_b.json()["errors"][0]["field"] == "id"
    assert Event.objects.count() == events
    assert agent.get(f"/api/v1/cases/{case_b.id}").json()["message_count"] == before
