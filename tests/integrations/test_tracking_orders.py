"""A shop with no platform webhook: its SDK's `Order Completed` places our order when its tracking source has an
order location, exactly once, and whatever cannot be placed waits in the dead-letter list, never losing the events."""

import base64
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from backoffice.eventstore.models import Event
from backoffice.integrations.models import DeadLetter, OversellAlert
from backoffice.integrations.services import dead_letter_replay, tracking_source_create
from orders import services as order_services
from orders.models import Order, StockLevel

pytestmark = pytest.mark.django_db


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def post(client):
    def send(key: str, body: dict):
        return client.post(
            "/v1/batch", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=basic(key)
        )

    return send


def completed(order_id: str, products: list[dict], *, user_id: str = "u-42", message_id: str | None = None) -> dict:
    """Segment's e-commerce spec v2 example of Order Completed, as analytics.js sends it in a batch."""
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user_id,
        "messageId": message_id or str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "properties": {
            "checkout_id": "fksdjfsdjfisjf9sdfjsd9f",
            "order_id": order_id,
            "affiliation": "Google Store",
            "total": 27.50,
            "revenue": 25.00,
            "shipping": 3,
            "tax": 2,
            "discount": 2.5,
            "coupon": "hasbros",
            "currency": "EUR",
            "products": products,
        },
    }


LINES = [
    {"product_id": "507f1f77bcf86cd799439011", "sku": "SKU2006-001", "name": "Monopoly", "price": 19, "quantity": 2},
    {"product_id": "505bd76785ebb509fc183733", "sku": "SKU2006-020", "name": "Uno", "price": 3, "quantity": 1},
]


@pytest.fixture
def placing_key(shop):
    return tracking_source_create(name="web-no-platform", channel="web", order_location="WH-01").write_key


def test_order_completed_places_one_order_from_the_sources_location_for_the_events_customer(post, placing_key):
    message = completed("50314b8e9bcf000000000000", LINES)

    response = post(placing_key, {"batch": [message]})
    again = post(placing_key, {"batch": [message], "sentAt": datetime.now(UTC).isoformat()})

    assert (response.status_code, again.status_code) == (200, 200)
    order = Order.objects.get()
    assert order.id == "50314b8e9bcf000000000000"
    assert order.channel == "web"
    assert sorted((line.sku, line.quantity, line.location_code) for line in order.lines.all()) == [
        ("SKU2006-001", 2, "WH-01"),
        ("SKU2006-020", 1, "WH-01"),
    ]
    checked_out = Event.objects.get(type="cart.checked_out")
    assert order.customer_id == checked_out.customer_id
    assert Event.objects.filter(type="order.placed").count() == 1  # the buy stage, from SDK traffic alone
    assert StockLevel.objects.get(sku="SKU2006-001", location_code="WH-01").reserved == 2


def test_a_source_without_an_order_location_only_closes_the_cart(post, shop):
    key = tracking_source_create(name="web-with-shopify", channel="web").write_key

    post(key, {"batch": [completed("50314b8e", LINES)]})

    assert Event.objects.filter(type="cart.checked_out").count() == 1
    assert not Order.objects.exists()


def test_an_unknown_sku_keeps_the_events_and_the_order_waits_in_the_dead_letters_until_the_product_exists(
    post, placing_key
):
    lines = [*LINES, {"sku": "LAMP-NEW", "quantity": 1}]

    response = post(placing_key, {"batch": [completed("A-1001", lines)]})

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert Event.objects.filter(type="cart.checked_out").count() == 1
    assert not Order.objects.exists()
    letter = DeadLetter.objects.get()
    assert (letter.platform, letter.topic, letter.code) == ("tracking", "Order Completed", "unknown_sku")
    assert "LAMP-NEW" in letter.reason
    assert not dead_letter_replay(dead_letter_id=letter.id, actor="test")

    order_services.product_save(sku="LAMP-NEW", name="Lamp", category="x", price=Decimal("30"), actor="t")
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")

    assert Order.objects.filter(id="A-1001").count() == 1
    letter.refresh_from_db()
    assert (letter.status, letter.body_encrypted) == ("replayed", "")
    # Never stocked: recorded and alerted, like a platform's order.
    assert OversellAlert.objects.get().platform == "tracking"


def test_an_order_id_that_does_not_fit_ours_gets_a_stable_derived_one(post, placing_key):
    post(placing_key, {"batch": [completed("#1001 / tienda", LINES)]})
    post(placing_key, {"batch": [completed("#1001 / tienda", LINES)]})  # a new messageId: the same order

    order = Order.objects.get()
    assert order.id.startswith("sdk-")
    assert Event.objects.filter(type="cart.checked_out").count() == 2
    assert Event.objects.filter(type="order.placed").count() == 1


def test_short_stock_records_the_order_with_an_oversell_alert(post, placing_key):
    post(placing_key, {"batch": [completed("BIG-1", [{"sku": "SKU2006-001", "quantity": 12}])]})

    assert Order.objects.filter(id="BIG-1").exists()
    alert = OversellAlert.objects.get()
    assert (alert.platform, alert.lines) == ("tracking", [{"sku": "SKU2006-001", "location": "WH-01", "quantity": 2}])


def test_the_command_and_the_service_refuse_an_unknown_order_location(shop):
    with pytest.raises(CommandError, match="order_location"):
        call_command("tracking_source", "web-x", "--channel", "web", "--order-location", "NOWHERE")

    call_command("tracking_source", "web-y", "--channel", "web", "--order-location", "WH-01")


@pytest.mark.parametrize(
    "quantity",
    ["two", "\u00b2", "1" * 30, "9" * 5000, 1e30, 10**30],
    ids=[
        "word",
        "superscript-digit",
        "digits-over-64-bits",
        "5000-digits",
        "float-over-64-bits",
        "integer-over-64-bits",
    ],
)
def test_a_line_quantity_no_order_takes_keeps_the_events_and_the_order_waits_in_the_dead_letters(
    post, placing_key, quantity
):
    response = post(placing_key, {"batch": [completed("A-1002", [{"sku": "SKU2006-001", "quantity": quantity}])]})

    assert response.status_code == 200, response.content[:300]
    assert Event.objects.filter(type="cart.checked_out").count() == 1
    assert not Order.objects.exists()
    assert DeadLetter.objects.get().topic == "Order Completed"
