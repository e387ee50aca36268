"""Shopify and WooCommerce webhooks, in the shapes of their published examples and signed as they sign."""

from decimal import Decimal

import pytest

from backoffice.eventstore.models import Event
from backoffice.integrations.models import DeadLetter, OversellAlert, ShopConnection, WebhookReceipt
from backoffice.integrations.services import dead_letter_replay, shop_webhook_receive
from backoffice.integrations.services.shops import shop_order_id
from customers.models import Customer
from orders import services as order_services
from orders.errors import InsufficientStock
from orders.models import Cart, Order, OrderStatus, StockLevel

from .conftest import SHOP_DOMAIN, event_count, fixture, signature

pytestmark = pytest.mark.django_db


def shopify_order_id(platform_id) -> str:
    return shop_order_id("shopify", SHOP_DOMAIN, str(platform_id))


def level(sku: str, location: str = "WH-01") -> StockLevel:
    return StockLevel.objects.get(sku=sku, location_code=location)


def test_shopify_order_becomes_our_web_order_reserving_stock_at_the_mapped_location(shop, post_shopify):
    response = post_shopify("orders/create", fixture("shopify_orders_create.json"))

    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "applied"}
    order = Order.objects.get(id=shopify_order_id(820982911946154508))
    assert order.channel == "web"
    assert order.status == OrderStatus.PLACED
    assert sorted((line.sku, line.quantity, line.location_code) for line in order.lines.all()) == [
        ("SKU2006-001", 1, "WH-01"),
        ("SKU2006-020", 1, "WH-01"),
    ]
    assert level("SKU2006-001").reserved == 1
    customer = Customer.objects.get(id=order.customer_id)
    assert customer.display_name == "John Smith"


def test_a_resent_webhook_id_writes_nothing(shop, post_shopify):
    post_shopify(
        "orders/create", fixture("shopify_orders_create.json"), webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    )
    before = (event_count(), Order.objects.count(), WebhookReceipt.objects.count())

    again = post_shopify(
        "orders/create", fixture("shopify_orders_create.json"), webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    )

    assert again.status_code == 200
    assert again.json() == {"outcome": "duplicate"}
    assert (event_count(), Order.objects.count(), WebhookReceipt.objects.count()) == before


def test_the_same_order_under_a_new_webhook_id_is_still_one_order(shop, post_shopify):
    post_shopify("orders/create", fixture("shopify_orders_create.json"))
    events = event_count()

    post_shopify("orders/create", fixture("shopify_orders_create.json"))

    assert Order.objects.count() == 1
    assert event_count() == events
    assert level("SKU2006-001").reserved == 1


@pytest.mark.parametrize("how", ["bad", "missing", "other secret", "not ascii"])
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(shop, post_shopify, how):
    payload = fixture("shopify_orders_create.json")
    events = event_count()
    if how == "bad":
        response = post_shopify("orders/create", payload, secret="not-the-secret")
    elif how == "missing":
        response = post_shopify("orders/create", payload, sign=False)
    elif how == "not ascii":
        response = post_shopify("orders/create", payload, hmac_header="\u00e9t\u00e9")
    else:
        ShopConnection.objects.all().delete()
        response = post_shopify("orders/create", payload, secret="a-shop-we-never-configured")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert event_count() == events
    assert not WebhookReceipt.objects.exists()
    assert not DeadLetter.objects.exists()
    assert not Order.objects.exists()


def test_a_body_changed_after_signing_is_401(shop, client):
    body = b'{"id": 1, "line_items": []}'
    response = client.post(
        "/integrations/shopify/webhooks",
        body + b" ",
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="orders/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
        HTTP_X_SHOPIFY_WEBHOOK_ID="w-1",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature("shpss_test_secret_for_the_example_shop", body),
    )

    assert response.status_code == 401
    assert not WebhookReceipt.objects.exists()


def test_an_order_for_stock_we_lack_is_recorded_with_an_oversell_alert(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    payload["line_items"][0]["quantity"] = 12  # 10 in the warehouse

    response = post_shopify("orders/create", payload)

    assert response.json() == {"outcome": "applied"}
    order = Order.objects.get(id=shopify_order_id(payload["id"]))
    assert order.status == OrderStatus.PLACED
    alert = OversellAlert.objects.get(order_id=order.id)
    assert alert.lines == [{"sku": "SKU2006-001", "location": "WH-01", "quantity": 2}]
    stock = level("SKU2006-001")
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 12, 0)
    # The units are promised: no other channel can take them.
    with pytest.raises(InsufficientStock):
        order_services.order_place(
            customer={"email": "otra@example.es"},
            channel="store",
            lines=[{"sku": "SKU2006-001", "quantity": 1}],
            fulfilment={"method": "ship"},
            actor="t",
        )


