"""Orders from every channel: placement with reservation, click-and-collect, shipping allocation, the lifecycle,
returns anywhere, and refusals that change nothing."""

import uuid
from decimal import Decimal

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from customers.services import customer_merge
from customers.services.ingestion import customer_register
from orders import services
from orders.errors import InvalidFields
from orders.models import Order

from .conftest import level

pytestmark = pytest.mark.django_db

SHIRT, JEANS, SHOES = "CAM-ALG-BLA-M", "PAN-VAQ-SLI-40", "ZAP-RUN-BLA-42"


@pytest.fixture
def client(api_client_for):
    return api_client_for("integration")


def _order(client, customer_id, *, lines, method="pickup", location="MAD-01", channel="web", **extra):
    fulfilment = {"method": method} | ({"location": location} if location else {})
    customer = customer_id if isinstance(customer_id, dict) else str(customer_id)  # identifiers, or our id
    body = {"customer": customer, "channel": channel, "lines": lines, "fulfilment": fulfilment, **extra}
    return client.post("/api/v1/orders", body, format="json")


def _ship(client, customer_id, lines, **extra):
    """Ordered for delivery: the chain chooses where each line leaves from."""
    return _order(client, customer_id, lines=lines, method="ship", location=None, **extra)


def _act(client, order_id, action, **body):
    return client.post(f"/api/v1/orders/{order_id}/{action}", body, format="json")


def test_the_till_sale_of_the_last_unit_makes_the_web_show_none_and_click_and_collect_is_refused(
    api_client_for, chain, receive, customer_id
):
    receive(SHIRT, "MAD-01", 1)
    receive(SHIRT, "VLC-01", 4)
    till, web = api_client_for("store"), api_client_for("integration")

    sale = till.post(
        "/api/v1/stock/movements", {"sku": SHIRT, "location": "MAD-01", "kind": "sold", "quantity": 1}, format="json"
    )
    shown = web.get("/api/v1/stock", {"sku": SHIRT, "location": "MAD-01"})
    events_before = Event.objects.count()
    refused = _order(web, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], location="MAD-01")

    assert sale.status_code == 201
    assert shown.json()["results"][0]["available"] == 0
    assert refused.status_code == 409
    body = refused.json()
    assert body["type"].endswith("/insufficient_stock")
    (line,) = body["lines"]
    assert line["sku"] == SHIRT
    assert line["available_here"] == 0
    assert [(e["location"], e["available"]) for e in line["available"]] == [("VLC-01", 4)]
    assert Event.objects.count() == events_before
    assert not Order.objects.exists()


def test_a_pickup_order_reserves_at_the_chosen_store(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 3)
    receive(JEANS, "MAD-01", 2)

    response = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 2}, {"sku": JEANS, "quantity": 1}])

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "placed"
    assert body["total"] == "89.70"
    assert body["locations"] == ["MAD-01"]
    detail = client.get(f"/api/v1/orders/{body['id']}").json()
    assert [e["type"] for e in detail.pop("history")] == ["order.placed"]
    assert detail == body  # the placement answers what it stored (built, not read back): the same to the letter
    assert level(SHIRT, "MAD-01") == {"on_hand": 3, "reserved": 2, "available": 1}


def test_a_counter_sale_is_paid_and_collected_at_once_and_takes_the_units_without_a_reservation(
    client, chain, receive, customer_id
):
    receive(SHIRT, "MAD-01", 3)

    response = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 2}], method="counter", channel="store")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["is_paid"], body["allowed_actions"]) == ("collected", True, ["return"])
    history = client.get(f"/api/v1/orders/{body['id']}").json()["history"]
    assert [e["type"] for e in history] == ["order.placed", "order.paid", "order.collected"]
    assert level(SHIRT, "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}


def test_a_counter_sale_needs_a_store_with_the_units(client, chain, receive, customer_id):
    receive(SHIRT, "WH-ZGZ", 5)
    before = Event.objects.count()

    at_warehouse = _order(
        client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], method="counter", location="WH-ZGZ"
    )
    nowhere = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], method="counter", location=None)
    short = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], method="counter", location="MAD-01")

    assert (at_warehouse.status_code, nowhere.status_code, short.status_code) == (400, 400, 409)
    assert at_warehouse.json()["errors"][0]["field"] == "fulfilment.location"
    assert nowhere.json()["errors"][0]["field"] == "fulfilment.location"
    assert short.json()["lines"][0]["available"][0]["location"] == "WH-ZGZ"
    assert Event.objects.count() == before


