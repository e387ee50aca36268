"""The stock ledger through the API: movements, live levels, and refusals that change nothing."""

import pytest

from backoffice.eventstore.models import Event
from orders.models import StockLevel

from .conftest import level

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_client_for):
    return api_client_for("integration")


def _move(client, **body):
    return client.post("/api/v1/stock/movements", body, format="json")


def test_received_goods_are_on_hand_and_available_at_once(client, chain):
    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="received", quantity=12)

    assert response.status_code == 201
    (row,) = response.json()["levels"]
    assert (row["on_hand"], row["reserved"], row["available"], row["live"]) == (12, 0, 12, True)


def test_a_count_sets_on_hand_and_records_the_shrinkage(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 10)

    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="counted", quantity=7)

    assert response.status_code == 201
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 7
    counted = Event.objects.get(type="stock.counted")
    assert (counted.data["expected"], counted.data["counted"], counted.data["shrinkage"]) == (10, 7, 3)


def test_a_till_sale_leaves_on_hand_at_once(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 2)

    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1)

    assert response.status_code == 201
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}


def test_a_transfer_moves_units_between_locations(client, chain, receive):
    receive("PAN-VAQ-SLI-40", "WH-ZGZ", 20)

    response = _move(client, sku="PAN-VAQ-SLI-40", location="WH-ZGZ", kind="transfer", quantity=5, to_location="VLC-01")

    assert response.status_code == 201
    assert level("PAN-VAQ-SLI-40", "WH-ZGZ")["on_hand"] == 15
    assert level("PAN-VAQ-SLI-40", "VLC-01")["on_hand"] == 5


def test_selling_more_than_is_available_is_refused_and_on_hand_never_goes_negative(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    receive("CAM-ALG-BLA-M", "VLC-01", 3)
    before = Event.objects.count()

    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=2)

    assert response.status_code == 409
    body = response.json()
    assert body["type"].endswith("/insufficient_stock")
    assert body["lines"][0]["available"][0]["location"] == "VLC-01"
    assert Event.objects.count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NO-SUCH", "location": "MAD-01", "kind": "received", "quantity": 1}, "sku"),
        ({"sku": "CAM-ALG-BLA-M", "location": "XXX-99", "kind": "received", "quantity": 1}, "location"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "received", "quantity": 0}, "quantity"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "sold", "quantity": -2}, "quantity"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "counted", "quantity": -1}, "quantity"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "stolen", "quantity": 1}, "kind"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "received", "quantity": 2_000_000}, "quantity"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "counted", "quantity": 1_000_001}, "quantity"),
        ({"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "transfer", "quantity": 1}, "to_location"),
        (
            {"sku": "CAM-ALG-BLA-M", "location": "MAD-01", "kind": "transfer", "quantity": 1, "to_location": "NOPE"},
            "to_location",
        ),
    ],
)
def test_bad_movements_are_a_400_naming_the_field_and_change_nothing(client, chain, receive, body, field):
    receive("CAM-ALG-BLA-M", "MAD-01", 5)
    before = Event.objects.count()

    response = _move(client, **body)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert Event.objects.count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 5, "reserved": 0, "available": 5}


def test_store_staff_move_stock_at_their_own_location_only(api_client_for, chain, receive):
    receive("CAM-ALG-BLA-M", "VLC-01", 5)
    madrid = api_client_for("store")  # bound to MAD-01

    elsewhere = _move(madrid, sku="CAM-ALG-BLA-M", location="VLC-01", kind="sold", quantity=1)
    at_home = _move(madrid, sku="CAM-ALG-BLA-M", location="MAD-01", kind="received", quantity=1)

    assert elsewhere.status_code == 403
    assert elsewhere.json()["errors"][0]["field"] == "location"
    assert at_home.status_code == 201
    assert level("CAM-ALG-BLA-M", "VLC-01")["on_hand"] == 5


def test_a_movement_sent_twice_with_its_id_is_applied_once(client, chain):
    body = {
        "id": "6f1c1d8e-2b1a-4c1e-9a7e-0d6b5f8c2a11",
        "sku": "CAM-ALG-BLA-M",
        "location": "MAD-01",
        "kind": "received",
        "quantity": 4,
    }

    assert _move(client, **body).status_code == 201
    assert _move(client, **body).status_code == 200  # the stored result, as for an order sent twice

    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 4


