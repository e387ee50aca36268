"""The stock and order pages at the counter: stock in every location, the till, click-and-collect, returns."""

import html
import re
import uuid
from decimal import Decimal

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from customers import selectors as customer_selectors
from customers.services import cases as case_services
from customers.services.ingestion import customer_register
from customers.wording import money_text
from orders import selectors as order_selectors
from orders import services as order_services
from orders.models import Order

pytestmark = pytest.mark.django_db
PICKUP_MAD = {"method": "pickup", "location": "MAD-01"}
SHIP = {"method": "ship"}
TSHIRT = "qty_CAM-ALG-BLA-M"  # the return form's field of the T-shirt


@pytest.fixture
def ana(db):
    customer_id, _ = customer_register(
        customer={"email": "ana@example.es", "phone": "+34600111222", "name": "Ana Pérez"}, channel="app", actor="test"
    )
    return customer_id


def level(sku: str, location: str) -> dict:
    (row,) = order_selectors.stock_levels(sku=sku, location=location)
    return {key: row[key] for key in ("on_hand", "reserved", "available")}


def event_count() -> int:
    return Event.objects.count()


# --- Stock lookup ---------------------------------------------------------------------------------------------------


def test_the_stock_lookup_lists_every_location_with_the_staff_members_store_first(shop, login):
    client = login("store", "VLC-01")

    response = client.get("/staff/stock/?q=CAM-ALG-BLA-M")

    assert response.status_code == 200
    levels = response.context["levels"]
    assert [row["location"] for row in levels] == ["VLC-01", "MAD-01", "WH-ZGZ"]
    assert levels[0]["is_own"]
    assert levels[0]["available"] == 5
    assert "Valencia" in response.content.decode()


def test_the_stock_lookup_by_name_lists_the_matching_products(shop, login):
    response = login("support").get("/staff/stock/?q=vaquero")

    assert response.status_code == 200
    assert response.context["product"].sku == "PAN-VAQ-SLI-40"  # one match: its stock at once


def test_the_stock_lookup_by_a_shared_word_lists_products_to_choose_from(shop, login):
    order_services.product_save(
        sku="CAM-ALG-NEG-M", name="Camiseta algodón negra M", category="camisetas", price=Decimal("19.90"), actor="t"
    )
    client = login("support")

    response = client.get("/staff/stock/?q=camiseta")

    assert response.context["product"] is None
    assert [row["product"].sku for row in response.context["products"]] == ["CAM-ALG-BLA-M", "CAM-ALG-NEG-M"]
    assert 'href="/staff/stock/?q=CAM-ALG-NEG-M"' in response.content.decode()


def test_the_list_of_products_says_what_is_available_at_the_staff_members_store_and_in_all(shop, login, ana):
    order_services.product_save(
        sku="CAM-ALG-NEG-M", name="Camiseta algodón negra M", category="camisetas", price=Decimal("19.90"), actor="t"
    )
    shop(
        ana,
        order_id="W-1",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}],
        fulfilment={"method": "pickup", "location": "VLC-01"},
    )

    at_the_counter = login("store", "VLC-01").get("/staff/stock/?q=camiseta", HTTP_ACCEPT_LANGUAGE="es")
    at_support = login("support").get("/staff/stock/?q=camiseta", HTTP_ACCEPT_LANGUAGE="es")

    rows = {row["product"].sku: (row["available_here"], row["available"]) for row in at_the_counter.context["products"]}
    assert rows == {"CAM-ALG-BLA-M": (3, 16), "CAM-ALG-NEG-M": (0, 0)}  # 5 - 2 reserved in Valencia; 3 + 3 + 10
    page = at_the_counter.content.decode()
    assert "3 en VLC-01</span> · <span" in page
    assert "16 en total" in page
    support_page = at_support.content.decode()
    assert "16 en total" in support_page
    assert 'data-testid="available-here"' not in support_page  # no store of their own


def test_a_too_short_or_unknown_stock_query_answers_without_a_500(shop, login):
    client = login("support")

    assert client.get("/staff/stock/?q=a").status_code == 400
    response = client.get("/staff/stock/?q=NOTHING-LIKE-IT")
    assert response.status_code == 200
    assert response.context["products"] == []


def test_marketing_staff_cannot_see_the_stock_lookup(shop, login):
    response = login("marketing").get("/staff/stock/?q=CAM-ALG-BLA-M")

    assert response.status_code == 403