def test_the_customer_may_be_named_by_identifiers(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 3)
    body = {
        "customer": {"phone": "600 111 222"},
        "channel": "phone",
        "lines": [{"sku": SHIRT, "quantity": 1}],
        "fulfilment": {"method": "pickup", "location": "MAD-01"},
    }

    response = client.post("/api/v1/orders", body, format="json")

    assert response.status_code == 201
    assert response.json()["customer_id"] == str(customer_id)


def test_placing_the_same_order_id_twice_answers_the_same_order_and_reserves_once(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 5)
    lines = [{"sku": SHIRT, "quantity": 2}]

    first = _order(client, customer_id, lines=lines, id="W-1001")
    again = _order(client, customer_id, lines=lines, id="W-1001")
    other = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 3}], id="W-1001")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()  # answered as placed, then as read back
    assert first.json()["id"] == "W-1001"
    assert other.status_code == 409
    assert other.json()["type"].endswith("/idempotency_conflict")
    assert level(SHIRT, "MAD-01")["reserved"] == 2


def test_shipping_prefers_a_warehouse_that_holds_every_line(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 5)
    receive(JEANS, "MAD-01", 5)
    receive(SHIRT, "WH-ZGZ", 5)
    receive(JEANS, "WH-ZGZ", 5)

    response = _ship(client, customer_id, [{"sku": SHIRT, "quantity": 1}, {"sku": JEANS, "quantity": 1}])

    assert response.status_code == 201
    assert response.json()["locations"] == ["WH-ZGZ"]


def test_shipping_splits_across_locations_when_none_holds_every_line(client, chain, receive, customer_id):
    receive(SHIRT, "WH-ZGZ", 5)
    receive(JEANS, "VLC-01", 1)
    receive(SHOES, "MAD-01", 1)
    receive(SHOES, "VLC-01", 1)

    lines = [{"sku": SHIRT, "quantity": 1}, {"sku": JEANS, "quantity": 1}, {"sku": SHOES, "quantity": 2}]
    response = _ship(client, customer_id, lines)

    assert response.status_code == 201
    placed = sorted((line["sku"], line["location"], line["quantity"]) for line in response.json()["lines"])
    assert placed == sorted([(JEANS, "VLC-01", 1), (SHIRT, "WH-ZGZ", 1), (SHOES, "MAD-01", 1), (SHOES, "VLC-01", 1)])


def test_shipping_more_than_the_chain_holds_is_a_409_with_availability_per_location(
    client, chain, receive, customer_id
):
    receive(SHOES, "MAD-01", 1)
    receive(SHOES, "VLC-01", 1)

    response = _ship(client, customer_id, [{"sku": SHOES, "quantity": 3}])

    assert response.status_code == 409
    (line,) = response.json()["lines"]
    assert {e["location"]: e["available"] for e in line["available"]} == {"MAD-01": 1, "VLC-01": 1}
    assert level(SHOES, "MAD-01")["reserved"] == 0