def test_availability_of_a_sku_lists_every_location(client, chain, receive):
    receive("ZAP-RUN-BLA-42", "VLC-01", 3)

    response = client.get("/api/v1/stock", {"sku": "ZAP-RUN-BLA-42"})

    assert response.status_code == 200
    rows = {row["location"]: row["available"] for row in response.json()["results"]}
    assert rows == {"MAD-01": 0, "VLC-01": 3, "WH-ZGZ": 0}


@pytest.mark.parametrize(
    ("params", "field"), [({"sku": "NOPE"}, "sku"), ({"location": "NOPE"}, "location"), ({}, "sku")]
)
def test_a_stock_query_naming_nothing_known_is_a_400(client, chain, params, field):
    response = client.get("/api/v1/stock", params)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_stock_rows_are_not_written_by_a_refused_movement(client, chain):
    _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1)

    assert not StockLevel.objects.exists()


def test_the_stock_of_a_location_lists_every_sku_held_there(client, chain, receive):
    receive("ZAP-RUN-BLA-42", "VLC-01", 3)
    receive("CAM-ALG-BLA-M", "VLC-01", 1)
    receive("CAM-ALG-BLA-M", "MAD-01", 9)

    response = client.get("/api/v1/stock", {"location": "VLC-01"})

    assert response.status_code == 200
    assert [(r["sku"], r["on_hand"]) for r in response.json()["results"]] == [
        ("CAM-ALG-BLA-M", 1),
        ("ZAP-RUN-BLA-42", 3),
    ]
    assert response.json()["next"] is None


def test_marketing_reads_stock_but_cannot_move_it(api_client_for, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    marketing = api_client_for("marketing")

    assert marketing.get("/api/v1/stock", {"sku": "CAM-ALG-BLA-M"}).status_code == 200
    moved = _move(marketing, sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1)
    assert moved.status_code == 403


def test_a_movement_id_already_used_by_another_event_is_a_409_not_a_500(client, chain, customer_id):
    from backoffice.eventstore.models import Event

    taken = Event.objects.filter(customer_id=customer_id).values_list("id", flat=True).first()
    before = Event.objects.count()

    response = _move(client, id=str(taken), sku="CAM-ALG-BLA-M", location="VLC-01", kind="received", quantity=2)

    assert response.status_code == 409, response.json()
    assert response.json()["type"].endswith("/idempotency_conflict")
    assert response.json()["errors"][0]["field"] == "id"
    assert Event.objects.count() == before


def test_a_movement_id_resent_with_other_content_is_a_409_and_changes_nothing(client, chain):
    body = {"id": "0e6f3a52-8d1b-4f0e-b7a5-2f4f0f6a9c31", "sku": "CAM-ALG-BLA-M", "location": "MAD-01"}
    first = _move(client, **body, kind="received", quantity=4)

    other_quantity = _move(client, **body, kind="received", quantity=9)
    other_kind = _move(client, **body, kind="counted", quantity=4)
    other_place = _move(client, **(body | {"location": "VLC-01"}), kind="received", quantity=4)
    same = _move(client, **body, kind="received", quantity=4)

    assert first.status_code == 201
    assert [r.status_code for r in (other_quantity, other_kind, other_place)] == [409, 409, 409]
    assert same.status_code == 200
    assert same.json()["levels"] == first.json()["levels"]
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 4


def test_a_till_sale_resent_answers_the_first_even_when_the_shelf_is_now_empty(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 1)
    body = {"id": "9b2d6f1e-3c4a-4e5f-8a7b-1c2d3e4f5a6b", "sku": "CAM-ALG-BLA-M", "location": "MAD-01"}

    first = _move(client, **body, kind="sold", quantity=1)
    again = _move(client, **body, kind="sold", quantity=1)

    assert (first.status_code, again.status_code) == (201, 200)
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 0


def test_availability_per_sku_sums_every_location_and_names_one_never_counting_an_oversold_shelf(
    chain, receive, customer_id
):
    from orders import selectors, services

    receive("CAM-ALG-BLA-M", "MAD-01", 3)
    receive("CAM-ALG-BLA-M", "WH-ZGZ", 10)
    receive("PAN-VAQ-SLI-40", "VLC-01", 2)
    # A shop platform sold 5 from Madrid, which held 3: Madrid owes 2 and counts 0, not -2.
    services.order_place_oversell_allowed(
        order_id="SHOP-1",
        customer=customer_id,
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 5}],
        location="MAD-01",
        actor="test",
    )

    skus = ["CAM-ALG-BLA-M", "PAN-VAQ-SLI-40", "ZAP-RUN-BLA-42"]
    assert selectors.availability_by_sku(skus=skus, location="MAD-01") == {
        "CAM-ALG-BLA-M": (10, 0),
        "PAN-VAQ-SLI-40": (2, 0),
        "ZAP-RUN-BLA-42": (0, 0),  # never stocked anywhere
    }
    assert selectors.availability_by_sku(skus=skus, location="VLC-01")["PAN-VAQ-SLI-40"] == (2, 2)
    assert selectors.availability_by_sku(skus=skus)["CAM-ALG-BLA-M"] == (10, None)
    assert sum(row["available"] for row in selectors.stock_levels(sku="CAM-ALG-BLA-M")) == 10  # as the detail says