# --- Till sale ------------------------------------------------------------------------------------------------------


def test_a_till_sale_takes_the_units_from_the_staff_members_store_at_once(shop, login):
    client = login("store")

    response = client.post("/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 2, "sale_id": uuid.uuid4()})

    assert response.status_code == 302
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}
    assert level("CAM-ALG-BLA-M", "VLC-01")["on_hand"] == 5
    assert "1 left available here" in client.get("/staff/till/").content.decode()


def test_a_till_sale_to_a_known_customer_is_an_order_on_their_record_that_any_store_can_take_back(shop, login, ana):
    client = login("store")
    sale_id = uuid.uuid4()
    form = {"sku": "CAM-ALG-BLA-M", "quantity": 2, "customer": "600 111 222", "sale_id": sale_id}

    response = client.post("/staff/till/", form)
    client.post("/staff/till/", form)  # posted twice: one sale

    assert response.status_code == 302
    order = Order.objects.get(customer_id=ana)
    assert (order.id, order.channel, order.fulfilment_method) == (f"TILL-{sale_id.hex[:16]}", "store", "counter")
    assert (order.status, order.is_paid, order.total) == ("collected", True, Decimal("39.80"))
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 1, "reserved": 0, "available": 1}
    page = client.get("/staff/till/").content.decode()
    assert f"to Ana Pérez (order TILL-{sale_id.hex[:16]}). 1 left available here." in page
    projector.catch_up_all()  # the customer's order figures are an asynchronous projection
    story = customer_selectors.customer_360(customer_id=ana)
    assert (story["order_count"], story["lifetime_value"]) == (1, Decimal("39.80"))

    returned = order_services.order_act(
        order_id=order.id, action="return", actor="test", acting_location="VLC-01", location="VLC-01"
    )

    assert (returned.status, returned.refunded) == ("returned", Decimal("39.80"))
    assert level("CAM-ALG-BLA-M", "VLC-01")["on_hand"] == 7


def test_a_till_sale_to_a_new_phone_number_registers_the_customer(shop, login):
    client = login("store")

    client.post(
        "/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 1, "customer": "611 222 333", "sale_id": uuid.uuid4()}
    )

    (order,) = Order.objects.all()
    assert customer_selectors.customer_search(query="+34611222333")[0].id == order.customer_id


def test_a_till_sale_to_someone_who_cannot_be_identified_is_refused_and_writes_nothing(shop, login):
    client = login("store")
    before = event_count()

    response = client.post(
        "/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 1, "customer": "ana@", "sale_id": uuid.uuid4()}
    )

    assert response.status_code == 400
    assert "customer" in response.context["form"].errors
    assert event_count() == before


def test_a_till_sale_posted_twice_is_recorded_once(shop, login):
    client = login("store")
    form = {"sku": "CAM-ALG-BLA-M", "quantity": 1, "sale_id": uuid.uuid4()}

    client.post("/staff/till/", form)
    client.post("/staff/till/", form)

    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 2