def test_an_unknown_sku_is_dead_lettered_and_a_replay_after_adding_the_product_creates_the_order_once(
    shop, post_shopify
):
    payload = fixture("shopify_orders_create.json")
    payload["line_items"][1]["sku"] = "NEW-LAMP-01"
    events = event_count()

    response = post_shopify("orders/create", payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "dead_lettered"}
    assert event_count() == events
    letter = DeadLetter.objects.get()
    assert letter.code == "unknown_sku"
    assert "NEW-LAMP-01" in letter.reason
    assert not dead_letter_replay(dead_letter_id=letter.id, actor="test")  # still unknown
    assert DeadLetter.objects.get().attempts == 2

    order_services.product_save(sku="NEW-LAMP-01", name="Lamp", category="x", price=Decimal("30"), actor="t")
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")

    assert Order.objects.filter(id=shopify_order_id(payload["id"])).count() == 1
    letter.refresh_from_db()
    assert (letter.status, letter.replayed_by) == ("replayed", "test")
    # The lamp was never stocked: it is recorded and alerted, not refused.
    assert OversellAlert.objects.get().lines == [{"sku": "NEW-LAMP-01", "location": "WH-01", "quantity": 1}]


def test_an_unmapped_location_is_dead_lettered_until_mapped(shop, post_shopify):
    from backoffice.integrations.services import shop_connection_save

    shop_connection_save(platform="shopify", shop_domain=SHOP_DOMAIN, default_location="", location_map={})
    post_shopify("orders/create", fixture("shopify_orders_create.json"))
    letter = DeadLetter.objects.get()
    assert letter.code == "unmapped_location"

    shop_connection_save(platform="shopify", shop_domain=SHOP_DOMAIN, default_location="WH-01")

    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")
    assert Order.objects.count() == 1


def test_an_unknown_topic_or_a_body_that_is_not_json_is_kept_as_received(shop, post_shopify):
    post_shopify("products/update", {"id": 1, "title": "x"})
    post_shopify("orders/create", b"<xml>not json</xml>")

    assert sorted(DeadLetter.objects.values_list("code", flat=True)) == ["not_json", "unknown_topic"]
    from backoffice import crypto

    kept = {letter.code: crypto.decrypt(letter.body_encrypted) for letter in DeadLetter.objects.all()}
    assert kept["not_json"] == b"<xml>not json</xml>"


@pytest.mark.parametrize(
    ("restock_type", "restock", "on_hand"),
    [
        ("return", False, 10),  # the published example: the line's type rules over the legacy flag
        ("legacy_restock", True, 10),
        ("no_restock", False, 9),  # refunded, the customer keeps the goods: nothing comes back
        (None, False, 9),  # a refund from before restock_type: the legacy flag says it
        (None, True, 10),
    ],
)
def test_the_order_follows_paid_fulfilled_and_refund_topics(shop, post_shopify, restock_type, restock, on_hand):
    payload = fixture("shopify_orders_create.json")
    post_shopify("orders/create", payload)
    order_id = shopify_order_id(payload["id"])

    post_shopify("orders/paid", {**payload, "financial_status": "paid"})
    assert Order.objects.get(id=order_id).status == OrderStatus.PAID

    post_shopify("orders/fulfilled", {**payload, "financial_status": "paid", "fulfillment_status": "fulfilled"})
    assert Order.objects.get(id=order_id).status == OrderStatus.SHIPPED
    assert (level("SKU2006-001").on_hand, level("SKU2006-001").reserved) == (9, 0)

    refund = fixture("shopify_refunds_create.json")
    refund["restock"] = restock
    if restock_type is None:
        del refund["refund_line_items"][0]["restock_type"]
    else:
        refund["refund_line_items"][0]["restock_type"] = restock_type
    response = post_shopify("refunds/create", refund)
    assert response.json() == {"outcome": "applied"}, DeadLetter.objects.values_list("reason", flat=True)
    order = Order.objects.get(id=order_id)
    assert (order.status, order.refunded) == (OrderStatus.PARTIALLY_RETURNED, Decimal("19.90"))
    assert level("SKU2006-001").on_hand == on_hand


