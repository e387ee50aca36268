"""WhatsApp Cloud API, Messenger and Instagram through Meta: Graph API calls to a loopback server, and Meta's webhook
(the GET handshake, X-Hub-Signature-256 on every POST) with payloads in Meta's documented shapes."""

import copy
import time

import pytest

from backoffice.eventstore.models import Event
from backoffice.messaging.models import Status
from backoffice.messaging.services import messages_drain
from customers.models import Case, CustomerIdentifier
from customers.selectors import consent_allows
from customers.services.inbound import inbound_message_receive
from customers.services.ingestion import customer_register

from .conftest import META_VERIFY, fixture, meta_post, unique_key
from .helpers import send_and_drain, written

pytestmark = pytest.mark.django_db

PHONE = "+34600111222"


@pytest.fixture
def meta_whatsapp(providers, settings):
    settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, "whatsapp": "meta"}
    return providers


def whatsapp_value(payload: dict) -> dict:
    return payload["entry"][0]["changes"][0]["value"]


def status_payload(name: str, wamid: str, *, status: str | None = None) -> dict:
    payload = copy.deepcopy(fixture(name))
    item = whatsapp_value(payload)["statuses"][0]
    item.update({"id": wamid, "recipient_id": PHONE.lstrip("+"), "timestamp": str(int(time.time()))})
    if status:
        item["status"] = status
    return payload


def text_payload(sender: str, text: str, *, message_id: str | None = None, later: int = 0) -> dict:
    payload = copy.deepcopy(fixture("meta_whatsapp_text.json"))
    value = whatsapp_value(payload)
    value["contacts"][0]["wa_id"] = sender
    value["messages"][0].update(
        {"from": sender, "id": message_id or f"wamid.{unique_key()}", "timestamp": str(int(time.time()) + later)}
    )
    value["messages"][0]["text"]["body"] = text
    return payload


def test_the_handshake_answers_the_challenge_only_with_the_right_verify_token(providers, client):
    url = "/api/v1/providers/meta/webhook"
    right = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "1158201444"})
    wrong = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    mode = client.get(url, {"hub.mode": "unsubscribe", "hub.verify_token": META_VERIFY, "hub.challenge": "1"})

    assert right.status_code == 200
    assert right.content == b"1158201444"
    assert (wrong.status_code, mode.status_code) == (403, 403)
    assert b"1158201444" not in wrong.content


def test_the_handshake_refuses_everything_without_a_verify_token_configured(providers, client, settings):
    settings.META_VERIFY_TOKEN = ""
    response = client.get(
        "/api/v1/providers/meta/webhook", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    )
    assert response.status_code == 403


def test_whatsapp_text_goes_to_the_cloud_api_inside_the_window(meta_whatsapp, customer):
    person = customer(phone=PHONE)
    inbound_message_receive(
        channel="whatsapp", payload={"provider_message_id": unique_key(), "from": PHONE, "text": "Hola"}, actor="t"
    )

    row = send_and_drain(person, "whatsapp", {"text": "¿En qué te ayudamos?", "buttons": ["Pedido", "Tienda"]})

    (request,) = meta_whatsapp.by("meta")
    body = request.json()
    assert row.status == Status.SENT
    assert row.provider_message_id.startswith("wamid.")
    assert request.path == "/v21.0/106540352242922/messages"
    assert request.headers["Authorization"] == "Bearer meta-test-token"
    assert (body["messaging_product"], body["to"], body["type"]) == ("whatsapp", "34600111222", "interactive")
    assert [b["reply"]["title"] for b in body["interactive"]["action"]["buttons"]] == ["Pedido", "Tienda"]


def test_whatsapp_outside_the_window_goes_as_a_template(meta_whatsapp, customer):
    row = send_and_drain(
        customer(phone=PHONE),
        "whatsapp",
        {"template": "winter_sale", "parameters": ["Ana", "FRIO20"], "language": "es"},
    )

    body = meta_whatsapp.by("meta")[0].json()
    assert row.status == Status.SENT
    assert body["type"] == "template"
    assert body["template"]["name"] == "winter_sale"
    assert body["template"]["language"] == {"code": "es"}
    assert body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Ana"},
        {"type": "text", "text": "FRIO20"},
    ]


def test_a_signed_status_is_recorded_once_and_resent_records_nothing(meta_whatsapp, customer, client):
    row = send_and_drain(customer(phone=PHONE), "whatsapp", {"template": "case_update", "parameters": []})
    payload = status_payload("meta_whatsapp_status.json", row.provider_message_id)

    first = meta_post(client, payload)
    before = written()
    again = meta_post(client, payload)
    read = meta_post(client, status_payload("meta_whatsapp_status.json", row.provider_message_id, status="read"))

    assert (first.status_code, again.status_code, read.status_code) == (200, 200, 200)
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert Event.objects.filter(type="message.read", stream=f"message-{row.id}").count() == 1
    assert written()[0] == before[0] + 1  # the read, nothing of the resent delivery


