"""Store staff in a real browser: a click-and-collect order prepared and handed over, and a web order returned at
the counter (restocked at this store, the refund shown)."""

import pytest

from customers.services.ingestion import customer_register
from orders import selectors as order_selectors
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def on_hand(sku: str, location: str) -> int:
    (row,) = order_selectors.stock_levels(sku=sku, location=location)
    return row["on_hand"]


def ana():
    customer_id, _ = customer_register(
        customer={"email": "ana@example.es", "phone": "+34600111222", "name": "Ana Pérez"}, channel="app", actor="test"
    )
    return customer_id


def test_store_staff_prepare_an_app_pickup_order_and_hand_it_over(shop, staff_page, screenshot):
    shop(
        ana(),
        order_id="APP-1001",
        channel="app",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}, {"sku": "PAN-VAQ-SLI-40", "quantity": 1}],
        fulfilment={"method": "pickup", "location": "MAD-01"},
    )

    page = staff_page("store", location_code="MAD-01")
    page.get_by_role("link", name="Click & collect").click()
    page.wait_for_url("**/staff/pickups/")
    card = page.locator("#to-prepare").get_by_test_id("order-APP-1001")
    assert card.get_by_text("Ana Pérez").is_visible()
    assert card.get_by_text("Vaquero slim azul 40").is_visible()
    screenshot(page, "to-prepare")

    with page.expect_navigation(url="**/staff/pickups/"):  # from the same URL: waiting for it would not wait
        card.get_by_role("button", name="Marcar preparado").click()
    assert page.get_by_text("El pedido APP-1001 está listo para recoger.").is_visible()
    ready = page.locator("#ready").get_by_test_id("order-APP-1001")
    assert ready.is_visible()
    screenshot(page, "ready")
    assert Order.objects.get(id="APP-1001").status == "ready"

    with page.expect_navigation(url="**/staff/pickups/"):  # from the same URL: waiting for it would not wait
        ready.get_by_role("button", name="Marcar recogido").click()
    assert page.get_by_text("Pedido APP-1001 recogido.").is_visible()
    assert page.get_by_test_id("order-APP-1001").count() == 0
    screenshot(page, "collected")
    assert Order.objects.get(id="APP-1001").status == "collected"
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 2

    page.goto("/staff/orders/APP-1001/")
    assert page.get_by_test_id("order-status").inner_text() == "recogido"
    screenshot(page, "order-page")


def test_a_web_order_is_returned_at_the_counter_restocking_this_store_with_the_refund_shown(
    shop, staff_page, screenshot
):
    shop(
        ana(),
        order_id="WEB-2002",
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}],
        fulfilment={"method": "ship"},
        steps=("pay", "ship", "deliver"),
    )
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 3

    page = staff_page("store", location_code="MAD-01")
    page.get_by_role("link", name="Pedidos y devoluciones").click()
    page.fill("input[name=q]", "600 11 12 22")
    page.get_by_role("button", name="Buscar").click()
    screenshot(page, "orders-of-the-customer")
    page.get_by_role("link", name="WEB-2002").click()
    page.wait_for_url("**/staff/orders/WEB-2002/")
    assert page.get_by_test_id("order-status").inner_text() == "entregado"
    screenshot(page, "order")

    page.fill('input[name="qty_CAM-ALG-BLA-M"]', "1")
    page.fill("input[name=reason]", "Talla pequeña")
    with page.expect_navigation():
        page.get_by_role("button", name="Devolver y reembolsar").click()
    assert page.get_by_text("Devuelto en MAD-01. Reembolso: 19,90 €.").is_visible()
    assert page.get_by_test_id("order-refunded").inner_text() == "19,90 €"
    screenshot(page, "returned")
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 4

    page.get_by_role("link", name="Stock").click()
    page.fill("input[name=q]", "CAM-ALG-BLA-M")
    with page.expect_navigation():
        page.get_by_role("button", name="Buscar").click()
    own = page.locator("tr.is-own")
    assert own.get_by_text("Madrid Gran Vía").is_visible()
    assert own.locator("td.num").first.inner_text() == "4"
    screenshot(page, "stock-after-return")


def test_a_till_sale_short_of_stock_names_other_stores_and_a_sale_in_stock_goes_through(shop, staff_page, screenshot):
    page = staff_page("store", location_code="MAD-01")
    page.get_by_role("link", name="Caja").click()
    page.fill("input[name=sku]", "CAM-ALG-BLA-M")
    page.fill("input[name=quantity]", "4")
    with page.expect_navigation():  # the refusal comes back as a page of its own
        page.get_by_role("button", name="Registrar venta").click()
    assert page.get_by_text("Solo 3 de CAM-ALG-BLA-M disponibles aquí.").is_visible()
    assert page.get_by_text("Valencia Colón (5)").is_visible()
    screenshot(page, "refused")
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 3

    page.fill("input[name=quantity]", "1")
    with page.expect_navigation():
        page.get_by_role("button", name="Registrar venta").click()
    assert page.get_by_text("Vendido 1 × CAM-ALG-BLA-M. Quedan 2 disponibles aquí.").is_visible()
    screenshot(page, "sold")
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 2

    # To a customer who gives a phone number: an order on their record.
    page.fill("input[name=sku]", "CAM-ALG-BLA-M")
    page.fill("input[name=quantity]", "1")
    page.fill("input[name=customer]", "611 222 333")
    with page.expect_navigation():
        page.get_by_role("button", name="Registrar venta").click()
    (order,) = Order.objects.filter(fulfilment_method="counter")
    assert page.get_by_text(f"(pedido {order.id}). Quedan 1 disponibles aquí.", exact=False).is_visible()
    screenshot(page, "sold-to-a-customer")
    assert on_hand("CAM-ALG-BLA-M", "MAD-01") == 1
