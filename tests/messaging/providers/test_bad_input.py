"""Bad input on every provider webhook: a clear 4xx (or the provider's expected 200-and-ignore), never a 500, and
nothing half-written."""

import copy
import json
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import anymail_post, fixture, meta_post, twilio_post
from .helpers import send_and_drain, written

pytestmark = pytest.mark.django_db

PHONE = "+34600111222"
HUGE = b"x" * (300 * 1024)


def test_anymail_tracking_that_is_not_json_is_400(providers, client):
    before = written()
    response = anymail_post(client, b"{not json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "body"
    assert written() == before


def test_anymail_tracking_of_the_wrong_kind_is_400(providers, client):
    before = written()
    inbound_to_tracking = anymail_post(client, fixture("postmark_inbound.json"))
    tracking_to_inbound = anymail_post(client, fixture("postmark_delivery.json"), kind="inbound")
    assert (inbound_to_tracking.status_code, tracking_to_inbound.status_code) == (400, 400)
    assert written() == before


@pytest.mark.parametrize(
    "message_id",
    [
        "ORD-2024-0001",  # another system sharing the ESP account, its own id under the same metadata key
        {"order": 1},
        "0b7bd3e4-1c7e-4f3c-9d9a-3c8c8f0f0f0f",  # a UUID of no message of ours
    ],
)
def test_anymail_metadata_naming_no_message_of_ours_is_acknowledged_and_ignored(providers, client, message_id):
    before = written()
    event = fixture("postmark_delivery.json")
    response = anymail_post(client, {**event, "Metadata": {"message_id": message_id}})
    assert response.status_code == 200
    assert written() == before


def test_anymail_huge_bodies_are_413_before_being_read(providers, client):
    before = written()
    response = anymail_post(client, HUGE)
    assert response.status_code == 413
    assert written() == before


def test_anymail_inbound_without_a_sender_is_400(providers, client):
    event = fixture("postmark_inbound.json")
    event["FromFull"] = {"Email": "", "Name": ""}
    before = written()
    response = anymail_post(client, event, kind="inbound")
    assert response.status_code == 400
    assert written() == before


def test_anymail_event_from_the_future_is_400_and_an_old_replay_records_nothing_new(providers, customer, client):
    row = send_and_drain(customer(), "email", {"subject": "Hola", "body": "Hola"})
    event = fixture("postmark_delivery.json")
    event.update({"MessageID": row.provider_message_id, "Metadata": {"message_id": str(row.id)}})
    future = {**event, "DeliveredAt": (datetime.now(UTC) + timedelta(days=2)).isoformat()}

    before = written()
    assert anymail_post(client, future).status_code == 400
    assert written() == before
    assert anymail_post(client, event).status_code == 200  # the 2019 example: old, recorded once
    recorded = written()
    assert anymail_post(client, event).status_code == 200
    assert written() == recorded


def test_twilio_webhook_with_a_json_body_is_415(providers, client):
    before = written()
    for path in ("status", "messages"):
        response = client.post(
            f"/api/v1/providers/twilio/{path}",
            data=json.dumps(fixture("twilio_status_delivered.json")),
            content_type="application/json",
            HTTP_X_TWILIO_SIGNATURE="x",
        )
        assert response.status_code == 415
    assert written() == before


def test_twilio_webhook_missing_fields_is_400_naming_them(providers, client):
    params = fixture("twilio_status_delivered.json")
    del params["MessageSid"]
    inbound = fixture("twilio_inbound_sms.json")
    inbound["From"] = "not a phone"
    before = written()

    status = twilio_post(client, "status", params)
    message = twilio_post(client, "messages", inbound)

    assert status.status_code == 400
    assert status.json()["errors"][0]["field"] == "MessageSid"
    assert message.status_code == 400
    assert message.json()["errors"][0]["field"] == "From"
    assert written() == before


def test_twilio_status_of_an_unknown_message_is_acknowledged_and_ignored(providers, client):
    before = written()
    response = twilio_post(client, "status", fixture("twilio_status_delivered.json"))
    assert response.status_code == 204
    assert written() == before


def test_twilio_huge_bodies_are_413_and_get_is_405(providers, client):
    body = urllib.parse.urlencode({"Body": "x" * 300_000})
    before = written()
    huge = client.post("/api/v1/providers/twilio/messages", data=body, content_type="application/x-www-form-urlencoded")
    get = client.get("/api/v1/providers/twilio/status")
    assert (huge.status_code, get.status_code) == (413, 405)
    assert written() == before


def test_meta_body_that_is_not_json_or_not_an_object_is_400(providers, client):
    before = written()
    assert meta_post(client, b"{not json").status_code == 400
    assert meta_post(client, b"[1, 2]").status_code == 400
    assert meta_post(client, {"object": "whatsapp_business_account", "entry": "x"}).status_code == 400
    assert written() == before


def test_meta_malformed_item_refuses_the_whole_post_and_writes_nothing(providers, client):
    payload = copy.deepcopy(fixture("meta_whatsapp_text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    good = copy.deepcopy(value["messages"][0])
    good.update({"from": "34699000444", "id": "wamid.good", "timestamp": str(int(time.time()))})
    bad = copy.deepcopy(good)
    bad.update({"id": "wamid.bad", "timestamp": "yesterday"})
    value["messages"] = [good, bad]
    before = written()

    response = meta_post(client, payload)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "entry.0.changes.0.value.messages.1.timestamp"
    assert written() == before


def test_meta_future_timestamps_are_400_and_unknown_objects_are_ignored(providers, client):
    payload = copy.deepcopy(fixture("meta_whatsapp_text.json"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(time.time()) + 86_400)
    before = written()
    assert meta_post(client, payload).status_code == 400
    assert meta_post(client, {"object": "user", "entry": [{"id": "1", "changes": []}]}).status_code == 200
    assert written() == before


def test_meta_huge_bodies_are_413(providers, client):
    before = written()
    assert meta_post(client, HUGE).status_code == 413
    assert written() == before