def test_click_and_collect_from_placement_to_collection(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 3)
    web, store = api_client_for("integration"), api_client_for("store")
    order_id = _order(web, customer_id, lines=[{"sku": SHIRT, "quantity": 2}]).json()["id"]

    assert _act(web, order_id, "pay").status_code == 200
    assert _act(store, order_id, "ready").json()["status"] == "ready"
    collected = _act(store, order_id, "collect")

    assert collected.status_code == 200
    assert collected.json()["status"] == "collected"
    assert [e["type"] for e in collected.json()["history"]] == [
        "order.placed",
        "order.paid",
        "order.ready",
        "order.collected",
    ]
    assert level(SHIRT, "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}


def test_a_shipped_order_turns_its_reservation_into_a_sale(client, chain, receive, customer_id):
    receive(JEANS, "WH-ZGZ", 4)
    order_id = _ship(client, customer_id, [{"sku": JEANS, "quantity": 1}]).json()["id"]
    _act(client, order_id, "pay")

    shipped = _act(client, order_id, "ship")
    delivered = _act(client, order_id, "deliver")

    assert (shipped.status_code, delivered.json()["status"]) == (200, "delivered")
    assert level(JEANS, "WH-ZGZ") == {"on_hand": 3, "reserved": 0, "available": 3}


def test_cancelling_releases_the_reservation(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 1)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]
    assert level(SHIRT, "MAD-01")["available"] == 0

    response = _act(client, order_id, "cancel", reason="changed my mind")

    assert response.json()["status"] == "cancelled"
    assert level(SHIRT, "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}


def test_an_app_order_returned_at_a_store_restocks_that_store_and_records_the_refund(
    api_client_for, chain, receive, customer_id
):
    receive(SHOES, "WH-ZGZ", 2)
    app, valencia = api_client_for("integration"), api_client_for("store")
    valencia.user.staff_profile.location_code = "VLC-01"
    valencia.user.staff_profile.save()
    order_id = _ship(app, customer_id, [{"sku": SHOES, "quantity": 1}], channel="app").json()["id"]
    for action in ("pay", "ship", "deliver"):
        _act(app, order_id, action)

    response = _act(valencia, order_id, "return", location="VLC-01", lines=[{"sku": SHOES, "quantity": 1}])

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["refunded"], body["channel"]) == ("returned", "69.90", "app")
    returned = body["history"][-1]
    assert returned["type"] == "order.returned"
    assert returned["channel"] == "store"
    assert returned["data"]["refund_amount"] == "69.90"
    assert returned["data"]["location"] == "VLC-01"
    assert level(SHOES, "VLC-01")["on_hand"] == 1
    assert level(SHOES, "WH-ZGZ")["on_hand"] == 1
    event = Event.objects.get(type="order.returned")
    assert event.customer_id == customer_id
    projector.catch_up_all()  # the customer's order figures are an asynchronous projection
    seen_by_support = api_client_for("support").get(f"/api/v1/customers/{customer_id}").json()
    assert seen_by_support["order_count"] == 1
    assert seen_by_support["lifetime_value"] == "0.00"  # 69.90 paid, 69.90 refunded
    recent = [e["type"] for e in seen_by_support["recent_timeline"]]
    assert "order.placed" in recent
    assert "order.returned" in recent


def test_an_orders_stock_movements_stay_off_the_customers_record_and_its_events_stay_on_it(
    api_client_for, client, chain, receive, customer_id
):
    receive(SHOES, "WH-ZGZ", 2)
    receive(SHIRT, "MAD-01", 2)
    shipped = _ship(client, customer_id, [{"sku": SHOES, "quantity": 1}]).json()["id"]
    for action in ("pay", "ship", "deliver", "return"):
        _act(client, shipped, action, **({"location": "WH-ZGZ"} if action == "return" else {}))
    cancelled = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]
    _act(client, cancelled, "cancel")
    counter = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], method="counter", channel="store")
    assert counter.status_code == 201
    projector.catch_up_all()

    # Reserved, sold, released, returned: the shelf's story, told on the stock streams without the customer.
    movements = Event.objects.filter(type__startswith="stock.", data__order_id__isnull=False)
    assert set(movements.values_list("type", flat=True)) == {
        "stock.reserved",
        "stock.sold",
        "stock.released",
        "stock.returned",
    }
    assert not movements.exclude(customer_id=None).exists()
    orders_events = Event.objects.filter(type__startswith="order.")
    assert orders_events.count() == 10
    assert not orders_events.filter(customer_id=None).exists()
    # The customer's record: every order event and nothing of the stock (it read "Other activity" there, and counted
    # as the customer interacting).
    seen = api_client_for("support").get(f"/api/v1/customers/{customer_id}/timeline").json()
    types = [item["type"] for item in seen["results"]]
    assert not [t for t in types if t.startswith("stock.")]
    assert sum(t.startswith("order.") for t in types) == 10
    profile = api_client_for("support").get(f"/api/v1/customers/{customer_id}").json()
    assert profile["interaction_count"] == 1 + 10  # registered, then the orders' events


def test_a_partial_return_then_the_rest(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 3)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 3}]).json()["id"]
    for action in ("pay", "ready", "collect"):
        _act(client, order_id, action)

    first = _act(client, order_id, "return", location="MAD-01", lines=[{"sku": SHIRT, "quantity": 1}])
    too_many = _act(client, order_id, "return", location="MAD-01", lines=[{"sku": SHIRT, "quantity": 3}])
    rest = _act(client, order_id, "return", location="WH-ZGZ")

    assert (first.json()["status"], first.json()["refunded"]) == ("partially_returned", "19.90")
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "lines.0.quantity"
    assert (rest.json()["status"], rest.json()["refunded"]) == ("returned", "59.70")
    assert level(SHIRT, "WH-ZGZ")["on_hand"] == 2


