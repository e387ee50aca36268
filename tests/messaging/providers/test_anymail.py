"""Email through django-anymail (Postmark as the ESP, its API on a loopback server) and anymail's Postmark tracking
and inbound webhooks, with payloads in Postmark's documented shapes; bounces also through anymail's Brevo, Mailjet
and Amazon SES tracking parsers, with those ESPs' documented payloads."""

import copy
import json
from datetime import UTC, datetime

import pytest
from anymail.signals import tracking as anymail_tracking
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage, Status
from backoffice.messaging.providers.anymail import bounce_is_permanent
from backoffice.messaging.services import message_send, messages_drain
from customers.models import Case, CustomerIdentifier
from customers.selectors import consent_allows

from .conftest import anymail_post, fixture, unique_key
from .helpers import send_and_drain, written

pytestmark = pytest.mark.django_db

EMAIL = {"subject": "Rebajas", "body": "20% en abrigos"}


def tracking(name: str, row: OutboundMessage, **changes) -> dict:
    """A documented Postmark webhook example about our message: its MessageID and the metadata we sent with it."""
    event = copy.deepcopy(fixture(name))
    event["MessageID"] = row.provider_message_id
    event["Metadata"] = {"message_id": str(row.id)}
    # The example's 2019 time, moved to now: the callback comes after the send (and after any consent given).
    for key in ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt"):
        if key in event:
            event[key] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for key in ("Recipient", "Email"):
        if key in event:
            event[key] = changes.pop("address", event[key])
    event.update(changes)
    return event


def address_of(customer_id) -> str:
    return CustomerIdentifier.objects.get(customer_id=customer_id, kind="email").value


def test_marketing_mail_goes_to_the_esp_with_our_id_as_metadata_and_one_click_unsubscribe(providers, customer, grant):
    person = customer()
    grant(person, "email")

    row = send_and_drain(person, "email", EMAIL, purpose="marketing", campaign_id="c-1")

    assert row.status == Status.SENT
    (request,) = providers.by("postmark")
    sent = request.json()
    assert row.provider_message_id
    assert sent["To"] == address_of(person)
    assert sent["Metadata"] == {"message_id": str(row.id), "campaign_id": "c-1"}
    assert sent["Tag"] == "marketing"
    headers = {h["Name"]: h["Value"] for h in sent["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<https://backoffice.example.es/api/v1/providers/email/unsubscribe/")
    assert headers["Message-ID"] == f"<{row.id}@backoffice.example>"


def test_service_mail_has_no_list_unsubscribe(providers, customer):
    row = send_and_drain(customer(), "email", EMAIL)

    headers = {h["Name"] for h in providers.by("postmark")[0].json().get("Headers", [])}
    assert row.status == Status.SENT
    assert "List-Unsubscribe" not in headers


def test_a_delivery_callback_is_recorded_once_and_resent_records_nothing(providers, customer, client):
    row = send_and_drain(customer(), "email", EMAIL)
    event = tracking("postmark_delivery.json", row)

    first = anymail_post(client, event)
    before = written()
    again = anymail_post(client, event)

    assert (first.status_code, again.status_code) == (200, 200)
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert written() == before
    row.refresh_from_db()
    assert row.delivery_status == "delivered"


def test_wrong_basic_auth_is_401_and_writes_nothing(providers, customer, client):
    row = send_and_drain(customer(), "email", EMAIL)
    before = written()

    wrong = anymail_post(client, tracking("postmark_delivery.json", row), auth="anymail-user:guess")
    missing = anymail_post(client, tracking("postmark_delivery.json", row), auth="")

    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert wrong["WWW-Authenticate"].startswith("Basic")
    assert wrong.json()["errors"][0]["code"] == "invalid_signature"
    assert written() == before


def test_without_a_webhook_secret_configured_every_callback_is_refused(providers, customer, client, settings):
    row = send_and_drain(customer(), "email", EMAIL)
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ""}
    before = written()

    response = anymail_post(client, tracking("postmark_delivery.json", row))

    assert response.status_code == 401
    assert written() == before


def test_a_spam_complaint_withdraws_email_marketing_and_the_next_campaign_mail_is_suppressed(
    providers, customer, grant, client
):
    person = customer()
    grant(person, "email")
    row = send_and_drain(person, "email", EMAIL, purpose="marketing", campaign_id="c-1")

    response = anymail_post(client, tracking("postmark_spam_complaint.json", row, address=address_of(person)))

    assert response.status_code == 200
    assert Event.objects.filter(type="message.complained", stream=f"message-{row.id}").count() == 1
    assert not consent_allows(customer_id=person, channel="email", purpose="marketing")
    following = send_and_drain(person, "email", EMAIL, purpose="marketing", campaign_id="c-2")
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_consent")
    assert len(providers.by("postmark")) == 1


