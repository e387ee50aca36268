"""Dead-lettered shop deliveries hold personal data outside the log: dropped once applied, when a person they name
is erased, and after the retention period."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice import crypto
from backoffice.crypto import identifier_digest
from backoffice.integrations.models import DeadLetter, DeadLetterSubject
from backoffice.integrations.services import dead_letter_replay
from backoffice.integrations.services.dead_letters import dead_letters_expire, subject_digests
from backoffice.integrations.services.shops import shop_order_id
from customers.services import customer_erase
from orders import services as order_services
from orders.models import Order

from .conftest import SHOP_DOMAIN, fixture

pytestmark = pytest.mark.django_db


def _dead_letter_for(post_shopify, *, order_id: int, email: str, phone: str | None = None) -> DeadLetter:
    payload = fixture("shopify_orders_create.json")
    payload["id"] = order_id
    payload["email"] = payload["contact_email"] = payload["customer"]["email"] = email
    payload["customer"]["phone"] = phone
    payload["line_items"][1]["sku"] = "NOT-IN-THE-CATALOG"
    response = post_shopify("orders/create", payload)
    assert response.json() == {"outcome": "dead_lettered"}
    return DeadLetter.objects.order_by("-id").first()


def test_the_subjects_of_a_body_are_its_emails_and_phones_normalised_and_keyed():
    body = b'{"email": " Ana@Example.COM ", "customer": {"phone": "600 111 222", "email": "not an email"}}'

    assert subject_digests(body) == {
        identifier_digest("email:ana@example.com"),
        identifier_digest("phone:+34600111222"),
    }
    assert subject_digests(b"<xml>not json</xml>") == set()
    assert all(len(d) == 64 and "ana" not in d for d in subject_digests(body))


def test_erasing_a_customer_drops_the_dead_lettered_bodies_that_name_them_and_only_those(shop, post_shopify):
    applied = fixture("shopify_orders_create.json")
    post_shopify("orders/create", applied)  # registers the shop's customer
    customer_id = Order.objects.get().customer_id
    theirs = _dead_letter_for(post_shopify, order_id=1001, email=applied["customer"]["email"])
    someone_else = _dead_letter_for(post_shopify, order_id=1002, email="maria@example.es", phone="+34611222333")

    customer_erase(customer_id=customer_id, actor="user:1")

    theirs.refresh_from_db()
    someone_else.refresh_from_db()
    assert (theirs.status, theirs.body_encrypted, theirs.reason) == ("erased", "", "")
    assert not DeadLetterSubject.objects.filter(dead_letter=theirs).exists()
    assert theirs.delivery_id
    assert theirs.topic == "orders/create"
    assert someone_else.status == "pending"
    assert b"maria@example.es" in crypto.decrypt(someone_else.body_encrypted)
    # Nothing left to apply: a replay refuses and places nothing.
    assert not dead_letter_replay(dead_letter_id=theirs.id, actor="test")
    assert DeadLetter.objects.get(id=theirs.id).status == "erased"


def test_a_replay_that_applies_drops_the_body(shop, post_shopify):
    letter = _dead_letter_for(post_shopify, order_id=1003, email="luis@example.es")
    order_services.product_save(sku="NOT-IN-THE-CATALOG", name="Lamp", category="x", price=Decimal("30"), actor="t")

    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")

    letter.refresh_from_db()
    assert (letter.status, letter.body_encrypted) == ("replayed", "")
    assert not letter.subjects.exists()
    assert Order.objects.filter(id=shop_order_id("shopify", SHOP_DOMAIN, "1003")).count() == 1
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")  # replayed stays replayed, nothing twice
    assert Order.objects.filter(id=shop_order_id("shopify", SHOP_DOMAIN, "1003")).count() == 1


def test_bodies_past_the_retention_are_dropped_and_younger_ones_kept(shop, post_shopify, settings):
    settings.INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS = 30
    old = _dead_letter_for(post_shopify, order_id=1004, email="old@example.es")
    young = _dead_letter_for(post_shopify, order_id=1005, email="young@example.es")
    DeadLetter.objects.filter(id=old.id).update(received_at=timezone.now() - timedelta(days=31))

    assert dead_letters_expire() == 1
    assert dead_letters_expire() == 0  # nothing left to drop

    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.status, old.body_encrypted, old.reason) == ("expired", "", "")
    assert young.status == "pending"
    assert young.body_encrypted
    assert not dead_letter_replay(dead_letter_id=old.id, actor="test")


def test_the_admin_says_why_a_dropped_body_is_gone(shop, post_shopify, admin_client):
    letter = _dead_letter_for(post_shopify, order_id=1006, email="ines@example.es")
    DeadLetter.objects.filter(id=letter.id).update(received_at=timezone.now() - timedelta(days=365))
    dead_letters_expire()

    page = admin_client.get(f"/admin/integrations/deadletter/{letter.id}/change/")

    assert page.status_code == 200
    assert b"ines@example.es" not in page.content
    assert "retention" in page.content.decode() or "retención" in page.content.decode()