def test_a_return_without_restock_refunds_and_leaves_the_stock_alone(chain, receive, customer_id):
    receive(SHIRT, "WH-ZGZ", 2)
    order, _ = services.order_place(
        customer=str(customer_id), channel="web", lines=[{"sku": SHIRT, "quantity": 2}],
        fulfilment={"method": "ship"}, actor="t",
    )  # fmt: skip
    for action in ("pay", "ship", "deliver"):
        services.order_act(order_id=order.id, action=action, actor="t")

    kept = services.order_act(
        order_id=order.id, action="return", location="MAD-01", lines=[{"sku": SHIRT, "quantity": 1}],
        restock=False, actor="t",
    )  # fmt: skip

    assert (kept.status, str(kept.refunded)) == ("partially_returned", "19.90")
    assert Event.objects.get(type="order.returned").data["restocked"] is False
    assert not Event.objects.filter(type="stock.returned").exists()
    assert level(SHIRT, "MAD-01")["on_hand"] == 0
    assert level(SHIRT, "WH-ZGZ")["on_hand"] == 0


def _delivered(client, customer_id, quantity):
    order_id = _ship(client, customer_id, [{"sku": SHIRT, "quantity": quantity}]).json()["id"]
    for action in ("pay", "ship", "deliver"):
        _act(client, order_id, action)
    return order_id


def test_a_return_resent_with_its_id_after_a_timeout_is_refunded_and_restocked_once(
    client, chain, receive, customer_id
):
    receive(SHIRT, "WH-ZGZ", 3)
    order_id = _delivered(client, customer_id, 3)
    body = {
        "id": "7d444840-9dc0-11d1-b245-5ffdce74fad2",
        "location": "MAD-01",
        "lines": [{"sku": SHIRT, "quantity": 1}],
    }

    first = _act(client, order_id, "return", **body)
    before = Event.objects.count()
    resent = _act(client, order_id, "return", **body)

    assert (first.status_code, resent.status_code) == (200, 200)
    assert resent.json() == first.json()
    assert (resent.json()["status"], resent.json()["refunded"]) == ("partially_returned", "19.90")
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01")["on_hand"] == 1


def test_each_step_resent_with_its_id_is_applied_once(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 1)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]
    for action in ("pay", "ready", "collect"):
        step = {"id": str(uuid.uuid4())}
        first = _act(client, order_id, action, **step)
        before = Event.objects.count()

        resent = _act(client, order_id, action, **step)

        assert (first.status_code, resent.status_code) == (200, 200), resent.json()
        assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01") == {"on_hand": 0, "reserved": 0, "available": 0}


def test_a_second_return_without_an_id_or_with_a_new_one_is_another_return(client, chain, receive, customer_id):
    receive(SHIRT, "WH-ZGZ", 3)
    order_id = _delivered(client, customer_id, 3)
    one = {"location": "MAD-01", "lines": [{"sku": SHIRT, "quantity": 1}]}

    _act(client, order_id, "return", **one)
    _act(client, order_id, "return", **one)
    third = _act(client, order_id, "return", id=str(uuid.uuid4()), **one)

    assert (third.json()["status"], third.json()["refunded"]) == ("returned", "59.70")
    assert level(SHIRT, "MAD-01")["on_hand"] == 3


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("cancel", {}),
        ("return", {"location": "VLC-01", "lines": [{"sku": SHIRT, "quantity": 1}]}),
        ("return", {"location": "MAD-01", "lines": [{"sku": SHIRT, "quantity": 2}]}),
    ],
)
def test_a_step_id_used_again_for_another_step_is_a_409_and_changes_nothing(
    client, chain, receive, customer_id, action, body
):
    receive(SHIRT, "WH-ZGZ", 3)
    order_id = _delivered(client, customer_id, 3)
    step_id = str(uuid.uuid4())
    _act(client, order_id, "return", id=step_id, location="MAD-01", lines=[{"sku": SHIRT, "quantity": 1}])
    before = Event.objects.count()

    response = _act(client, order_id, action, id=step_id, **body)

    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency_conflict")
    assert [e["field"] for e in response.json()["errors"]] == ["id"]
    assert Event.objects.count() == before