def _withdraw(sku: str) -> None:
    from decimal import Decimal

    from orders import services

    services.product_save(sku=sku, name="Camiseta algodón blanca M", price=Decimal("19.90"), is_active=False, actor="t")


def test_a_till_sale_of_a_product_not_on_sale_is_a_400_naming_the_sku_and_changes_nothing(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 2)
    _withdraw("CAM-ALG-BLA-M")
    before = Event.objects.count()

    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1)

    assert response.status_code == 400, response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("sku", "inactive_sku")]
    assert Event.objects.count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 2, "reserved": 0, "available": 2}


def test_a_sale_movement_and_an_order_refuse_a_product_not_on_sale_alike(chain, receive, customer_id):
    from orders import services
    from orders.errors import InvalidFields

    receive("CAM-ALG-BLA-M", "MAD-01", 2)
    _withdraw("CAM-ALG-BLA-M")

    with pytest.raises(InvalidFields) as anonymous:
        services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="sold", quantity=1, actor="t")
    with pytest.raises(InvalidFields) as named:
        services.order_place(
            customer=customer_id,
            channel="store",
            lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
            fulfilment={"method": "counter", "location": "MAD-01"},
            actor="t",
        )

    ((sale_error,), (order_error,)) = anonymous.value.errors, named.value.errors
    assert (sale_error.field, sale_error.code) == ("sku", "inactive_sku")
    assert (order_error.field, order_error.code) == ("lines.0.sku", "inactive_sku")
    assert sale_error.message == order_error.message


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "received", "quantity": 3},
        {"kind": "counted", "quantity": 1},
        {"kind": "transfer", "quantity": 1, "to_location": "WH-ZGZ"},
    ],
)
def test_the_stock_of_a_product_not_on_sale_is_still_received_counted_and_moved(client, chain, receive, body):
    receive("CAM-ALG-BLA-M", "MAD-01", 2)
    _withdraw("CAM-ALG-BLA-M")

    response = _move(client, sku="CAM-ALG-BLA-M", location="MAD-01", **body)

    assert response.status_code == 201, response.json()


def test_a_till_sale_resent_after_the_product_was_withdrawn_answers_the_first(client, chain, receive):
    receive("CAM-ALG-BLA-M", "MAD-01", 2)
    body = {"id": "4a1e2b3c-5d6e-4f70-8a9b-0c1d2e3f4a5b", "sku": "CAM-ALG-BLA-M", "location": "MAD-01"}
    first = _move(client, **body, kind="sold", quantity=1)
    _withdraw("CAM-ALG-BLA-M")

    again = _move(client, **body, kind="sold", quantity=1)

    assert (first.status_code, again.status_code) == (201, 200)
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 1
