"""The customer is told through the messaging pipeline: ready to collect, shipped, refunded (purpose service), and
one abandoned-cart reminder on a channel that allows marketing, never after an order in any channel."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import messages_drain
from customers.reachability import customer_preferred_channel
from customers.services import interactions_ingest
from orders import services
from orders.models import Order
from tests.factories import ConsentFactory, OrderFactory, interaction

pytestmark = pytest.mark.django_db
CUSTOMER = {"email": "ana@example.es", "phone": "+34600111222"}


def _place(customer_id, *, method="pickup", location="MAD-01", channel="app"):
    return OrderFactory(customer=customer_id, channel=channel, fulfilment={"method": method, "location": location}).id


def _grant(customer_id, channel, purpose="marketing"):
    ConsentFactory(customer_id=customer_id, channel=channel, purpose=purpose, wording="Acepto")


def _cart(cart_id, at):
    items = [
        interaction(
            channel="app",
            occurred_at=at.isoformat(),
            customer=CUSTOMER,
            data={"cart_id": cart_id, "sku": "ZAP-RUN-BLA-42", "quantity": 1, "unit_price": "69.90"},
        )
    ]
    return interactions_ingest(raw_items=items, actor="test")[0].customer_id


def test_ready_to_collect_is_told_on_the_preferred_service_channel(chain, receive, customer_id, outbox):
    receive("CAM-ALG-BLA-M", "MAD-01", 2)
    order_id = _place(customer_id)
    services.order_act(order_id=order_id, action="pay", actor="test")

    services.order_act(order_id=order_id, action="ready", actor="test")
    messages_drain()

    (message,) = OutboundMessage.objects.filter(order_id=order_id)
    preferred = customer_preferred_channel(customer_id=customer_id, purpose="service")
    assert (message.channel, message.purpose, message.customer_id) == (preferred, "service", customer_id)
    (sent,) = outbox
    assert sent.channel == preferred
    assert order_id in str(sent.content)
    assert "Madrid Gran Vía" in str(sent.content)


def test_shipped_and_refund_are_told_once_each(chain, receive, customer_id):
    receive("CAM-ALG-BLA-M", "WH-ZGZ", 2)
    order_id = _place(customer_id, method="ship", location="")
    for action in ("pay", "ship", "deliver"):
        services.order_act(order_id=order_id, action=action, actor="test")
    services.order_act(order_id=order_id, action="return", location="VLC-01", actor="test")

    keys = sorted(OutboundMessage.objects.filter(order_id=order_id).values_list("idempotency_key", flat=True))

    assert [k.split(":")[2] for k in keys] == ["refund", "shipped"]


@pytest.mark.parametrize(
    ("restock", "says"),
    [(True, "We have received your return"), (False, "We have refunded 19.90 EUR")],
)
def test_each_partial_refund_tells_what_that_refund_gave_back_not_the_running_total(
    chain, receive, customer_id, outbox, restock, says
):
    receive("CAM-ALG-BLA-M", "WH-ZGZ", 2)
    order_id = OrderFactory(
        customer=customer_id, lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}], fulfilment={"method": "ship"}
    ).id
    for action in ("pay", "ship", "deliver"):
        services.order_act(order_id=order_id, action=action, actor="test")
    one = [{"sku": "CAM-ALG-BLA-M", "quantity": 1}]
    told = []
    for _ in range(2):
        services.order_act(
            order_id=order_id, action="return", location="MAD-01", lines=one, restock=restock, actor="test"
        )
        messages_drain()
        told.append(str(outbox[-1].content))

    assert str(Order.objects.get(id=order_id).refunded) == "39.80"
    for text in told:
        assert "19.90 EUR" in text, text
        assert "39.80" not in text, text
        assert says in text, text


def test_a_step_is_recorded_even_when_the_customer_cannot_be_reached(chain, receive):
    from customers.services.ingestion import customer_register

    card_only, _ = customer_register(customer={"loyalty_card": "LC-9"}, channel="store", actor="test")
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    order_id = _place(card_only, channel="store")
    services.order_act(order_id=order_id, action="pay", actor="test")

    order = services.order_act(order_id=order_id, action="ready", actor="test")

    assert order.status == "ready"
    assert not OutboundMessage.objects.exists()


def test_the_cart_reminder_goes_once_on_the_channel_that_allows_marketing(
    chain, outbox, django_capture_on_commit_callbacks
):
    now = timezone.now()
    customer_id = _cart("c-10", now - timedelta(minutes=90))
    _grant(customer_id, "whatsapp")

    with django_capture_on_commit_callbacks(execute=True):
        (decision,) = services.carts_abandon_idle(now=now)
    again = services.carts_abandon_idle(now=now + timedelta(hours=1))

    assert (decision.reminder_channel, decision.reminder_skipped) == ("whatsapp", "")
    assert again == []
    (message,) = OutboundMessage.objects.all()
    assert (message.channel, message.purpose, str(message.id)) == (
        "whatsapp",
        "marketing",
        decision.reminder_message_id,
    )
    (sent,) = outbox
    assert sent.to == "+34600111222"
    assert "Zapatillas running blancas 42 x1" in str(sent.content)


def test_no_reminder_without_marketing_consent(chain):
    now = timezone.now()
    _cart("c-11", now - timedelta(minutes=90))

    (decision,) = services.carts_abandon_idle(now=now)

    assert decision.reminder_skipped == "no_channel"
    assert not OutboundMessage.objects.exists()


def test_no_reminder_when_the_customer_ordered_by_phone_meanwhile(chain, receive):
    now = timezone.now()
    customer_id = _cart("c-12", now - timedelta(minutes=90))
    _grant(customer_id, "email")
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    _place(customer_id, channel="phone")

    (decision,) = services.carts_abandon_idle(now=now)

    assert decision.reminder_skipped == "ordered_since"
    assert not OutboundMessage.objects.filter(purpose="marketing").exists()


def test_an_order_after_the_reminder_is_attributed_to_it(chain, receive):
    now = timezone.now()
    customer_id = _cart("c-13", now - timedelta(minutes=90))
    _grant(customer_id, "email")
    (decision,) = services.carts_abandon_idle(now=now)
    services.carts_abandon_idle(now=now)  # the projection catches up with cart.abandoned
    receive("CAM-ALG-BLA-M", "MAD-01", 1)

    order = Order.objects.get(id=_place(customer_id, channel="web"))

    assert order.reminder_cart_id == "c-13"
    assert order.attributed_message_id == decision.reminder_message_id


def test_a_cart_found_idle_days_late_is_abandoned_without_a_reminder(chain):
    customer_id = _cart("c-14", datetime.fromisoformat("2026-11-01T10:00:00+01:00"))
    _grant(customer_id, "email")

    (decision,) = services.carts_abandon_idle(now=timezone.now())

    assert decision.reminder_skipped == "too_old"
    assert not OutboundMessage.objects.exists()


def test_the_message_speaks_the_customers_language(chain, receive, customer_id):
    from customers.models import Customer

    Customer.objects.filter(id=customer_id).update(language="es")
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    order_id = _place(customer_id)
    services.order_act(order_id=order_id, action="pay", actor="test")

    services.order_act(order_id=order_id, action="ready", actor="test")

    event = Event.objects.get(type="message.queued")
    assert "listo para recoger" in str(store.read_positions([event.position])[0].data["content"])