def test_a_bad_signature_is_401_and_writes_nothing(meta_whatsapp, customer, client):
    row = send_and_drain(customer(phone=PHONE), "whatsapp", {"template": "case_update", "parameters": []})
    payload = status_payload("meta_whatsapp_status.json", row.provider_message_id)
    before = written()

    forged = meta_post(client, payload, secret="not-the-app-secret")
    missing = meta_post(client, payload, signature="")
    sha1 = meta_post(client, payload, signature="sha1=0123")
    non_ascii = meta_post(client, payload, signature="sha256=\u00e9")

    assert (forged.status_code, missing.status_code, sha1.status_code, non_ascii.status_code) == (401, 401, 401, 401)
    assert written() == before


def test_a_failed_status_with_an_undeliverable_number_marks_it_and_stops_further_sends(meta_whatsapp, customer, client):
    person = customer(phone=PHONE)
    row = send_and_drain(person, "whatsapp", {"template": "case_update", "parameters": []})

    response = meta_post(client, status_payload("meta_whatsapp_failed.json", row.provider_message_id))

    assert response.status_code == 200
    failed = Event.objects.get(type="message.failed", stream=f"message-{row.id}", data__terminal=True)
    assert "131026" in failed.data["reason"]
    assert CustomerIdentifier.objects.get(customer_id=person, kind="phone").undeliverable_at is not None
    following = send_and_drain(person, "whatsapp", {"template": "case_update", "parameters": []})
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_address")


@pytest.mark.parametrize("code", [{"value": 131026}, [131026]])
def test_a_failed_status_whose_error_code_is_not_a_number_is_400_naming_it(meta_whatsapp, customer, client, code):
    row = send_and_drain(customer(phone=PHONE), "whatsapp", {"template": "case_update", "parameters": []})
    payload = status_payload("meta_whatsapp_failed.json", row.provider_message_id)
    whatsapp_value(payload)["statuses"][0]["errors"][0]["code"] = code
    before = written()

    response = meta_post(client, payload)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "entry.0.changes.0.value.statuses.0.errors.0.code"
    assert written() == before


def test_a_reaction_to_our_message_is_recorded_on_it_and_opens_no_case(meta_whatsapp, customer, client):
    person = customer(phone=PHONE)
    row = send_and_drain(person, "whatsapp", {"template": "case_update", "parameters": []})
    payload = copy.deepcopy(fixture("meta_whatsapp_reaction.json"))
    message = whatsapp_value(payload)["messages"][0]
    message.update({"from": PHONE.lstrip("+"), "timestamp": str(int(time.time()))})
    message["reaction"]["message_id"] = row.provider_message_id

    response = meta_post(client, payload)

    assert response.status_code == 200
    reacted = Event.objects.get(type="message.reacted", stream=f"message-{row.id}")
    assert reacted.data["emoji"] == "👍"
    assert not Case.objects.filter(customer_id=person).exists()


def test_whatsapp_from_an_unknown_number_opens_a_case_for_a_new_customer(meta_whatsapp, client):
    payload = text_payload("34699000333", "¿Tenéis la talla M?")

    first = meta_post(client, payload)
    before = written()
    again = meta_post(client, payload)

    assert (first.status_code, again.status_code) == (200, 200)
    customer_id = CustomerIdentifier.objects.get(kind="phone", value="+34699000333").customer_id
    assert Case.objects.get(customer_id=customer_id).channel == "whatsapp"
    assert written() == before


def test_whatsapp_stop_withdraws_marketing_and_the_next_campaign_message_is_suppressed(
    meta_whatsapp, customer, grant, client
):
    person = customer(phone=PHONE)
    grant(person, "whatsapp")

    # WhatsApp times are whole seconds: the STOP is a second after the consent given this second.
    response = meta_post(client, text_payload(PHONE.lstrip("+"), "BAJA", later=1))

    assert response.status_code == 200
    assert not consent_allows(customer_id=person, channel="whatsapp", purpose="marketing")
    following = send_and_drain(
        person, "whatsapp", {"template": "winter_sale", "parameters": ["Ana"]}, purpose="marketing", campaign_id="c-1"
    )
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")
    assert meta_whatsapp.by("meta") == []


def preferences_payload(wa_id: str, value: str, *, later: int = 0) -> dict:
    """A person stopped (or resumed) marketing messages in WhatsApp: the `user_preferences` field, no message."""
    payload = copy.deepcopy(fixture("meta_whatsapp_user_preferences.json"))
    changed = whatsapp_value(payload)
    changed["contacts"][0]["wa_id"] = wa_id
    changed["user_preferences"][0].update({"wa_id": wa_id, "value": value, "timestamp": int(time.time()) + later})
    return payload


