"""Integrations in the admin, through the services: sources (key shown once, revoke), shop connections (secret
stored encrypted), dead letters (read the body, replay), oversell alerts; in Spanish by default."""

import pytest
from django.test import override_settings

from backoffice.integrations.models import DeadLetter, OversellAlert, ShopConnection, TrackingSource
from backoffice.integrations.services.sources import key_hash
from orders.models import Order

from .conftest import SHOP_DOMAIN, fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(login):
    return login("admin")


def test_adding_a_source_shows_its_key_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(
        "/admin/integrations/trackingsource/add/", {"name": "web-shop", "channel": "web"}, follow=True
    )

    assert response.status_code == 200
    (message,) = [str(m) for m in response.context["messages"] if "Write key" in str(m)]
    key = message.rsplit(": ", 1)[1]
    source = TrackingSource.objects.get()
    assert source.key_hash == key_hash(key)
    assert key not in admin_client.get(f"/admin/integrations/trackingsource/{source.pk}/change/").content.decode()


def test_the_revoke_action_revokes_through_the_service(admin_client):
    admin_client.post("/admin/integrations/trackingsource/add/", {"name": "web-shop", "channel": "web"})
    source = TrackingSource.objects.get()

    admin_client.post("/admin/integrations/trackingsource/", {"action": "revoke", "_selected_action": [str(source.pk)]})

    source.refresh_from_db()
    assert not source.is_active
    assert source.revoked_at is not None


def test_a_connection_secret_entered_in_the_admin_is_stored_encrypted(admin_client):
    response = admin_client.post(
        "/admin/integrations/shopconnection/add/",
        {
            "platform": "shopify",
            "shop_domain": "Tienda.myshopify.com",
            "default_location": "WH-01",
            "is_active": "on",
            "secret": "shpss_entered_once",
            "location_map_text": '{"655441491": "WH-01"}',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    connection = ShopConnection.objects.get()
    assert connection.shop_domain == "tienda.myshopify.com"
    assert connection.location_map == {"655441491": "WH-01"}
    assert connection.secret_encrypted
    assert "shpss_entered_once" not in connection.secret_encrypted


def test_a_dead_letter_is_readable_and_replayed_from_the_admin(admin_client, shop, post_shopify):
    from decimal import Decimal

    from orders import services as order_services

    payload = fixture("shopify_orders_create.json")
    payload["line_items"][0]["sku"] = "LATER-01"
    post_shopify("orders/create", payload)
    letter = DeadLetter.objects.get()
    page = admin_client.get(f"/admin/integrations/deadletter/{letter.pk}/change/").content.decode()
    assert "LATER-01" in page  # the body as received
    order_services.product_save(sku="LATER-01", name="Later", category="x", price=Decimal("5"), actor="t")

    replayed = admin_client.post(
        "/admin/integrations/deadletter/",
        {"action": "replay", "_selected_action": [str(letter.pk)]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="en",
    )

    letter.refresh_from_db()
    assert letter.status == "replayed"
    assert "Replayed 1 of 1: 1 applied, 0 still failing." in replayed.content.decode()
    assert Order.objects.count() == 1
    assert OversellAlert.objects.count() == 1
    admin_client.post(
        "/admin/integrations/oversellalert/",
        {"action": "resolve", "_selected_action": [str(OversellAlert.objects.get().pk)]},
    )
    assert OversellAlert.objects.get().resolved_at is not None


@override_settings(LANGUAGE_CODE="es")
def test_the_integrations_admin_speaks_spanish(admin_client, shop):
    index = admin_client.get("/admin/").content.decode()
    assert "Integraciones" in index
    assert "Mensajes fallidos" in index or "mensajes fallidos" in index
    assert "Fuentes de seguimiento" in index or "fuentes de seguimiento" in index

    english = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Dead letters" in english


def test_shop_connection_list_shows_the_domain(admin_client, shop):
    page = admin_client.get("/admin/integrations/shopconnection/").content.decode()

    assert SHOP_DOMAIN in page


def test_an_oversell_alert_cannot_be_edited_in_its_form(admin_client):
    # The change permission is there for the resolve action only: the form must not write past the services.
    alert = OversellAlert.objects.create(
        order_id="ord-1", platform="shopify", platform_order_id="1001", lines=[{"sku": "A", "quantity": 1}]
    )

    admin_client.post(
        f"/admin/integrations/oversellalert/{alert.pk}/change/",
        {
            "order_id": "ord-2",
            "platform": "shopify",
            "platform_order_id": "9999",
            "lines": '[{"sku": "B", "quantity": 9}]',
            "resolved_by": "x",
        },
    )

    alert.refresh_from_db()
    assert (alert.order_id, alert.platform_order_id, alert.lines, alert.resolved_by) == (
        "ord-1",
        "1001",
        [{"sku": "A", "quantity": 1}],
        "",
    )


@pytest.mark.parametrize(("permissions", "has_resolve"), [(["view"], False), (["view", "change"], True)])
def test_the_resolve_action_is_offered_to_staff_with_the_change_permission_only(client, permissions, has_resolve):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    OversellAlert.objects.create(
        order_id="ord-1",
        platform="shopify",
        platform_order_id="1001",
        lines=[{"sku": "A", "quantity": 1, "location": "WH-01"}],
    )
    user = UserFactory()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="integrations", codename__in=[f"{p}_oversellalert" for p in permissions]
        )
    )
    client.force_login(user)

    listing = client.get("/admin/integrations/oversellalert/")

    assert listing.status_code == 200
    assert ('value="resolve"' in listing.content.decode()) is has_resolve