def test_a_step_id_that_is_not_a_uuid_is_a_400_naming_it(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 1)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]

    response = _act(client, order_id, "pay", id="retry-1")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["id"]
    assert Order.objects.get(id=order_id).status == "placed"


def test_a_step_out_of_order_is_a_409_with_the_current_status_and_changes_nothing(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 2)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]
    before = Event.objects.count()

    collect = _act(client, order_id, "collect")
    ship = _act(client, order_id, "ship")

    assert collect.status_code == 409
    body = collect.json()
    assert body["type"].endswith("/illegal_transition")
    assert body["current_status"] == "placed"
    assert body["allowed_actions"] == ["pay", "cancel"]
    assert ship.status_code == 409
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01") == {"on_hand": 2, "reserved": 1, "available": 1}


def test_an_unknown_action_is_a_400_naming_it(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 2)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]

    response = _act(client, order_id, "teleport")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "action"


def test_an_unknown_order_is_a_404(client, chain):
    assert client.get("/api/v1/orders/NOPE-1").status_code == 404
    assert _act(client, "NOPE-1", "pay").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": [{"sku": "NO-SUCH", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": SHIRT, "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"sku": SHIRT, "quantity": -1}]}, "lines.0.quantity"),
        # Each line within the API's limit, together past what one order holds of a sku.
        ({"lines": [{"sku": SHIRT, "quantity": 6000}, {"sku": SHIRT, "quantity": 6000}]}, "lines.1.quantity"),
        ({"lines": []}, "lines"),
        ({"fulfilment": {"method": "pickup", "location": "XXX-99"}}, "fulfilment.location"),
        ({"fulfilment": {"method": "pickup", "location": "WH-ZGZ"}}, "fulfilment.location"),
        ({"fulfilment": {"method": "pickup"}}, "fulfilment.location"),
        ({"fulfilment": {"method": "drone"}}, "fulfilment.method"),
        ({"channel": "pigeon"}, "channel"),
        ({"customer": "not-a-uuid"}, "customer"),
        ({"customer": "00000000-0000-0000-0000-000000000001"}, "customer"),
        ({"customer": {"email": "not an email"}}, "customer.email"),
        ({"id": "has spaces"}, "id"),
    ],
)
def test_bad_orders_are_a_400_naming_the_field_and_change_nothing(client, chain, receive, customer_id, change, field):
    receive(SHIRT, "MAD-01", 5)
    body = {
        "customer": str(customer_id),
        "channel": "web",
        "lines": [{"sku": SHIRT, "quantity": 1}],
        "fulfilment": {"method": "pickup", "location": "MAD-01"},
    } | change
    before = Event.objects.count()

    response = client.post("/api/v1/orders", body, format="json")

    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01") == {"on_hand": 5, "reserved": 0, "available": 5}


def test_an_order_total_past_what_money_holds_is_a_400_naming_the_lines_and_changes_nothing(
    client, chain, receive, customer_id
):
    services.product_save(sku="JOYA-UNICA", name="Joya", category="joyas", price=Decimal("9999999999.99"), actor="t")
    receive("JOYA-UNICA", "MAD-01", 2)
    before = Event.objects.count()

    response = _order(client, customer_id, lines=[{"sku": "JOYA-UNICA", "quantity": 2}])

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["lines"]
    assert Event.objects.count() == before


def test_an_order_placed_under_a_merged_customer_id_belongs_to_the_customer_it_was_merged_into(
    client, chain, receive, customer_id
):
    receive(SHIRT, "MAD-01", 1)
    duplicate, _ = customer_register(customer={"email": "ana.bis@example.es"}, channel="web", actor="test")
    customer_merge(customer_ids=(customer_id, duplicate), into=customer_id, actor="test")

    response = _order(client, duplicate, lines=[{"sku": SHIRT, "quantity": 1}])

    assert response.status_code == 201
    assert response.json()["customer_id"] == str(customer_id)
    assert Order.objects.get(id=response.json()["id"]).customer_id == customer_id