def test_a_user_who_stops_marketing_in_whatsapp_has_whatsapp_marketing_withdrawn(
    meta_whatsapp, customer, grant, client
):
    """WhatsApp's "Stop promotions": the same preference a failed send's 131050 reports, told before any send fails."""
    person = customer(phone=PHONE)
    grant(person, "whatsapp")
    payload = preferences_payload(PHONE.lstrip("+"), "stop")  # the same whole second as the grant

    response = meta_post(client, payload)
    before = written()
    again = meta_post(client, payload)

    assert response.status_code == 200
    assert response.json() == {"messages": 0, "statuses": 0, "preferences": 1, "ignored": 0}
    assert not consent_allows(customer_id=person, channel="whatsapp", purpose="marketing"), (
        f"WhatsApp said the user stopped marketing messages; answered {response.json()} and consent is still granted"
    )
    (revoked,) = Event.objects.filter(type="consent.revoked", customer_id=person)
    assert revoked.data["channel"] == "whatsapp"
    assert revoked.data["wording"].startswith("Marketing messages stopped in the whatsapp app")
    assert (again.status_code, written()) == (200, before)  # the same notice again changes nothing
    # Not a message: no case, and WhatsApp's 24-hour window stays as it was.
    assert not Event.objects.filter(type="message.received").exists()
    assert not Case.objects.exists()
    following = send_and_drain(
        person, "whatsapp", {"template": "winter_sale", "parameters": ["Ana"]}, purpose="marketing", campaign_id="c-1"
    )
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")


def test_a_user_who_resumes_marketing_in_whatsapp_is_not_taken_as_consent(meta_whatsapp, customer, client):
    person = customer(phone=PHONE)
    meta_post(client, preferences_payload(PHONE.lstrip("+"), "stop"))
    before = written()

    response = meta_post(client, preferences_payload(PHONE.lstrip("+"), "resume", later=1))

    assert response.json() == {"messages": 0, "statuses": 0, "preferences": 0, "ignored": 1}
    assert written() == before
    assert not consent_allows(customer_id=person, channel="whatsapp", purpose="marketing")


def test_a_stop_from_a_number_we_do_not_know_is_acknowledged_and_registers_nobody(meta_whatsapp, client):
    response = meta_post(client, preferences_payload("34699000333", "stop"))

    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert written() == (0, 0)


def test_a_user_preferences_change_without_a_wa_id_is_400_naming_it(meta_whatsapp, client):
    payload = preferences_payload(PHONE.lstrip("+"), "stop")
    del whatsapp_value(payload)["user_preferences"][0]["wa_id"]

    response = meta_post(client, payload)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "entry.0.changes.0.value.user_preferences.0.wa_id"


def test_whatsapps_system_notice_in_messages_opens_no_case(meta_whatsapp, customer, client):
    person = customer(phone=PHONE)
    payload = text_payload(PHONE.lstrip("+"), "unused")
    message = whatsapp_value(payload)["messages"][0]
    del message["text"]
    message.update(
        {"type": "system", "system": {"type": "user_preference_changed", "body": "User stopped marketing messages"}}
    )

    response = meta_post(client, payload)

    assert response.json() == {"messages": 0, "statuses": 0, "preferences": 0, "ignored": 1}
    assert not Case.objects.filter(customer_id=person).exists()
    assert not Event.objects.filter(type="message.received").exists()


