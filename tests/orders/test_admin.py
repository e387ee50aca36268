"""The admin acts through the services: products and movements become events; orders are read-only with history."""

import pytest

from backoffice.eventstore.models import Event
from orders import services
from orders.models import Product
from tests.factories import OrderFactory

from .conftest import level

pytestmark = pytest.mark.django_db


def test_an_administrator_adds_a_product_through_the_service(login, chain):
    client = login("admin")

    response = client.post(
        "/admin/orders/product/add/",
        {
            "sku": "GOR-LAN-GRI-U",
            "name": "Gorro de lana gris",
            "category": "accesorios",
            "price": "15.90",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    assert Product.objects.get(sku="GOR-LAN-GRI-U").name == "Gorro de lana gris"
    assert Event.objects.filter(type="product.created", stream="product-GOR-LAN-GRI-U").count() == 1


def test_store_staff_record_a_till_sale_at_their_store_from_the_admin(login, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 3)
    client = login("store")

    page = client.get("/admin/orders/stocklevel/movement/")
    response = client.post(
        "/admin/orders/stocklevel/movement/",
        {"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "sold", "quantity": "1", "to_location": ""},
    )

    assert page.status_code == 200
    assert "VLC-01 Valencia" not in page.content.decode()
    assert response.status_code == 302
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 2


def test_a_refused_movement_in_the_admin_shows_the_reason_and_changes_nothing(login, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    client = login("admin")
    before = Event.objects.count()

    response = client.post(
        "/admin/orders/stocklevel/movement/",
        {"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "sold", "quantity": "5", "to_location": ""},
    )

    assert response.status_code == 200
    assert "not enough stock" in response.content.decode()
    assert Event.objects.count() == before


def test_stock_levels_are_read_only_in_the_admin(login, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 3)
    client = login("support")

    page = client.get("/admin/orders/stocklevel/")

    assert page.status_code == 200
    assert "CAM-ALG-BLA-M" in page.content.decode()
    assert client.get("/admin/orders/stocklevel/movement/").status_code == 403


def test_an_order_page_shows_its_lines_and_history_and_marketing_cannot_see_it(
    login, chain, receive, customer_id, client
):
    receive("CAM-ALG-BLA-M", "MAD-01", 3)
    OrderFactory(order_id="W-77", customer=customer_id)
    services.order_act(order_id="W-77", action="pay", actor="test")

    page = login("support").get("/admin/orders/order/W-77/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "order.placed" in html
    assert "order.paid" in html
    assert 'name="_save"' not in html
    assert login("marketing").get("/admin/orders/order/").status_code == 403


def test_the_order_list_names_channels_and_delivery_in_the_page_language(login, chain, receive, customer_id):
    receive("CAM-ALG-BLA-M", "MAD-01", 3)
    OrderFactory(order_id="W-78", customer=customer_id, channel="whatsapp")

    html = login("support").get("/admin/orders/order/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    row = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert '<td class="field-channel_label">WhatsApp</td>' in row
    assert '<td class="field-fulfilment">Recogida en tienda</td>' in row
    assert f'title="{customer_id}">{str(customer_id)[:8]}…</a>' in row  # the whole id on hover
    assert ">pickup<" not in row
    assert ">whatsapp<" not in row
    filters = html.split('id="changelist-filter"', 1)[1]
    assert '<a href="?fulfilment_method=counter">Venta en caja</a>' in filters
    assert '<a href="?channel=whatsapp">WhatsApp</a>' in filters
    shown = login("support").get("/admin/orders/order/", {"fulfilment_method": "ship"}).context["cl"].result_list
    assert list(shown) == []  # the one order is a pickup