def test_an_unsubscribe_withdraws_email_marketing(providers, customer, grant, client):
    person = customer()
    grant(person, "email")
    row = send_and_drain(person, "email", EMAIL, purpose="marketing")

    response = anymail_post(client, tracking("postmark_subscription_change.json", row, address=address_of(person)))

    assert response.status_code == 200
    assert Event.objects.filter(type="message.unsubscribed", stream=f"message-{row.id}").count() == 1
    assert not consent_allows(customer_id=person, channel="email", purpose="marketing")


def test_the_one_click_unsubscribe_link_withdraws_marketing_once(providers, customer, grant, client):
    person = customer()
    grant(person, "email")
    row = send_and_drain(person, "email", EMAIL, purpose="marketing")
    headers = {h["Name"]: h["Value"] for h in providers.by("postmark")[0].json()["Headers"]}
    path = headers["List-Unsubscribe"].strip("<>").removeprefix("https://backoffice.example.es")

    first = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    again = client.post(path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    forged = client.post(path[:-3] + "abc", data="List-Unsubscribe=One-Click", content_type="text/plain")

    assert (first.status_code, again.status_code, forged.status_code) == (200, 200, 404)
    assert Event.objects.filter(type="message.unsubscribed", stream=f"message-{row.id}").count() == 1
    assert not consent_allows(customer_id=person, channel="email", purpose="marketing")


def bounce(esp: str, row: OutboundMessage, address: str, *, is_hard: bool) -> dict | list:
    """The ESP's documented bounce example about our message, permanent or temporary as that ESP says it."""
    now = datetime.now(UTC)
    if esp == "postmark":
        soft = {} if is_hard else {"Type": "SoftBounce", "TypeCode": 4096}
        return tracking("postmark_bounce.json", row, address=address, **soft)
    if esp == "brevo":
        return {
            **fixture("brevo_hard_bounce.json"),
            "event": "hard_bounce" if is_hard else "soft_bounce",
            "email": address,
            "message-id": row.provider_message_id,
            "X-Mailin-custom": json.dumps({"message_id": str(row.id)}),
            "ts_epoch": int(now.timestamp() * 1000),
        }
    event = {
        **fixture("mailjet_bounce.json"),
        "email": address,
        "time": int(now.timestamp()),
        "Payload": json.dumps({"message_id": str(row.id)}),
        "hard_bounce": is_hard,
        "error": "user unknown" if is_hard else "quota exceeded",
    }
    return [event]  # Mailjet's "group events" array


BOUNCING_ESPS = ["postmark", "brevo", "mailjet"]


@pytest.mark.parametrize("esp", BOUNCING_ESPS)
def test_a_hard_bounce_marks_the_address_undeliverable_and_stops_further_sends(providers, customer, client, esp):
    person = customer()
    row = send_and_drain(person, "email", EMAIL)

    response = anymail_post(client, bounce(esp, row, address_of(person), is_hard=True), esp=esp)

    assert response.status_code == 200
    assert Event.objects.filter(type="message.bounced", stream=f"message-{row.id}").count() == 1
    assert CustomerIdentifier.objects.get(customer_id=person, kind="email").undeliverable_at is not None
    following = send_and_drain(person, "email", EMAIL)
    assert (following.status, following.reason) == (Status.SUPPRESSED, "no_address")
    assert len(providers.by("postmark")) == 1


@pytest.mark.parametrize("esp", BOUNCING_ESPS)
def test_a_soft_bounce_is_a_delay_and_the_address_stays(providers, customer, client, esp):
    # anymail reports Postmark's SoftBounce, Brevo's soft_bounce and Mailjet's hard_bounce false as `bounced`.
    person = customer()
    row = send_and_drain(person, "email", EMAIL)

    response = anymail_post(client, bounce(esp, row, address_of(person), is_hard=False), esp=esp)

    assert response.status_code == 200
    assert Event.objects.filter(type="message.delayed", stream=f"message-{row.id}").count() == 1
    assert CustomerIdentifier.objects.get(customer_id=person, kind="email").undeliverable_at is None
    assert send_and_drain(person, "email", EMAIL).status == Status.SENT


def test_our_hard_bounce_applies_beside_another_systems_event_in_the_same_grouped_post(providers, customer, client):
    person = customer()
    row = send_and_drain(person, "email", EMAIL)
    ours = bounce("mailjet", row, address_of(person), is_hard=True)
    foreign = {**ours[0], "event": "sent", "email": "someone@example.com", "MessageID": 19421777396190490}
    foreign["Payload"] = json.dumps({"message_id": "ORD-2024-0001"})

    response = anymail_post(client, [foreign, *ours], esp="mailjet")

    assert response.status_code == 200
    assert Event.objects.filter(type="message.bounced", stream=f"message-{row.id}").count() == 1
    assert CustomerIdentifier.objects.get(customer_id=person, kind="email").undeliverable_at is not None


@pytest.mark.parametrize(
    ("bounce_type", "recorded", "is_dead"),
    [
        ("Permanent", "message.bounced", True),
        ("Transient", "message.delayed", False),
        ("Undetermined", "message.bounced", False),
    ],
)
def test_an_amazon_ses_bounce_marks_the_address_undeliverable_only_when_permanent(
    providers, customer, bounce_type, recorded, is_dead
):
    person = customer()
    row = send_and_drain(person, "email", EMAIL)
    notification = fixture("amazon_ses_bounce.json")
    ses_event = json.loads(notification["Message"])
    ses_event["bounce"]["bounceType"] = bounce_type
    ses_event["bounce"]["bouncedRecipients"][0]["emailAddress"] = address_of(person)
    ses_event["mail"]["headers"].append({"name": "X-Metadata", "value": json.dumps({"message_id": str(row.id)})})
    notification["Timestamp"] = datetime.now(UTC).isoformat()

    # anymail's Amazon SES view needs boto3 (its amazon-ses extra), not installed here: its parser turns the
    # notification into events, sent on anymail's tracking signal as the view does.
    view = AmazonSESTrackingWebhookView.__new__(AmazonSESTrackingWebhookView)
    for event in view.esp_to_anymail_events(ses_event, notification):
        anymail_tracking.send(sender=AmazonSESTrackingWebhookView, event=event, esp_name=view.esp_name)

    assert Event.objects.filter(type=recorded, stream=f"message-{row.id}").count() == 1
    undeliverable_at = CustomerIdentifier.objects.get(customer_id=person, kind="email").undeliverable_at
    assert (undeliverable_at is not None) == is_dead


@pytest.mark.parametrize(
    ("esp_name", "esp_event", "is_permanent"),
    [
        ("Mandrill", {"event": "hard_bounce", "msg": {"bounce_description": "bad_mailbox"}}, True),
        ("Mandrill", {"event": "soft_bounce", "msg": {"bounce_description": "mailbox_full"}}, False),
        ("SparkPost", {"msys": {"message_event": {"type": "bounce", "bounce_class": "10"}}}, True),
        ("SparkPost", {"msys": {"message_event": {"type": "bounce", "bounce_class": "22"}}}, False),
        ("SparkPost", {"msys": {"message_event": {"type": "bounce", "bounce_class": "1"}}}, None),
        ("SendGrid", {"event": "bounce", "type": "bounce", "status": "5.1.1"}, True),
        ("SendGrid", {"event": "bounce", "type": "blocked", "status": "4.0.0"}, False),
        ("MailerSend", {"type": "activity.hard_bounced", "data": {"type": "hard_bounced"}}, True),
        ("MailerSend", {"type": "activity.soft_bounced", "data": {"type": "soft_bounced"}}, False),
        ("Resend", {"type": "email.bounced", "data": {"bounce": {"type": "Permanent", "subType": "Suppressed"}}}, True),
        (
            "Resend",
            {"type": "email.bounced", "data": {"bounce": {"type": "Transient", "subType": "MailboxFull"}}},
            False,
        ),
        ("Mailgun", {"event-data": {"event": "failed", "severity": "permanent"}}, True),
        ("Unisender Go", {"status": "hard_bounced"}, True),
        ("Postal", {"payload": {"bounce": {"id": 1}}}, None),
        ("SomeNewESP", {"event": "bounce"}, None),
    ],
)
def test_each_esps_own_payload_says_whether_a_bounce_is_permanent(esp_name, esp_event, is_permanent):
    assert bounce_is_permanent(esp_name, esp_event) is is_permanent


def test_a_callback_for_mail_that_is_not_ours_is_acknowledged_and_ignored(providers, client):
    before = written()

    response = anymail_post(client, fixture("postmark_delivery.json"))

    assert response.status_code == 200
    assert written() == before


def test_inbound_mail_from_an_unknown_address_opens_a_case_for_a_new_customer(providers, client):
    esp_event = fixture("postmark_inbound.json")

    first = anymail_post(client, esp_event, kind="inbound")
    before = written()
    again = anymail_post(client, esp_event, kind="inbound")

    assert (first.status_code, again.status_code) == (200, 200)
    identifier = CustomerIdentifier.objects.get(kind="email", value="support@postmarkapp.com")
    case = Case.objects.get(customer_id=identifier.customer_id)
    assert case.channel == "email"
    received = Event.objects.get(type="message.received", customer_id=identifier.customer_id)
    assert received.channel == "email"
    assert written() == before


def test_esp_send_errors_are_temporary_or_final_by_status(providers, customer):
    providers.status = 503
    row = send_and_drain(customer(), "email", EMAIL)
    assert (row.status, row.reason) == (Status.QUEUED, "esp answered 503")

    providers.status = 422
    row = send_and_drain(customer(), "email", EMAIL)
    assert row.status == Status.FAILED


def _queue_campaign(people, *, campaign_id: str = "c-9") -> list[OutboundMessage]:
    return [
        message_send(
            customer_id=person,
            channel="email",
            purpose="marketing",
            content=EMAIL,
            idempotency_key=unique_key("email"),
            actor="test",
            campaign_id=campaign_id,
        )
        for person in people
    ]


def test_a_campaign_leaves_in_one_batch_call_and_each_message_keeps_its_id_headers_and_metadata(
    providers, customer, grant
):
    people = [customer() for _ in range(3)]
    for person in people:
        grant(person, "email")
    queued = _queue_campaign(people)

    messages_drain(max_seconds=30)

    (request,) = providers.by("postmark")
    assert request.path == "/email/batch"
    sent = {entry["Metadata"]["message_id"]: entry for entry in request.json()}
    assert set(sent) == {str(row.id) for row in queued}
    provider_ids, unsubscribe_links = set(), set()
    for row, person in zip(queued, people, strict=True):
        row.refresh_from_db()
        entry = sent[str(row.id)]
        headers = {h["Name"]: h["Value"] for h in entry["Headers"]}
        assert row.status == Status.SENT
        assert entry["To"] == address_of(person)
        assert entry["Metadata"] == {"message_id": str(row.id), "campaign_id": "c-9"}
        assert entry["Tag"] == "marketing"
        assert headers["Message-ID"] == f"<{row.id}@backoffice.example>"
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["List-Unsubscribe"].startswith("<https://backoffice.example.es/api/v1/providers/email/unsub")
        unsubscribe_links.add(headers["List-Unsubscribe"])
        provider_ids.add(row.provider_message_id)
    assert len(unsubscribe_links) == 3  # each message its own one-click link
    assert len(provider_ids) == 3
    assert "" not in provider_ids
    assert sum(providers.deliveries.values()) == 3


def test_one_refused_address_in_a_batch_fails_alone(providers, customer, grant):
    people = [customer() for _ in range(3)]
    for person in people:
        grant(person, "email")
    providers.postmark_inactive = {address_of(people[1]).lower()}
    queued = _queue_campaign(people)

    messages_drain(max_seconds=30)

    statuses = []
    for row in queued:
        row.refresh_from_db()
        statuses.append(row.status)
    assert statuses == [Status.SENT, Status.FAILED, Status.SENT]
    assert len(providers.by("postmark")) == 1


def test_two_messages_to_one_address_never_share_a_batch_call(providers, customer, grant):
    person = customer()
    grant(person, "email")
    queued = _queue_campaign([person, person])

    messages_drain(max_seconds=30)

    assert [request.path for request in providers.by("postmark")] == ["/email", "/email"]
    for row in queued:
        row.refresh_from_db()
        assert row.status == Status.SENT
    assert providers.deliveries == {str(row.id): 1 for row in queued}


def test_with_a_batch_size_of_one_every_message_is_its_own_call(providers, customer, grant, settings):
    settings.MESSAGING_EMAIL_BATCH_SIZE = 1
    people = [customer() for _ in range(2)]
    for person in people:
        grant(person, "email")
    _queue_campaign(people)

    messages_drain(max_seconds=30)

    assert [request.path for request in providers.by("postmark")] == ["/email", "/email"]


def test_another_systems_open_in_a_sendgrid_batch_does_not_refuse_our_events(providers, customer, client, caplog):
    """SendGrid posts the events of the whole account in one batch; its opens and clicks carry neither `anymail_id`
    nor `smtp-id`, so another system's open (same account) names no message and has no metadata of ours."""
    row = send_and_drain(customer(), "email", {"subject": "Tu pedido", "body": "Ya está en camino"})
    now = int(datetime.now(UTC).timestamp())
    ours = {
        "email": "cliente@example.es",
        "timestamp": now,
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "delivered",
        "response": "250 OK",
        "sg_event_id": "sg_event_id_delivered_1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "message_id": str(row.id),  # our anymail metadata (SendGrid custom_args)
    }
    foreign_open = {
        "email": "someone@example.com",
        "timestamp": now,
        "event": "open",
        "sg_event_id": "sg_event_id_open_2",
        "sg_message_id": "other-system.filter0002.1.2.0",
        "useragent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "ip": "203.0.113.9",
    }

    response = anymail_post(client, [foreign_open, ours], esp="sendgrid")

    assert response.status_code == 200, response.content
    assert Event.objects.filter(type="message.delivered", stream=f"message-{row.id}").count() == 1
    assert "someone@example.com" not in caplog.text
