"""Store staff act on their own store on every path: placing, every lifecycle step, and stock movements. A refusal
is a 403 naming the field, and changes nothing."""

import pytest

from backoffice.eventstore.models import Event
from orders.models import Order

from .conftest import level

pytestmark = pytest.mark.django_db

SHIRT = "CAM-ALG-BLA-M"


def _place(client, customer_id, *, method, location=None, quantity=1, **extra):
    fulfilment = {"method": method} | ({"location": location} if location else {})
    body = {"customer": str(customer_id), "channel": "store", "lines": [{"sku": SHIRT, "quantity": quantity}]}
    return client.post("/api/v1/orders", body | {"fulfilment": fulfilment} | extra, format="json")


@pytest.mark.parametrize("method", ["counter", "pickup"])
def test_store_staff_cannot_sell_or_reserve_another_stores_stock(api_client_for, chain, receive, customer_id, method):
    receive(SHIRT, "VLC-01", 3)
    madrid = api_client_for("store")  # bound to MAD-01
    before = Event.objects.count()

    response = _place(madrid, customer_id, method=method, location="VLC-01")

    assert response.status_code == 403, response.json()
    assert response.json()["type"].endswith("/not_your_location")
    assert response.json()["errors"][0]["field"] == "fulfilment.location"
    assert Event.objects.count() == before
    assert not Order.objects.exists()
    assert level(SHIRT, "VLC-01") == {"on_hand": 3, "reserved": 0, "available": 3}


@pytest.mark.parametrize("method", ["counter", "pickup"])
def test_store_staff_sell_and_reserve_at_their_own_store(api_client_for, chain, receive, customer_id, method):
    receive(SHIRT, "MAD-01", 3)

    response = _place(api_client_for("store"), customer_id, method=method, location="MAD-01")

    assert response.status_code == 201, response.json()
    assert level(SHIRT, "MAD-01")["available"] == 2


def test_a_shipped_order_from_the_counter_takes_stock_from_this_store_or_a_warehouse_never_another_store(
    api_client_for, chain, receive, customer_id
):
    receive(SHIRT, "VLC-01", 5)
    madrid = api_client_for("store")

    only_elsewhere = _place(madrid, customer_id, method="ship")
    receive(SHIRT, "WH-ZGZ", 2)
    from_warehouse = _place(madrid, customer_id, method="ship")

    assert only_elsewhere.status_code == 409
    assert from_warehouse.status_code == 201, from_warehouse.json()
    assert {line["location"] for line in from_warehouse.json()["lines"]} == {"WH-ZGZ"}
    assert level(SHIRT, "VLC-01")["available"] == 5


def test_store_staff_may_place_an_order_shipped_from_a_warehouse_they_name(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "WH-ZGZ", 5)
    till = api_client_for("store")  # bound to MAD-01

    placed = _place(till, customer_id, method="ship", location="WH-ZGZ")

    # docs/api.md, POST /api/v1/orders: store "ship from its store or a warehouse".
    assert placed.status_code == 201, placed.json()
    assert {line["location"] for line in placed.json()["lines"]} == {"WH-ZGZ"}
    assert level(SHIRT, "WH-ZGZ")["reserved"] == 1


def test_store_staff_cannot_ship_from_another_store_they_name(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "VLC-01", 5)
    before = Event.objects.count()

    placed = _place(api_client_for("store"), customer_id, method="ship", location="VLC-01")

    assert placed.status_code == 403, placed.json()
    assert placed.json()["type"].endswith("/not_your_location")
    assert placed.json()["errors"][0]["field"] == "fulfilment.location"
    assert Event.objects.count() == before


def test_another_stores_order_resent_by_store_staff_is_still_refused(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "VLC-01", 5)
    _place(api_client_for("integration"), customer_id, method="pickup", location="VLC-01", id="WEB-7")

    resent = _place(api_client_for("store"), customer_id, method="pickup", location="VLC-01", id="WEB-7")

    assert resent.status_code == 403, resent.json()
    assert resent.json()["type"].endswith("/not_your_location")


@pytest.mark.parametrize("action", ["cancel", "pay", "ready", "ship"])
def test_store_staff_cannot_step_another_stores_order(api_client_for, chain, receive, customer_id, action):
    receive(SHIRT, "VLC-01", 2)
    web, madrid = api_client_for("integration"), api_client_for("store")
    method = "ship" if action == "ship" else "pickup"
    order = _place(web, customer_id, method=method, location="VLC-01").json()
    if action == "ship":
        web.post(f"/api/v1/orders/{order['id']}/pay", {}, format="json")
    before = Event.objects.count()

    response = madrid.post(f"/api/v1/orders/{order['id']}/{action}", {}, format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["errors"][0]["field"] == "order"
    assert Event.objects.count() == before
    assert level(SHIRT, "VLC-01") == {"on_hand": 2, "reserved": 1, "available": 1}


def test_store_staff_cancel_their_own_stores_order(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 2)
    web, madrid = api_client_for("integration"), api_client_for("store")
    order = _place(web, customer_id, method="pickup", location="MAD-01").json()

    response = madrid.post(f"/api/v1/orders/{order['id']}/cancel", {"reason": "changed mind"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert level(SHIRT, "MAD-01") == {"on_hand": 2, "reserved": 0, "available": 2}


def test_any_store_takes_a_return_into_its_own_stock(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "VLC-01", 2)
    web, madrid = api_client_for("integration"), api_client_for("store")
    order = _place(web, customer_id, method="pickup", location="VLC-01").json()
    for step in ("pay", "ready", "collect"):
        web.post(f"/api/v1/orders/{order['id']}/{step}", {}, format="json")

    response = madrid.post(f"/api/v1/orders/{order['id']}/return", {"location": "MAD-01"}, format="json")

    assert response.status_code == 200, response.json()
    assert level(SHIRT, "MAD-01")["on_hand"] == 1