def test_a_refund_resent_under_a_new_webhook_id_is_returned_once(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    post_shopify("orders/create", {**payload, "financial_status": "paid", "fulfillment_status": "fulfilled"})
    refund = fixture("shopify_refunds_create.json")

    first = post_shopify("refunds/create", refund)
    before = event_count()
    again = post_shopify("refunds/create", refund)  # Shopify retries with the same refund, another webhook id

    assert (first.json(), again.json()) == ({"outcome": "applied"}, {"outcome": "applied"})
    assert event_count() == before
    assert Order.objects.get(id=shopify_order_id(payload["id"])).refunded == Decimal("19.90")
    assert level("SKU2006-001").on_hand == 10


def test_a_refund_cancelling_every_unit_before_shipping_cancels_the_order(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    post_shopify("orders/create", {**payload, "financial_status": "paid"})
    refund = fixture("shopify_refunds_create.json")
    items = []
    for line in payload["line_items"]:
        item = {**refund["refund_line_items"][0], "restock_type": "cancel", "quantity": line["quantity"]}
        items.append({**item, "line_item": {**item["line_item"], "sku": line["sku"], "quantity": line["quantity"]}})

    part = post_shopify("refunds/create", {**refund, "refund_line_items": items[:1]})
    whole = post_shopify("refunds/create", {**refund, "refund_line_items": items})
    again = post_shopify("refunds/create", {**refund, "refund_line_items": items})  # orders/cancelled did it

    assert len(items) > 1
    assert part.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == "partial_cancel"
    assert (whole.json(), again.json()) == ({"outcome": "applied"}, {"outcome": "applied"})
    assert Order.objects.get(id=shopify_order_id(payload["id"])).status == OrderStatus.CANCELLED
    assert level("SKU2006-001").reserved == 0
    assert not Event.objects.filter(type__in=("order.returned", "stock.returned")).exists()


def test_a_cancelled_order_releases_its_stock(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    post_shopify("orders/create", payload)

    post_shopify(
        "orders/cancelled", {**payload, "cancelled_at": "2022-01-01T10:00:00-05:00", "cancel_reason": "customer"}
    )

    assert Order.objects.get(id=shopify_order_id(payload["id"])).status == OrderStatus.CANCELLED
    assert level("SKU2006-001").reserved == 0


def test_a_checkout_is_a_cart_and_its_update_changes_the_lines(shop, post_shopify):
    from backoffice.eventstore import projector

    checkout = fixture("shopify_checkouts_create.json")
    post_shopify("checkouts/create", checkout)
    projector.catch_up("orders.carts")
    cart = Cart.objects.get()
    assert {sku: item["quantity"] for sku, item in cart.items.items()} == {"SKU2006-001": 1, "SKU2006-020": 2}
    assert cart.status == "open"

    checkout["line_items"] = checkout["line_items"][1:]
    checkout["line_items"][0]["quantity"] = 1
    post_shopify("checkouts/update", checkout)
    projector.catch_up("orders.carts")
    assert {sku: item["quantity"] for sku, item in Cart.objects.get().items.items()} == {"SKU2006-020": 1}

    post_shopify("checkouts/update", {**checkout, "completed_at": "2022-01-01T10:00:00-05:00"})
    projector.catch_up("orders.carts")
    assert Cart.objects.get().status == "checked_out"


def test_shopify_customers_register_through_identity_resolution(shop, post_shopify):
    post_shopify("customers/create", fixture("shopify_customers_create.json"))
    post_shopify("customers/update", {**fixture("shopify_customers_create.json"), "phone": "+34600123123"})

    (customer,) = Customer.objects.all()
    assert customer.display_name == "Bob Biller"
    keys = set(customer.identifiers.values_list("key", flat=True))
    assert "email:bob@biller.com" in keys
    assert "phone:+34600123123" in keys


def test_woocommerce_order_created_is_a_paid_web_order(shop, post_woo):
    response = post_woo("order.created", fixture("woocommerce_order_created.json"))

    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "applied"}
    order = Order.objects.get(id=shop_order_id("woocommerce", "example.com", "727"))
    assert (order.channel, order.status) == ("web", OrderStatus.PAID)
    assert sorted((line.sku, line.quantity) for line in order.lines.all()) == [
        ("SHIP-IDEA-BLACK-M", 1),
        ("WOO-SINGLE-1", 2),
    ]


def test_woocommerce_order_updated_to_completed_ships_it(shop, post_woo):
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)

    post_woo("order.updated", {**payload, "status": "completed"})

    order = Order.objects.get(id=shop_order_id("woocommerce", "example.com", "727"))
    assert order.status == OrderStatus.SHIPPED


def test_woocommerce_refunded_cancels_an_order_not_shipped_and_returns_a_shipped_one(shop, post_woo):
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)
    post_woo("order.updated", {**payload, "status": "refunded"})
    assert Order.objects.get(id=shop_order_id("woocommerce", "example.com", "727")).status == OrderStatus.CANCELLED

    other = {**payload, "id": 728}
    post_woo("order.created", other)
    post_woo("order.updated", {**other, "status": "completed"})
    post_woo("order.updated", {**other, "status": "refunded"})
    order = Order.objects.get(id=shop_order_id("woocommerce", "example.com", "728"))
    assert order.status == OrderStatus.RETURNED
    assert level("WOO-SINGLE-1").on_hand == 10


