"""The campaign report counts what the ESP's tracking webhooks reported: a campaign launched through the anymail
backend (Postmark's API on loopback), then Postmark's delivery, open, click and unsubscribe webhooks in their
documented shapes, through anymail's webhook view."""

import copy
from datetime import UTC, datetime

import pytest

from backoffice.eventstore import projector
from backoffice.insights.campaign_figures import campaign_report
from backoffice.messaging.models import OutboundMessage, Status
from customers.selectors import consent_allows
from tests.messaging.providers.conftest import anymail_post, fixture, loopback, providers  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def callback(name: str, message: OutboundMessage) -> dict:
    event = copy.deepcopy(fixture(name))
    event["MessageID"] = message.provider_message_id
    event["Metadata"] = {"message_id": str(message.id), "campaign_id": message.campaign_id}
    for key in ("DeliveredAt", "ReceivedAt", "ChangedAt"):
        if key in event:
            event[key] = datetime.now(UTC).isoformat()
    return event


def test_report_counts_delivered_opened_clicked_and_unsubscribed_from_esp_callbacks(
    providers,  # noqa: F811
    person,
    make_campaign,
    launched,
    client,
):
    campaign = make_campaign(channels=["email"], holdout_share="0.000")
    people = [person(consents=("email",)) for _ in range(4)]
    launched(campaign)
    messages = list(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).order_by("created_at"))
    assert [m.status for m in messages] == [Status.SENT] * 4
    # Each handed to the ESP once, with its own message id in its metadata (the campaign leaves in one batch call).
    assert providers.deliveries == {str(m.id): 1 for m in messages}

    for message in messages:  # all delivered
        assert anymail_post(client, callback("postmark_delivery.json", message)).status_code == 200
    for message in messages[:3]:  # three opened, one of them twice (Postmark reports each open)
        assert anymail_post(client, callback("postmark_open.json", message)).status_code == 200
    assert anymail_post(client, {**callback("postmark_open.json", messages[0]), "FirstOpen": False}).status_code == 200
    for message in messages[:2]:  # two clicked
        assert anymail_post(client, callback("postmark_click.json", message)).status_code == 200
    unsubscribe = callback("postmark_subscription_change.json", messages[3])
    assert anymail_post(client, unsubscribe).status_code == 200
    assert anymail_post(client, unsubscribe).status_code == 200  # resent: counted once

    projector.catch_up_all()  # the report reads the insights rollups, an asynchronous projection
    (email,) = campaign_report(campaign=campaign)["channels"]
    assert (email["sent"], email["delivered"], email["opened"], email["clicked"], email["unsubscribed"]) == (
        4,
        4,
        3,
        2,
        1,
    )
    recipient = next(p for p in people if OutboundMessage.objects.filter(customer_id=p, id=messages[3].id).exists())
    assert not consent_allows(customer_id=recipient, channel="email", purpose="marketing")