@pytest.mark.parametrize("named_by", ["identifiers", "id"])
def test_an_order_resent_after_its_customer_was_merged_answers_the_order_not_a_conflict(
    client, chain, receive, customer_id, named_by
):
    receive(SHIRT, "MAD-01", 2)
    duplicate, _ = customer_register(customer={"email": "ana.bis@example.es"}, channel="web", actor="test")
    customer = {"email": "ana.bis@example.es"} if named_by == "identifiers" else str(duplicate)
    first = _order(client, customer, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-1001")
    customer_merge(customer_ids=(customer_id, duplicate), into=customer_id, actor="test")
    before = Event.objects.count()

    again = _order(client, customer, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-1001")

    assert first.status_code == 201
    assert again.status_code == 200, again.json()
    assert again.json()["id"] == "WEB-1001"
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01")["reserved"] == 1


@pytest.mark.parametrize("named_by", ["identifiers", "id"])
def test_an_order_resent_with_its_id_answers_the_order_after_the_product_went_off_sale(
    client, chain, receive, customer_id, named_by
):
    receive(SHIRT, "MAD-01", 5)
    customer = {"phone": "600 111 222"} if named_by == "identifiers" else customer_id
    first = _order(client, customer, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-000123")
    assert first.status_code == 201
    # The catalog takes the product off sale (its last units are now reserved, e.g.).
    services.product_save(sku=SHIRT, name="Camiseta", price=Decimal("19.90"), is_active=False, actor="test")
    before = Event.objects.count()

    resent = _order(client, customer, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-000123")  # a retry

    # "same id and content 200": the order exists, the resend must say so, not refuse it.
    assert resent.status_code == 200, resent.json()
    assert resent.json()["id"] == "WEB-000123"
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01")["reserved"] == 1


def test_an_order_id_resent_with_other_content_is_still_a_conflict_once_the_product_is_off_sale(
    client, chain, receive, customer_id
):
    receive(SHIRT, "MAD-01", 5)
    _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-000124")
    services.product_save(sku=SHIRT, name="Camiseta", price=Decimal("19.90"), is_active=False, actor="test")
    receive(JEANS, "MAD-01", 5)
    before = Event.objects.count()

    other = _order(client, customer_id, lines=[{"sku": JEANS, "quantity": 1}], id="WEB-000124")
    by_someone_new = _order(
        client, {"email": "nadie@example.es"}, lines=[{"sku": SHIRT, "quantity": 1}], id="WEB-000124"
    )

    assert other.status_code == 409, other.json()
    assert other.json()["type"].endswith("/idempotency_conflict")
    # The new customer's identifiers were resolved to compare the resend; nothing of that is kept.
    assert by_someone_new.status_code == 400, by_someone_new.json()
    assert Event.objects.count() == before


def test_an_order_names_each_line_off_sale_or_unknown_and_a_location_unknown_or_not_a_store(
    client, chain, receive, customer_id
):
    receive(SHIRT, "MAD-01", 5)
    services.product_save(sku=JEANS, name="Vaquero slim azul 40", price=Decimal("49.90"), is_active=False, actor="test")
    lines = [{"sku": SHIRT, "quantity": 1}, {"sku": JEANS, "quantity": 1}, {"sku": "NO-SUCH", "quantity": 1}]
    before = Event.objects.count()

    unknown_store = _order(client, customer_id, lines=lines, location="XXX-99")
    warehouse = _order(client, customer_id, lines=lines[:1], location="WH-ZGZ")

    assert (unknown_store.status_code, warehouse.status_code) == (400, 400)
    assert [(e["field"], e["code"]) for e in unknown_store.json()["errors"]] == [
        ("lines.1.sku", "inactive_sku"),
        ("lines.2.sku", "unknown_sku"),
        ("fulfilment.location", "unknown_location"),
    ]
    assert [(e["field"], e["code"]) for e in warehouse.json()["errors"]] == [("fulfilment.location", "not_a_store")]
    assert Event.objects.count() == before


def test_store_staff_collect_only_orders_for_their_store(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "VLC-01", 2)
    web, madrid = api_client_for("integration"), api_client_for("store")
    order_id = _order(web, customer_id, lines=[{"sku": SHIRT, "quantity": 1}], location="VLC-01").json()["id"]
    _act(web, order_id, "pay")

    response = _act(madrid, order_id, "ready")

    assert response.status_code == 403
    assert response.json()["type"].endswith("/not_your_location")


def test_marketing_does_not_see_orders(api_client_for, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 2)
    order_id = _order(api_client_for("integration"), customer_id, lines=[{"sku": SHIRT, "quantity": 1}]).json()["id"]

    assert api_client_for("marketing").get(f"/api/v1/orders/{order_id}").status_code == 403


def test_collecting_what_a_count_found_missing_is_a_409_and_changes_nothing(client, chain, receive, customer_id):
    receive(SHIRT, "MAD-01", 2)
    receive(SHIRT, "VLC-01", 3)
    order_id = _order(client, customer_id, lines=[{"sku": SHIRT, "quantity": 2}]).json()["id"]
    _act(client, order_id, "pay")
    _act(client, order_id, "ready")
    client.post(
        "/api/v1/stock/movements", {"sku": SHIRT, "location": "MAD-01", "kind": "counted", "quantity": 1}, format="json"
    )
    before = Event.objects.count()

    response = _act(client, order_id, "collect")

    assert response.status_code == 409
    assert response.json()["type"].endswith("/insufficient_stock")
    assert response.json()["lines"][0]["available"][0]["location"] == "VLC-01"
    assert Event.objects.count() == before
    assert level(SHIRT, "MAD-01") == {"on_hand": 1, "reserved": 2, "available": 0}


def _each_split_over_two_stores(receive, count: int) -> list[str]:
    """`count` products with one unit in each store: an order of two of each is served, every line split in two."""
    skus = [f"SPLIT-{n:03d}" for n in range(count)]
    for sku in skus:
        services.product_save(sku=sku, name=sku, category="split", price=Decimal("1.00"), actor="test")
        receive(sku, "MAD-01", 1)
        receive(sku, "VLC-01", 1)
    return skus


def test_an_order_whose_allocation_splits_past_200_lines_is_placed(chain, receive, customer_id):
    skus = _each_split_over_two_stores(receive, 101)

    order, created = services.order_place(
        customer=customer_id,
        channel="web",
        lines=[{"sku": sku, "quantity": 2} for sku in skus],
        fulfilment={"method": "ship"},
        actor="test",
    )

    assert created
    assert order.lines.count() == 202
    assert order.total == Decimal("202.00")
    assert level(skus[0], "MAD-01") == level(skus[-1], "VLC-01") == {"on_hand": 1, "reserved": 1, "available": 0}


def test_an_api_order_whose_allocation_splits_past_200_lines_is_a_201_and_returns_whole(
    client, chain, receive, customer_id
):
    skus = _each_split_over_two_stores(receive, 101)

    response = _ship(client, customer_id, [{"sku": sku, "quantity": 2} for sku in skus])

    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    assert len(response.json()["lines"]) == 202
    assert _act(client, order_id, "pay").status_code == 200
    assert _act(client, order_id, "ship").status_code == 200
    returned = _act(client, order_id, "return", location="MAD-01")
    assert returned.status_code == 200, returned.json()
    assert returned.json()["status"] == "returned"
    assert level(skus[0], "MAD-01") == {"on_hand": 2, "reserved": 0, "available": 2}


def test_an_order_too_large_to_record_is_a_400_naming_its_lines_and_changes_nothing(
    client, chain, receive, customer_id, settings
):
    skus = _each_split_over_two_stores(receive, 30)
    settings.EVENTSTORE_MAX_EVENT_BYTES = 2000  # 60 lines after allocation do not fit
    before = Event.objects.count()

    response = _ship(client, customer_id, [{"sku": sku, "quantity": 2} for sku in skus])

    assert response.status_code == 400, response.json()
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("lines", "too_many_lines")]
    assert "60" in response.json()["errors"][0]["message"]
    assert Event.objects.count() == before
    assert level(skus[0], "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}


def test_an_order_of_more_products_than_one_order_holds_is_refused_on_its_lines(chain, receive, customer_id):
    skus = [f"MANY-{n:03d}" for n in range(201)]
    for sku in skus:
        services.product_save(sku=sku, name=sku, category="many", price=Decimal("1.00"), actor="test")
        receive(sku, "WH-ZGZ", 1)
    before = Event.objects.count()

    with pytest.raises(InvalidFields) as refused:
        services.order_place(
            customer=customer_id,
            channel="web",
            lines=[{"sku": sku, "quantity": 1} for sku in skus],
            fulfilment={"method": "ship"},
            actor="test",
        )

    assert [(e.field, e.code) for e in refused.value.errors] == [("lines", "max_length")]
    assert Event.objects.count() == before