def test_woocommerce_bad_signature_is_401_and_stores_nothing(shop, post_woo):
    events = event_count()

    response = post_woo("order.created", fixture("woocommerce_order_created.json"), secret="wrong")

    assert response.status_code == 401
    assert event_count() == events
    assert not WebhookReceipt.objects.exists()


def test_woocommerce_resent_delivery_writes_nothing(shop, post_woo):
    post_woo("customer.created", fixture("woocommerce_customer_created.json"), delivery_id="d-1")
    events = event_count()

    response = post_woo("customer.created", fixture("woocommerce_customer_created.json"), delivery_id="d-1")

    assert response.json() == {"outcome": "duplicate"}
    assert event_count() == events
    assert Customer.objects.count() == 1


def test_two_changes_of_one_woocommerce_order_sent_in_the_same_second_are_both_applied(shop, post_woo):
    """WooCommerce's delivery id is wp_hash(webhook id . current second): two changes of one order sent in the same
    second carry the same id with different bodies, and the second is a real change, not a duplicate."""
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)
    same_second = "4f1c2d0b9a8e7f6a5b4c3d2e1f0a9b8c"

    noted = post_woo("order.updated", {**payload, "customer_note": "leave at the door"}, delivery_id=same_second)
    completed = post_woo("order.updated", {**payload, "status": "completed"}, delivery_id=same_second)
    resent = post_woo("order.updated", {**payload, "status": "completed"}, delivery_id=same_second)

    assert noted.json() == completed.json() == {"outcome": "applied"}
    assert resent.json() == {"outcome": "duplicate"}
    assert Order.objects.get(id=shop_order_id("woocommerce", "example.com", "727")).status == OrderStatus.SHIPPED


def test_woocommerce_ping_on_saving_the_webhook_is_answered_and_stores_nothing(shop, client):
    response = client.post(
        "/integrations/woocommerce/webhooks",
        "webhook_id=12",
        content_type="application/x-www-form-urlencoded",
        HTTP_X_WC_WEBHOOK_SOURCE="https://example.com/",
    )

    assert response.status_code == 200
    assert not WebhookReceipt.objects.exists()


def test_a_shop_signing_with_the_environment_secret_gets_a_connection_to_map(shop, client):
    body = b'{"id": 5, "email": "x@example.com", "first_name": "X", "last_name": "Y"}'
    response = client.post(
        "/integrations/shopify/webhooks",
        body,
        content_type="application/json",
        HTTP_X_SHOPIFY_TOPIC="customers/create",
        HTTP_X_SHOPIFY_SHOP_DOMAIN="other-shop.myshopify.com",
        HTTP_X_SHOPIFY_WEBHOOK_ID="w-other",
        HTTP_X_SHOPIFY_HMAC_SHA256=signature("shpss_test_secret_for_the_example_shop", body),
    )

    assert response.json() == {"outcome": "applied"}
    assert ShopConnection.objects.filter(shop_domain="other-shop.myshopify.com").exists()


def test_a_secret_entered_for_a_connection_is_stored_encrypted_and_used(shop, post_shopify):
    from backoffice.integrations.services import shop_connection_save

    connection = shop_connection_save(platform="shopify", shop_domain=SHOP_DOMAIN, secret="own-secret-123")
    assert "own-secret-123" not in connection.secret_encrypted

    assert post_shopify("customers/create", fixture("shopify_customers_create.json")).status_code == 401
    assert (
        post_shopify("customers/create", fixture("shopify_customers_create.json"), secret="own-secret-123").status_code
        == 200
    )


