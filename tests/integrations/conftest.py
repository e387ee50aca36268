"""A shop with a warehouse and the products of the platforms' published example payloads, a Shopify and a
WooCommerce connection, and helpers that sign deliveries the way the platforms do."""

import base64
import hashlib
import hmac
import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.eventstore.models import Event
from backoffice.integrations import services
from orders import services as order_services

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY_SECRET = "shpss_test_secret_for_the_example_shop"
WOO_SECRET = "woo-test-secret"
SHOP_DOMAIN = "jsmith.myshopify.com"
SKUS = ("SKU2006-001", "SKU2006-020", "WOO-SINGLE-1", "SHIP-IDEA-BLACK-M")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def body_of(payload: dict | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def signature(secret: str, body: bytes) -> str:
    """As Shopify and WooCommerce sign: base64 of HMAC-SHA256 of the raw body with the shared secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@pytest.fixture
def shop(db, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.WOOCOMMERCE_WEBHOOK_SECRET = WOO_SECRET
    order_services.location_create(code="WH-01", name="Almacén central", kind="warehouse", city="Madrid", actor="t")
    order_services.location_create(code="MAD-01", name="Madrid Gran Vía", kind="store", city="Madrid", actor="t")
    for sku in SKUS[:2] + SKUS[2:]:
        order_services.product_save(sku=sku, name=sku, category="example", price=Decimal("19.90"), actor="t")
        order_services.stock_move(sku=sku, location="WH-01", kind="received", quantity=10, actor="t")
    services.shop_connection_save(
        platform="shopify", shop_domain=SHOP_DOMAIN, location_map={"655441491": "WH-01"}, default_location="WH-01"
    )
    services.shop_connection_save(platform="woocommerce", shop_domain="example.com", default_location="WH-01")


@pytest.fixture
def post_shopify(client):
    def post(
        topic: str, payload, *, webhook_id: str | None = None, secret: str = SHOPIFY_SECRET, sign=True, hmac_header=None
    ):
        body = body_of(payload)
        headers = {
            "HTTP_X_SHOPIFY_TOPIC": topic,
            "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP_DOMAIN,
            "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id or str(uuid.uuid4()),
            "HTTP_X_SHOPIFY_API_VERSION": "2025-07",
            "HTTP_X_SHOPIFY_TRIGGERED_AT": "2026-12-06T05:00:00.000Z",
        }
        if sign:
            headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = hmac_header or signature(secret, body)
        return client.post("/integrations/shopify/webhooks", body, content_type="application/json", **headers)

    return post


@pytest.fixture
def post_woo(client):
    def post(topic: str, payload, *, delivery_id: str | None = None, secret: str = WOO_SECRET):
        body = body_of(payload)
        resource, event = topic.split(".")
        return client.post(
            "/integrations/woocommerce/webhooks",
            body,
            content_type="application/json",
            HTTP_X_WC_WEBHOOK_SOURCE="https://example.com/",
            HTTP_X_WC_WEBHOOK_TOPIC=topic,
            HTTP_X_WC_WEBHOOK_RESOURCE=resource,
            HTTP_X_WC_WEBHOOK_EVENT=event,
            HTTP_X_WC_WEBHOOK_SIGNATURE=signature(secret, body),
            HTTP_X_WC_WEBHOOK_ID="12",
            HTTP_X_WC_WEBHOOK_DELIVERY_ID=delivery_id or uuid.uuid4().hex,
        )

    return post


def event_count() -> int:
    return Event.objects.count()
