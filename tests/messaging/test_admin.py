"""The delivery history and the channel settings in the admin."""

import uuid

import pytest

from backoffice.messaging.models import ChannelSetting, OutboundMessage, Status
from backoffice.messaging.services import message_send, messages_drain

pytestmark = pytest.mark.django_db


def _send(customer_id, channel="sms", **extra):
    return message_send(
        customer_id=customer_id,
        channel=channel,
        purpose="service",
        content={"text": "Tu pedido A-1 está listo"},
        idempotency_key=f"k-{uuid.uuid4()}",
        actor="test",
        **extra,
    )


def test_support_finds_a_customers_messages_by_customer_id_with_their_events(login, customer, outbox):
    ana, other = customer(), customer()
    message = _send(ana, order_id="A-1")
    _send(other)
    messages_drain()
    client = login("support")

    listing = client.get("/admin/messaging/outboundmessage/", {"q": str(ana)})
    detail = client.get(f"/admin/messaging/outboundmessage/{message.id}/change/")

    assert listing.status_code == 200
    assert [m.id for m in listing.context["cl"].result_list] == [message.id]
    html = detail.content.decode()
    assert "message.queued" in html
    assert "message.sent" in html
    assert "Tu pedido A-1 está listo" in html
    assert 'name="_save"' not in html


@pytest.mark.parametrize(("query", "expected"), [({"status": "suppressed"}, 1), ({"channel": "email"}, 0)])
def test_the_history_filters_by_status_and_channel(login, customer, outbox, query, expected):
    _send(customer(phone=None))
    messages_drain()

    listing = login("admin").get("/admin/messaging/outboundmessage/", query)

    assert len(listing.context["cl"].result_list) == expected


@pytest.mark.parametrize("role", ["marketing", "store"])
def test_roles_that_do_not_serve_customers_do_not_see_messages(login, role):
    assert login(role).get("/admin/messaging/outboundmessage/").status_code == 403


def test_an_administrator_sends_a_failed_message_again(login, customer, outbox):
    message = _send(customer())
    OutboundMessage.objects.filter(id=message.id).update(status=Status.FAILED, reason="provider answered 400")

    response = login("admin").post(
        "/admin/messaging/outboundmessage/",
        {"action": "send_again", "_selected_action": [str(message.id)]},
    )
    messages_drain()

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert len(outbox) == 1


def test_support_reads_the_history_but_is_offered_no_action_and_cannot_send_again(login, customer, outbox):
    message = _send(customer())
    OutboundMessage.objects.filter(id=message.id).update(status=Status.FAILED, reason="provider answered 400")
    client = login("support")

    listing = client.get("/admin/messaging/outboundmessage/")
    response = client.post(
        "/admin/messaging/outboundmessage/",
        {"action": "send_again", "_selected_action": [str(message.id)]},
    )
    messages_drain()

    assert listing.status_code == 200
    assert "send_again" not in listing.content.decode()
    assert response.status_code in (200, 302)
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert outbox == []


def test_an_administrator_disables_a_channel_and_its_messages_are_suppressed(login, customer, outbox):
    client = login("admin")

    response = client.post(
        "/admin/messaging/channelsetting/add/",
        {
            "channel": "sms",
            "is_enabled": "",
            "sender": "TIENDA",
            "reply_to": "",
            "quiet_hours_start": "",
            "quiet_hours_end": "",
            "quiet_hours_for_service": "on",
            "max_sms_segments": "2",
            "max_attempts": "",
            "notes": "Proveedor caído",
        },
    )
    message = _send(customer())
    messages_drain()

    assert response.status_code == 302
    setting = ChannelSetting.objects.get()
    assert setting.updated_by.startswith("user:")
    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.SUPPRESSED, "channel_disabled")
    assert outbox == []
    assert client.get(f"/admin/messaging/channelsetting/{setting.pk}/change/").status_code == 200


def test_quiet_hours_need_a_start_and_an_end(login):
    response = login("admin").post(
        "/admin/messaging/channelsetting/add/",
        {"channel": "email", "is_enabled": "on", "quiet_hours_start": "22:00", "quiet_hours_end": ""},
    )

    assert response.status_code == 200
    assert ChannelSetting.objects.count() == 0


def test_support_cannot_change_channel_settings(login):
    assert login("support").get("/admin/messaging/channelsetting/").status_code == 403


def test_the_messaging_admin_speaks_spanish(login, settings):
    settings.LANGUAGE_CODE = "es"

    page = login("admin").get("/admin/messaging/channelsetting/add/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Ajustes de canal" in page or "ajuste de canal" in page
    assert "horas de silencio" in page


def test_the_history_names_channel_purpose_delivery_and_reason_in_the_page_language(login, customer, outbox):
    sent = _send(customer(), channel="sms")
    _send(customer(phone=None))  # no phone: suppressed
    messages_drain()
    OutboundMessage.objects.filter(id=sent.id).update(delivery_status="clicked")

    page = login("admin").get("/admin/messaging/outboundmessage/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    rows = page.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert '<td class="field-channel_label">SMS</td>' in rows
    assert '<td class="field-purpose_label">Pedidos y atención</td>' in rows
    assert '<td class="field-delivery">clic</td>' in rows
    assert '<td class="field-reason_label">no hay dirección para este canal</td>' in rows
    assert ">service<" not in rows
    assert ">clicked<" not in rows
    filters = page.split('id="changelist-filter"', 1)[1]
    assert '<a href="?delivery_status=complained">marcado como spam</a>' in filters
    assert '<a href="?purpose=marketing">Ofertas y novedades</a>' in filters
