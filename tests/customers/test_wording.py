"""customers.wording: the one sentence of each event type, as staff read it in Spanish and English."""

import pytest
from django.utils import translation

from customers.wording import channel_colour, event_label, event_sentence


@pytest.fixture
def spanish():
    with translation.override("es"):
        yield


@pytest.mark.usefixtures("spanish")
def test_an_order_reads_with_its_channel_and_amount_and_links_to_the_order():
    story = event_sentence("order.placed", {"order_id": "DEMO-00142", "total": "134.70", "currency": "EUR"}, "app")

    assert story.text == "Pedido DEMO-00142 realizado en App · 134,70 €"
    assert story.refs == {"order": "DEMO-00142"}


@pytest.mark.usefixtures("spanish")
def test_a_message_received_quotes_its_text_and_names_the_channel():
    story = event_sentence("message.received", {"text": "¿Mochila de tela negra talla M?"}, "email")

    assert story.text == "Mensaje recibido por Correo electrónico: «¿Mochila de tela negra talla M?»"


@pytest.mark.usefixtures("spanish")
def test_internal_pipeline_events_read_as_what_they_mean():
    deferred = event_sentence("message.deferred", {"reason": "quiet_hours", "campaign_id": "c-1"}, "sms").text
    suppressed = event_sentence("message.suppressed", {"reason": "no_consent"}, "whatsapp").text

    assert deferred == "Aviso aplazado por horario de descanso"
    assert suppressed == "Mensaje por WhatsApp no enviado: no hay consentimiento para este canal"
    assert "quiet_hours" not in deferred


@pytest.mark.usefixtures("spanish")
def test_an_abandoned_cart_counts_its_items_in_the_right_number():
    one = event_sentence(
        "cart.abandoned", {"items": [{"sku": "A", "quantity": 1}], "reminder_skipped": "no_channel"}, "web"
    )
    two = event_sentence("cart.abandoned", {"items": [{"sku": "A", "quantity": 2}]}, "web")

    assert one.text == "Dejó un carrito con 1 artículo · sin recordatorio"
    assert two.text == "Dejó un carrito con 2 artículos"


def test_an_unknown_type_never_shows_its_type_name():
    with translation.override("en"):  # both answers in English, whatever an earlier test left active
        story = event_sentence("loyalty.points_expired", {"points": 10}, "app")
        label = event_label("loyalty.points_expired")

    assert story.text == "Other activity on App"
    assert label == "Other activity"


def test_a_channel_has_one_colour_and_the_staff_stylesheet_uses_it():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "backoffice/staff/static/staff/staff.css").read_text()

    for channel in ("web", "app", "store", "phone", "email", "sms", "whatsapp", "facebook", "instagram", "push"):
        assert f".channel--{channel} {{ --ch: {channel_colour(channel)}; }}" in css


def test_the_order_types_named_by_string_below_the_orders_app_are_declared_types():
    """customers sits below orders, so it names the orders app's types by string: a misspelt or renamed one would
    silently never match (an order read as "Other activity", a 360 as of a date without its orders)."""
    from backoffice.eventstore.schema import is_known_type
    from customers.selectors import people
    from customers.wording import EVENT_LABELS

    named = [*EVENT_LABELS, people.ORDER_PLACED, people.ORDER_RETURNED, people.ORDER_CANCELLED]

    assert [name for name in named if not is_known_type(name)] == []