def test_messenger_message_opens_a_case_and_a_reply_goes_to_the_send_api(providers, client):
    payload = copy.deepcopy(fixture("meta_messenger_message.json"))
    payload["entry"][0]["messaging"][0]["timestamp"] = int(time.time() * 1000)

    response = meta_post(client, payload)

    assert response.status_code == 200
    customer_id = CustomerIdentifier.objects.get(kind="facebook_id", value="6754895623408899").customer_id
    assert Case.objects.get(customer_id=customer_id).channel == "facebook"
    row = send_and_drain(customer_id, "facebook", {"text": "Hola, ¿en qué podemos ayudarte?"})
    (request,) = providers.by("meta")
    assert row.status == Status.SENT
    assert request.path == "/v21.0/me/messages"
    assert request.json() == {
        "recipient": {"id": "6754895623408899"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hola, ¿en qué podemos ayudarte?"},
    }
    delivery = copy.deepcopy(fixture("meta_messenger_delivery.json"))
    delivery["entry"][0]["messaging"][0]["delivery"]["mids"] = [row.provider_message_id]
    assert meta_post(client, delivery).status_code == 200
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1


def test_instagram_message_opens_a_case_and_stop_withdraws_instagram_marketing(providers, client, grant):
    payload = copy.deepcopy(fixture("meta_instagram_message.json"))
    payload["entry"][0]["messaging"][0]["timestamp"] = int(time.time() * 1000)

    assert meta_post(client, payload).status_code == 200
    customer_id = CustomerIdentifier.objects.get(kind="instagram_id", value="1234567890123456").customer_id
    assert Case.objects.get(customer_id=customer_id).channel == "instagram"

    grant(customer_id, "instagram")
    stop = copy.deepcopy(payload)
    stop["entry"][0]["messaging"][0]["message"].update({"mid": "aWdfZAG1f-stop", "text": "STOP"})
    stop["entry"][0]["messaging"][0]["timestamp"] = int(time.time() * 1000) + 1000
    assert meta_post(client, stop).status_code == 200
    assert not consent_allows(customer_id=customer_id, channel="instagram", purpose="marketing")
    following = send_and_drain(customer_id, "instagram", {"text": "Rebajas"}, purpose="marketing", campaign_id="c-1")
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")
    assert providers.by("meta") == []


def test_a_status_for_a_message_that_is_not_ours_is_acknowledged_and_kept_for_a_retry(meta_whatsapp, client):
    from backoffice.messaging.models import UnmatchedCallback

    customer_register(customer={"phone": PHONE}, channel="web", actor="t")
    before = written()

    response = meta_post(client, status_payload("meta_whatsapp_status.json", "wamid.not-ours"))

    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert written() == before  # no event: it names no message of ours (yet)
    kept = UnmatchedCallback.objects.get()
    assert (kept.source, kept.channel, kept.provider_message_id, kept.state) == (
        "meta.webhook",
        "whatsapp",
        "wamid.not-ours",
        "pending",
    )


def test_a_post_with_many_statuses_records_each_once_and_ignores_those_not_ours(meta_whatsapp, customer, client):
    rows = [
        send_and_drain(customer(phone=f"+3460011100{n}"), "whatsapp", {"template": "case_update", "parameters": []})
        for n in range(3)
    ]
    payload = status_payload("meta_whatsapp_status.json", rows[0].provider_message_id)
    template = whatsapp_value(payload)["statuses"][0]
    whatsapp_value(payload)["statuses"] = [
        *({**template, "id": row.provider_message_id} for row in rows),
        {**template, "id": rows[0].provider_message_id, "status": "read"},
        {**template, "id": "wamid.not-ours"},
    ]

    first = meta_post(client, payload)
    before = written()
    again = meta_post(client, payload)

    assert first.json() == {"messages": 0, "statuses": 4, "preferences": 0, "ignored": 1}
    assert again.json() == {"messages": 0, "statuses": 4, "preferences": 0, "ignored": 1}
    assert written() == before
    assert Event.objects.filter(type="message.delivered", channel="whatsapp").count() == 3
    rows[0].refresh_from_db()
    assert rows[0].delivery_status == "read"


def test_a_messenger_reaction_is_recorded_on_our_message(providers, client):
    customer_id = customer_register(customer={"facebook_id": "6754895623408899"}, channel="web", actor="t")[0]
    row = send_and_drain(customer_id, "facebook", {"text": "¿Te ayudamos?"})
    payload = copy.deepcopy(fixture("meta_messenger_message.json"))
    item = payload["entry"][0]["messaging"][0]
    del item["message"]
    item["timestamp"] = int(time.time() * 1000)
    item["reaction"] = {"mid": row.provider_message_id, "action": "react", "reaction": "love", "emoji": "\u2764"}

    assert meta_post(client, payload).status_code == 200
    assert Event.objects.get(type="message.reacted", stream=f"message-{row.id}").data["emoji"] == "❤"


def test_a_send_whose_answer_timed_out_is_held_for_review_not_sent_twice(meta_whatsapp, customer, settings):
    """The Graph API accepted the message but answered after our timeout: it may be on its way, and Meta drops no
    repeated key, so the drain holds it for review instead of sending it again."""
    settings.MESSAGING_WEBHOOK_TIMEOUT = 0.5
    settings.MESSAGING_RETRY_BACKOFF_SECONDS = 0
    person = customer(phone=PHONE)
    inbound_message_receive(
        channel="whatsapp", payload={"provider_message_id": unique_key(), "from": PHONE, "text": "Hola"}, actor="t"
    )
    meta_whatsapp.hold_at = meta_whatsapp.count + 1  # the next request is taken, and answered only when released

    row = send_and_drain(person, "whatsapp", {"text": "Tu pedido ha salido"})
    meta_whatsapp.release.set()
    messages_drain()

    row.refresh_from_db()
    assert (row.status, row.reason) == (Status.REVIEW, "outcome_unknown")
    assert len([r for r in meta_whatsapp.by("meta") if r.path.endswith("/messages")]) == 1