def test_a_till_sale_short_of_stock_is_refused_naming_other_stores_and_writes_nothing(shop, login):
    client = login("store")
    before = event_count()

    response = client.post("/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 4, "sale_id": uuid.uuid4()})

    assert response.status_code == 409
    page = response.content.decode()
    assert "Only 3 of CAM-ALG-BLA-M available here." in page
    assert "Valencia Colón (5)" in page
    assert "Madrid Gran Vía (3)" not in page
    assert event_count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 3


@pytest.mark.parametrize(
    "form",
    [
        {"sku": "NO-SUCH-SKU", "quantity": 1},
        {"sku": "CAM-ALG-BLA-M", "quantity": 0},
        {"sku": "CAM-ALG-BLA-M", "quantity": "two"},
        {"sku": "", "quantity": 1},
    ],
)
def test_a_till_sale_with_bad_input_is_a_400_page_and_writes_nothing(shop, login, form):
    client = login("store")
    before = event_count()

    response = client.post("/staff/till/", {**form, "sale_id": uuid.uuid4()})

    assert response.status_code == 400
    assert event_count() == before


@pytest.mark.parametrize("role", ["support", "marketing", "admin"])
def test_only_store_staff_use_the_till(shop, login, role):
    response = login(role).post("/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 1, "sale_id": uuid.uuid4()})

    assert response.status_code == 403
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 3


# --- Click and collect ----------------------------------------------------------------------------------------------


def test_the_pickup_list_shows_the_stores_orders_to_prepare_and_ready_with_customer_and_lines(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    shop(
        ana,
        order_id="A-2",
        lines=[{"sku": "PAN-VAQ-SLI-40", "quantity": 1}],
        fulfilment=PICKUP_MAD,
        steps=("pay", "ready"),
    )
    shop(
        ana,
        order_id="A-3",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment={"method": "pickup", "location": "VLC-01"},
    )

    response = login("store").get("/staff/pickups/")

    assert [row["order"].id for row in response.context["to_prepare"]] == ["A-1"]
    assert [row["order"].id for row in response.context["ready"]] == ["A-2"]
    page = response.content.decode()
    assert "Ana Pérez" in page
    assert "Camiseta algodón blanca M" in page
    assert "A-3" not in page


def test_an_unpaid_pickup_waits_for_payment_without_a_button(shop, login, ana):
    shop(ana, order_id="A-9", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD, steps=())

    response = login("store").get("/staff/pickups/")

    assert [row["order"].id for row in response.context["unpaid"]] == ["A-9"]
    assert response.context["to_prepare"] == []
    assert 'name="action" value="ready"' not in response.content.decode()


def test_store_staff_mark_a_pickup_ready_then_collected(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    client = login("store")

    response = client.post("/staff/orders/A-1/", {"action": "ready", "next": "pickups"})
    assert response.status_code == 302
    assert response["Location"] == "/staff/pickups/"
    assert Order.objects.get(id="A-1").status == "ready"

    client.post("/staff/orders/A-1/", {"action": "collect", "next": "pickups"})

    assert Order.objects.get(id="A-1").status == "collected"
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 2, "reserved": 0, "available": 2}


def test_store_staff_of_another_store_cannot_hand_over_the_order(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    before = event_count()

    response = login("store", "VLC-01").post("/staff/orders/A-1/", {"action": "ready"})

    assert response.status_code == 403
    assert event_count() == before
    assert Order.objects.get(id="A-1").status == "paid"


def test_a_step_out_of_order_is_a_409_page_and_writes_nothing(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    before = event_count()

    response = login("store").post("/staff/orders/A-1/", {"action": "collect"})

    assert response.status_code == 409
    assert event_count() == before


@pytest.mark.parametrize("role", ["support", "admin"])
def test_only_store_staff_act_on_orders(shop, login, ana, role):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)

    assert login(role).get("/staff/orders/A-1/").status_code == 200
    assert login(role).post("/staff/orders/A-1/", {"action": "ready"}).status_code == 403
    assert login(role).get("/staff/pickups/").status_code == 403
    assert Order.objects.get(id="A-1").status == "paid"


def test_an_unknown_action_or_order_is_a_4xx_page(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    client = login("store")

    assert client.post("/staff/orders/A-1/", {"action": "explode"}).status_code == 400
    assert client.get("/staff/orders/NO-SUCH/").status_code == 404
    assert client.post("/staff/orders/NO-SUCH/", {"action": "ready"}).status_code == 404


def test_marketing_staff_cannot_see_orders(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)

    for path in ("/staff/orders/A-1/", "/staff/orders/?q=A-1", "/staff/pickups/"):
        assert login("marketing").get(path).status_code == 403


# --- Returns at the counter -----------------------------------------------------------------------------------------


@pytest.fixture
def web_order(shop, ana):
    """A web order shipped from the warehouse and delivered: 2 T-shirts and 1 jeans. The customer's record of
    their orders (customers.commerce) is an asynchronous projection: caught up, as a worker would."""
    order = shop(
        ana,
        order_id="W-1",
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 2}],
        fulfilment=SHIP,
        steps=("pay", "ship", "deliver"),
    )
    projector.catch_up_all()
    return order


def test_the_order_lookup_finds_an_order_by_id_or_by_the_customers_phone(web_order, login):
    client = login("store")

    assert client.get("/staff/orders/?q=W-1")["Location"] == "/staff/orders/W-1/"
    response = client.get("/staff/orders/?q=600 11 12 22")
    assert [row["order"].id for row in response.context["results"]] == ["W-1"]
    assert client.get("/staff/orders/?q=nobody@example.es").context["results"] == []


def test_an_order_number_typed_in_lower_case_on_the_tablet_finds_the_order(shop, ana, login):
    """The lookup box sets autocapitalize="none", so a tablet types "demo-00142" for DEMO-00142."""
    shop(ana, order_id="DEMO-00142", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=SHIP)

    response = login("store").get("/staff/orders/", {"q": "demo-00142"})

    assert response.status_code == 302, response.context and response.context["results"]
    assert response["Location"] == "/staff/orders/DEMO-00142/"


def test_an_order_number_two_orders_share_in_other_cases_opens_only_the_exact_one(shop, ana, login):
    shop(ana, order_id="Ab-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=SHIP)
    shop(ana, order_id="AB-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=SHIP)
    client = login("store")

    assert client.get("/staff/orders/", {"q": "AB-1"})["Location"] == "/staff/orders/AB-1/"
    assert client.get("/staff/orders/", {"q": "ab-1"}).status_code == 200  # two in other cases: neither is guessed


def test_a_web_order_returned_at_the_counter_restocks_this_store_and_shows_the_refund(web_order, login):
    client = login("store")
    warehouse_before = level("CAM-ALG-BLA-M", "WH-ZGZ")

    form = {"action": "return", TSHIRT: 1, "reason": "talla", "return_id": uuid.uuid4()}
    response = client.post("/staff/orders/W-1/", form, follow=True)

    assert response.status_code == 200
    assert "Returned at MAD-01. Refund: 19.90 €." in response.content.decode()
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 4
    assert level("CAM-ALG-BLA-M", "WH-ZGZ") == warehouse_before
    order = Order.objects.get(id="W-1")
    assert order.status == "partially_returned"
    assert str(order.refunded) == "19.90"


@pytest.mark.parametrize(("quantity", "refunded"), [(1, "19.90"), (2, "39.80")], ids=["partial", "full"])
def test_a_return_form_posted_twice_returns_the_goods_once(web_order, login, quantity, refunded):
    client = login("store")
    return_id = client.get("/staff/orders/W-1/").context["return_form"]["return_id"].value()
    form = {"action": "return", TSHIRT: quantity, "reason": "talla", "return_id": return_id}

    assert client.post("/staff/orders/W-1/", form).status_code == 302
    before = event_count()
    again = client.post("/staff/orders/W-1/", form, follow=True)  # a double click, or the browser's resend

    assert again.status_code == 200
    assert "This return was already recorded." in again.content.decode()
    assert event_count() == before
    assert str(Order.objects.get(id="W-1").refunded) == refunded
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 3 + quantity
    fresh = client.get("/staff/orders/W-1/").context["return_form"]["return_id"].value()
    assert fresh != return_id  # the next return at the counter is another one


@pytest.mark.parametrize(
    "form",
    [{TSHIRT: 0}, {TSHIRT: 3}, {TSHIRT: -1}, {TSHIRT: "x"}, {"qty_0": 1}, {}],
)
def test_a_return_with_bad_quantities_is_a_400_page_and_writes_nothing(web_order, login, form):
    before = event_count()

    response = login("store").post("/staff/orders/W-1/", {"action": "return", "return_id": uuid.uuid4(), **form})

    assert response.status_code == 400
    assert event_count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 3


@pytest.mark.parametrize(
    ("posted", "status", "returned"),
    [
        # The T-shirt, returned elsewhere meanwhile: refused by name, never moved onto the jeans.
        ("CAM-ALG-BLA-M", 400, {"CAM-ALG-BLA-M": 1, "PAN-VAQ-SLI-40": 0}),
        # The jeans: still the jeans, although the form above them is gone.
        ("PAN-VAQ-SLI-40", 302, {"CAM-ALG-BLA-M": 1, "PAN-VAQ-SLI-40": 1}),
    ],
)
def test_a_return_form_shown_before_another_return_returns_only_the_products_it_names(
    shop, login, ana, posted, status, returned
):
    shop(
        ana,
        order_id="W-2",
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}, {"sku": "PAN-VAQ-SLI-40", "quantity": 1}],
        fulfilment=SHIP,
        steps=("pay", "ship", "deliver"),
    )
    client = login("store")
    return_id = client.get("/staff/orders/W-2/").context["return_form"]["return_id"].value()
    order_services.order_act(
        order_id="W-2", action="return", actor="t", location="VLC-01", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}]
    )

    response = client.post(
        "/staff/orders/W-2/", {"action": "return", f"qty_{posted}": 1, "reason": "talla", "return_id": return_id}
    )

    assert response.status_code == status
    if status == 400:
        assert "CAM-ALG-BLA-M · Camiseta algodón blanca M can no longer be returned" in response.content.decode()
    lines = Order.objects.get(id="W-2").lines.all()
    assert {line.sku: line.returned_quantity for line in lines} == returned


def test_an_order_not_yet_with_the_customer_cannot_be_returned(shop, login, ana):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    before = event_count()

    page = login("store").get("/staff/orders/A-1/")
    response = login("store").post("/staff/orders/A-1/", {"action": "return", TSHIRT: 1, "return_id": uuid.uuid4()})

    assert page.context["can_return"] is False
    assert response.status_code == 409
    assert event_count() == before


def test_the_order_page_shows_lines_locations_and_history(web_order, login):
    page = login("support").get("/staff/orders/W-1/").content.decode()

    assert "Camiseta algodón blanca M" in page
    assert "WH-ZGZ" in page
    assert "Order shipped" in page
    assert "Return and refund" not in page  # support does not take goods back


def test_the_customer_page_links_the_orders_to_their_page(web_order, login, ana):
    page = login("support").get(f"/staff/customers/{ana}/").content.decode()

    assert 'href="/staff/orders/W-1/"' in page


def test_store_staff_see_the_order_pages_in_the_navigation(login):
    page = login("store").get("/staff/stock/").content.decode()

    for path in ("/staff/stock/", "/staff/till/", "/staff/pickups/", "/staff/orders/"):
        assert f'href="{path}"' in page
    support_page = login("support").get("/staff/stock/").content.decode()
    assert 'href="/staff/till/"' not in support_page


def test_the_case_page_links_the_customers_orders_to_their_page(web_order, login, ana):
    case = case_services.case_open(
        customer_id=ana, channel="email", subject="Talla", text="Me queda pequeña.", actor="t"
    )

    page = login("support").get(f"/staff/cases/{case.id}/").content.decode()

    assert 'href="/staff/orders/W-1/"' in page


@pytest.mark.parametrize("customer", ["", "600 111 222"])
def test_a_till_sale_of_a_product_not_on_sale_is_refused_with_or_without_a_customer(shop, login, ana, customer):
    order_services.product_save(
        sku="CAM-ALG-BLA-M", name="Camiseta algodón blanca M", price=Decimal("19.90"), is_active=False, actor="test"
    )
    client = login("store")
    before = event_count()

    response = client.post(
        "/staff/till/", {"sku": "CAM-ALG-BLA-M", "quantity": 1, "customer": customer, "sale_id": uuid.uuid4()}
    )

    assert response.status_code == 400
    assert response.context["form"].errors["sku"] == ["This product is not on sale."]
    assert event_count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 3


@pytest.mark.parametrize("customer", ["", "600 111 222"])
def test_a_till_sale_posted_again_after_its_product_went_off_sale_answers_the_first_sale(shop, login, ana, customer):
    client = login("store")
    form = {"sku": "CAM-ALG-BLA-M", "quantity": 1, "customer": customer, "sale_id": uuid.uuid4()}
    assert client.post("/staff/till/", form).status_code == 302
    order_services.product_save(
        sku="CAM-ALG-BLA-M", name="Camiseta algodón blanca M", price=Decimal("19.90"), is_active=False, actor="test"
    )
    before = event_count()

    again = client.post("/staff/till/", form)  # the form posted again (a double tap, a reload)

    assert again.status_code == 302, again.context["form"].errors
    assert event_count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01")["on_hand"] == 2


# --- Money, written as the timeline writes it ------------------------------------------------------------------------


def words(response) -> str:
    """The page's text, tags and runs of spaces left out."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.mark.parametrize(("language", "total"), [("es", "Total 39,80 €"), ("en", "Total 39.80 €")])
def test_the_order_page_writes_money_as_the_timeline_does(web_order, login, language, total):
    """39,80 € (customers.wording.money_text: the timeline and the compensation labels), not "39,80 EUR"."""
    page = words(login("support").get("/staff/orders/W-1/", HTTP_ACCEPT_LANGUAGE=language))

    assert total in page
    assert "EUR" not in page


def test_the_customer_page_writes_an_orders_total_like_its_timeline(web_order, login, ana):
    page = words(login("store").get(f"/staff/customers/{ana}/", HTTP_ACCEPT_LANGUAGE="es"))

    assert "W-1 · 39,80 €" in page
    assert "Pedido W-1 realizado en Web · 39,80 €" in page  # the timeline beside it
    assert "EUR" not in page


def test_the_refund_said_after_a_return_in_spanish_writes_euros(web_order, login):
    form = {"action": "return", TSHIRT: 1, "reason": "talla", "return_id": uuid.uuid4()}

    response = login("store").post("/staff/orders/W-1/", form, follow=True, HTTP_ACCEPT_LANGUAGE="es")

    page = words(response)
    assert "Devuelto en MAD-01. Reembolso: 19,90 €." in page
    assert "1 × CAM-ALG-BLA-M en MAD-01, reembolso 19,90 €" in page  # the order's history


def test_the_order_lookup_and_the_stock_lookup_write_money_in_euros(web_order, login):
    order_services.product_save(
        sku="CAM-ALG-NEG-M", name="Camiseta algodón negra M", category="camisetas", price=Decimal("19.90"), actor="t"
    )
    client = login("store")

    lookup = words(client.get("/staff/orders/", {"q": "600 11 12 22"}, HTTP_ACCEPT_LANGUAGE="es"))
    stock = words(client.get("/staff/stock/", {"q": "camiseta"}, HTTP_ACCEPT_LANGUAGE="es"))

    assert "W-1 · 39,80 €" in lookup
    assert "19,90 €" in stock
    assert "EUR" not in lookup + stock


def test_the_money_filter_is_money_text(settings):
    from django.template import Context, Template
    from django.utils import translation

    template = Template("{% load staff_money %}{{ amount|money }}|{{ amount|money:'USD' }}|{{ nothing|money }}")
    with translation.override("es"):
        rendered = template.render(Context({"amount": Decimal("1234.5"), "nothing": None}))

    assert rendered == f"{money_text(Decimal('1234.5'))}|{money_text(Decimal('1234.5'), 'USD')}|"


# --- A double tap on the pickup buttons ------------------------------------------------------------------------------


def test_a_double_tap_on_mark_ready_in_the_pickup_list_is_not_an_error_page(shop, ana, login):
    """The till's sale, a return and a reply answer a repeated post kindly; the pickup's buttons answered the second
    tap with a 409 error page ("cannot be done while the order is ready to collect") though the first tap worked."""
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    client = login("store")
    (row,) = client.get("/staff/pickups/").context["to_prepare"]
    form = {"action": "ready", "next": "pickups", "step_id": str(row["step_id"])}

    first = client.post("/staff/orders/A-1/", form)
    before = event_count()
    second = client.post("/staff/orders/A-1/", form, follow=True)

    assert first.status_code == 302
    assert second.redirect_chain == [("/staff/pickups/", 302)]
    assert "Order A-1 is ready to collect." in second.content.decode()
    assert event_count() == before
    assert Order.objects.get(id="A-1").status == "ready"


def test_a_double_tap_on_mark_collected_on_the_order_page_collects_once(shop, ana, login):
    shop(
        ana,
        order_id="A-1",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment=PICKUP_MAD,
        steps=("pay", "ready"),
    )
    client = login("store")
    page = client.get("/staff/orders/A-1/")
    form = {"action": "collect", "step_id": str(page.context["step_id"])}

    assert client.post("/staff/orders/A-1/", form).status_code == 302
    before = event_count()
    again = client.post("/staff/orders/A-1/", form)

    assert again.status_code == 302
    assert event_count() == before
    assert level("CAM-ALG-BLA-M", "MAD-01") == {"on_hand": 2, "reserved": 0, "available": 2}


def test_each_pickup_card_and_the_order_page_post_a_step_id_of_their_own(shop, ana, login):
    for order_id in ("A-1", "A-2"):
        shop(ana, order_id=order_id, lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    client = login("store")

    pickups = client.get("/staff/pickups/").content.decode()
    order_page = client.get("/staff/orders/A-1/").content.decode()

    ids = re.findall(r'name="step_id" value="([0-9a-f-]{36})"', pickups + order_page)
    assert len(ids) == len(set(ids)) == 3


def test_a_step_id_used_for_another_step_is_refused_and_writes_nothing(shop, ana, login):
    shop(ana, order_id="A-1", lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}], fulfilment=PICKUP_MAD)
    client = login("store")
    step_id = str(uuid.uuid4())
    client.post("/staff/orders/A-1/", {"action": "ready", "step_id": step_id})
    before = event_count()

    response = client.post("/staff/orders/A-1/", {"action": "collect", "step_id": step_id})

    assert response.status_code == 400
    assert event_count() == before
    assert Order.objects.get(id="A-1").status == "ready"