def test_receive_service_refuses_without_any_secret(db, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    from backoffice.integrations.services import ShopWebhookRefused

    with pytest.raises(ShopWebhookRefused):
        shop_webhook_receive(
            platform="shopify",
            shop_domain="a.myshopify.com",
            topic="orders/create",
            delivery_id="1",
            body=b"{}",
            signature=signature("", b"{}"),
        )


def test_shipping_an_oversold_order_waits_in_the_dead_letters_until_the_stock_arrives(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    payload["line_items"][0]["quantity"] = 12  # 10 in the warehouse
    post_shopify("orders/create", {**payload, "financial_status": "paid"})
    events = event_count()

    response = post_shopify(
        "orders/fulfilled", {**payload, "financial_status": "paid", "fulfillment_status": "fulfilled"}
    )

    assert response.status_code == 200
    assert response.json() == {"outcome": "dead_lettered"}
    assert event_count() == events
    assert DeadLetter.objects.get().code == "insufficient_stock"
    order_id = shopify_order_id(payload["id"])
    assert Order.objects.get(id=order_id).status == OrderStatus.PAID
    order_services.stock_move(sku="SKU2006-001", location="WH-01", kind="received", quantity=2, actor="t")

    assert dead_letter_replay(dead_letter_id=DeadLetter.objects.get().id, actor="test")
    assert Order.objects.get(id=order_id).status == OrderStatus.SHIPPED
    assert (level("SKU2006-001").on_hand, level("SKU2006-001").reserved) == (0, 0)


def test_a_nul_character_in_a_signed_payload_is_dead_lettered_not_a_500(shop, post_shopify):
    payload = {**fixture("shopify_customers_create.json"), "first_name": "Bo\u0000b"}

    response = post_shopify("customers/create", payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "dead_lettered"}
    assert not Customer.objects.exists()


def _set(path: str, value):
    """A change to a published example: `path` is dotted keys and list indexes."""

    def change(payload: dict) -> dict:
        *parents, last = path.split(".")
        node = payload
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
        return payload

    return change


@pytest.mark.parametrize(
    ("platform", "topic", "example", "change", "code"),
    [
        ("shopify", "orders/create", "shopify_orders_create.json", _set("line_items.0.quantity", 20_000), "max_value"),
        (
            "shopify",
            "orders/create",
            "shopify_orders_create.json",
            _set("line_items", [{"sku": "SKU2006-001", "quantity": 6000}, {"sku": "SKU2006-001", "quantity": 6000}]),
            "max_value",
        ),
        (
            "woocommerce",
            "order.created",
            "woocommerce_order_created.json",
            _set("date_created_gmt", 1490210882),
            "unknown_shape",
        ),
        (
            "shopify",
            "refunds/create",
            "shopify_refunds_create.json",
            _set("refund_line_items.0.line_item", ["SKU2006-001"]),
            "unknown_shape",
        ),
        (
            "shopify",
            "refunds/create",
            "shopify_refunds_create.json",
            _set("refund_line_items.0.line_item", "SKU2006-001"),
            "unknown_shape",
        ),
        (
            "shopify",
            "refunds/create",
            "shopify_refunds_create.json",
            _set("refund_line_items.0.restock_type", "burn"),
            "unknown_shape",
        ),
        (
            "shopify",
            "checkouts/create",
            "shopify_checkouts_create.json",
            _set("line_items.0.price", "1e30"),
            "unknown_shape",
        ),
        (
            "shopify",
            "checkouts/create",
            "shopify_checkouts_create.json",
            _set("line_items.0.price", "Infinity"),
            "unknown_shape",
        ),
        (
            "shopify",
            "checkouts/create",
            "shopify_checkouts_create.json",
            _set("line_items.0.price", {"amount": 1}),
            "unknown_shape",
        ),
    ],
)
def test_a_signed_payload_we_cannot_apply_is_dead_lettered_with_its_reason_not_a_500(
    shop, post_shopify, post_woo, client, platform, topic, example, change, code
):
    client.raise_request_exception = False
    before = event_count()
    post = post_shopify if platform == "shopify" else post_woo

    response = post(topic, change(fixture(example)))

    assert response.status_code == 200, response.status_code
    assert response.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == code
    assert event_count() == before
    assert not Order.objects.exists()


def test_an_unforeseen_python_error_applying_a_delivery_is_dead_lettered_as_unknown_shape(
    shop, post_shopify, client, monkeypatch
):
    from backoffice.integrations.mapping import shopify

    def broken(payload):
        raise TypeError("'int' object is not subscriptable")

    monkeypatch.setattr(shopify, "customer_record", broken)
    client.raise_request_exception = False

    response = post_shopify("customers/create", fixture("shopify_customers_create.json"))

    assert response.json() == {"outcome": "dead_lettered"}
    letter = DeadLetter.objects.get()
    assert (letter.code, letter.reason) == ("unknown_shape", "TypeError: 'int' object is not subscriptable")
    assert WebhookReceipt.objects.get().outcome == "dead_lettered"


def test_a_reason_quoting_a_nul_character_is_still_kept(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    payload["line_items"][0]["sku"] = "BAD\u0000SKU"

    response = post_shopify("orders/create", payload)

    assert response.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == "null_character"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_orders_of_one_new_customer_arriving_at_once_register_them_once(shop):
    import threading

    from django.db import connection
    from django.test import Client

    from .conftest import SHOPIFY_SECRET, body_of

    statuses: list = []

    def deliver(order_number: int, person: int):
        email = f"new-{person}@example.es"
        payload = fixture("shopify_orders_create.json")
        customer = {**payload["customer"], "id": 7000 + person, "email": email}
        payload |= {"id": order_number, "email": email, "customer": customer}
        body = body_of(payload)
        try:
            response = Client().post(
                "/integrations/shopify/webhooks",
                body,
                content_type="application/json",
                HTTP_X_SHOPIFY_TOPIC="orders/create",
                HTTP_X_SHOPIFY_SHOP_DOMAIN=SHOP_DOMAIN,
                HTTP_X_SHOPIFY_WEBHOOK_ID=f"w-{order_number}",
                HTTP_X_SHOPIFY_HMAC_SHA256=signature(SHOPIFY_SECRET, body),
            )
            statuses.append((response.status_code, response.json()))
        finally:
            connection.close()

    for person in range(5):
        threads = [threading.Thread(target=deliver, args=(person * 10 + n, person)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [(200, {"outcome": "applied"})] * 10
    assert Order.objects.count() == 10
    assert Customer.objects.count() == 5


def _first_seen_fulfilled_short(platform: str) -> tuple[str, dict, str, str]:
    """An order the shop has already paid and shipped, 12 units of a sku the warehouse holds 10 of: (topic, payload,
    our order id, the short sku)."""
    if platform == "woocommerce":
        payload = fixture("woocommerce_order_created.json")
        payload["status"] = "completed"
        payload["line_items"][0]["quantity"] = 12
        sku = payload["line_items"][0]["sku"]
        return "order.created", payload, shop_order_id("woocommerce", "example.com", str(payload["id"])), sku
    payload = fixture("shopify_orders_create.json")
    payload |= {"financial_status": "paid", "fulfillment_status": "fulfilled"}
    payload["line_items"][0]["quantity"] = 12
    return "orders/create", payload, shopify_order_id(payload["id"]), payload["line_items"][0]["sku"]


@pytest.mark.parametrize("platform", ["woocommerce", "shopify"])
def test_an_order_first_seen_fulfilled_at_a_location_short_of_stock_is_kept_and_only_its_shipping_waits(
    shop, post_shopify, post_woo, platform
):
    topic, payload, order_id, sku = _first_seen_fulfilled_short(platform)
    post = post_woo if platform == "woocommerce" else post_shopify

    response = post(topic, payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "dead_lettered"}
    letter = DeadLetter.objects.get()
    assert letter.code == "insufficient_stock"
    assert WebhookReceipt.objects.get().outcome == "dead_lettered"
    # Recorded as in the two-delivery path: placed and paid, every unit reserved, the oversell flagged.
    assert Order.objects.get(id=order_id).status == OrderStatus.PAID
    stock = level(sku)
    assert (stock.on_hand, stock.reserved, stock.available) == (10, 12, 0)
    assert OversellAlert.objects.get(order_id=order_id).lines == [{"sku": sku, "location": "WH-01", "quantity": 2}]
    assert not Event.objects.filter(type__in=("order.shipped", "stock.sold")).exists()

    order_services.stock_move(sku=sku, location="WH-01", kind="received", quantity=2, actor="t")
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")

    # The replay ships; it does not place, pay or alert a second time.
    assert Order.objects.get(id=order_id).status == OrderStatus.SHIPPED
    assert (level(sku).on_hand, level(sku).reserved) == (0, 0)
    assert Event.objects.filter(type="order.placed").count() == 1
    assert Event.objects.filter(type="order.paid").count() == 1
    assert OversellAlert.objects.filter(order_id=order_id).count() == 1
    assert WebhookReceipt.objects.get().outcome == "applied"


def test_a_replay_whose_shipping_is_still_short_keeps_the_order_as_it_was(shop, post_shopify):
    topic, payload, order_id, sku = _first_seen_fulfilled_short("shopify")
    post_shopify(topic, payload)
    letter = DeadLetter.objects.get()
    events = event_count()

    assert not dead_letter_replay(dead_letter_id=letter.id, actor="test")

    letter.refresh_from_db()
    assert (letter.code, letter.attempts, letter.status) == ("insufficient_stock", 2, "pending")
    assert event_count() == events
    assert Order.objects.get(id=order_id).status == OrderStatus.PAID


def test_an_order_first_seen_fulfilled_but_not_paid_is_kept_and_waits_for_its_payment(shop, post_shopify):
    payload = {**fixture("shopify_orders_create.json"), "fulfillment_status": "fulfilled"}  # financial: pending

    response = post_shopify("orders/create", payload)

    assert response.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == "not_paid"
    assert Order.objects.get(id=shopify_order_id(payload["id"])).status == OrderStatus.PLACED
    assert level("SKU2006-001").reserved == 1


@pytest.mark.parametrize("restored_to", ["processing", "completed"])
def test_a_woocommerce_order_we_cancelled_then_restored_in_the_shop_waits_for_staff(shop, post_woo, restored_to):
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)
    post_woo("order.updated", {**payload, "status": "cancelled"})
    order_id = shop_order_id("woocommerce", "example.com", str(payload["id"]))
    assert Order.objects.get(id=order_id).status == OrderStatus.CANCELLED
    events = event_count()

    response = post_woo("order.updated", {**payload, "status": restored_to})

    assert response.json() == {"outcome": "dead_lettered"}
    letter = DeadLetter.objects.get()
    assert letter.code == "illegal_transition"
    assert "cancelled" in letter.reason
    assert WebhookReceipt.objects.filter(outcome="dead_lettered").count() == 1
    assert event_count() == events
    assert Order.objects.get(id=order_id).status == OrderStatus.CANCELLED
    stock = level("WOO-SINGLE-1")
    assert (stock.on_hand, stock.reserved) == (10, 0)


def test_a_shop_order_cancelled_again_or_still_cancelled_is_applied(shop, post_woo):
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)
    post_woo("order.updated", {**payload, "status": "cancelled"})

    again = post_woo("order.updated", {**payload, "status": "cancelled", "customer_note": "llamar antes"})

    assert again.json() == {"outcome": "applied"}
    assert not DeadLetter.objects.exists()


def test_a_woocommerce_order_cancelled_in_the_shop_after_we_shipped_it_waits_for_staff(shop, post_woo):
    payload = fixture("woocommerce_order_created.json")
    post_woo("order.created", payload)
    post_woo("order.updated", {**payload, "status": "completed"})
    events = event_count()

    response = post_woo("order.updated", {**payload, "status": "cancelled"})

    assert response.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == "illegal_transition"
    assert event_count() == events
    assert Order.objects.get(id=shop_order_id("woocommerce", "example.com", "727")).status == OrderStatus.SHIPPED


def test_an_unpaid_oversold_order_fulfilled_later_keeps_its_payment_while_its_shipping_waits(shop, post_shopify):
    payload = fixture("shopify_orders_create.json")
    payload["line_items"][0]["quantity"] = 12  # 10 in the warehouse
    post_shopify("orders/create", payload)  # financial_status pending

    response = post_shopify(
        "orders/fulfilled", {**payload, "financial_status": "paid", "fulfillment_status": "fulfilled"}
    )

    assert response.json() == {"outcome": "dead_lettered"}
    assert DeadLetter.objects.get().code == "insufficient_stock"
    assert Order.objects.get(id=shopify_order_id(payload["id"])).status == OrderStatus.PAID
    assert not Event.objects.filter(type="order.shipped").exists()
