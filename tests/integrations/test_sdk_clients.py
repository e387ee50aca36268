"""The real SDKs (segment-analytics-python, rudder-sdk-python), unpatched, pointed at a live server on loopback:
what they send (POST <host>/v1/batch, Basic auth with the write key, gzip) is stored once, with identity
resolution, carts and the e-commerce mapping; flushing the same messages again writes nothing."""

import threading
import time

import pytest
from django.db import connections
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from backoffice.integrations.models import TrackingSource
from backoffice.integrations.services import tracking_source_create
from customers.models import Customer
from orders.models import Cart

pytestmark = pytest.mark.django_db(transaction=True)

SDKS = {"segment": SegmentClient, "rudder": RudderClient}


@pytest.fixture(autouse=True)
def _sdk_connections_closed():
    """The SDKs keep their HTTP connections alive in a module-level session, and the live server keeps a thread per
    open connection: closed, and their threads waited for, while this test still shares its database connection
    with them (a thread outliving the server would fail closing it)."""
    yield
    from rudderstack.analytics import request as rudder_request
    from segment.analytics import request as segment_request

    segment_request._session.close()
    rudder_request._session.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name and thread.is_alive() for thread in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _request_threads_close_their_connections():
    """The live server answers each request on a new thread; with persistent connections (CONN_MAX_AGE) each
    would leave a PostgreSQL session open, and the test database could not be dropped at the end."""
    if connections["default"].vendor != "postgresql":
        yield  # SQLite: the live server's threads share the test's in-memory connection
        return
    settings_dict = connections["default"].settings_dict
    before = settings_dict.get("CONN_MAX_AGE", 0)
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = before


def send_session(client) -> None:
    """A visit as a web shop's backend reports it: pages, a search, products, a cart, an identify, an order."""
    anon = "anon-3f1c"
    client.page(anonymous_id=anon, name="Home", properties={"url": "https://shop.example/"}, message_id="m-page")
    client.track(
        anonymous_id=anon, event="Products Searched", properties={"query": "zapatillas"}, message_id="m-search"
    )
    client.track(
        anonymous_id=anon,
        event="Product Viewed",
        properties={"product_id": "ZAP-RUN-42", "sku": "ZAP-RUN-42", "price": 69.9},
        message_id="m-view",
    )
    client.track(
        anonymous_id=anon,
        event="Product Added",
        properties={"cart_id": "cart-77", "sku": "ZAP-RUN-42", "price": 69.9, "quantity": 1, "currency": "EUR"},
        message_id="m-add",
    )
    client.identify(
        user_id="user-1001",
        anonymous_id=anon,
        traits={"email": "lucia@example.es", "firstName": "Lucía", "lastName": "Pérez", "phone": "+34 600 111 222"},
        message_id="m-identify",
    )
    client.track(
        user_id="user-1001",
        anonymous_id=anon,
        event="Checkout Started",
        properties={"cart_id": "cart-77", "value": 69.9, "currency": "EUR"},
        message_id="m-checkout",
    )
    client.track(user_id="user-1001", event="Newsletter Opened", properties={"issue": 12}, message_id="m-custom")


def flush(make, live_server, write_key: str) -> list:
    errors = []
    client = make(
        write_key=write_key,
        host=live_server.url,
        gzip=True,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    send_session(client)
    client.flush()
    client.join()
    return errors


@pytest.mark.parametrize("sdk", sorted(SDKS))
def test_the_sdk_flushes_into_the_log_once_and_a_second_flush_writes_nothing(live_server, sdk):
    assert live_server.url.startswith("http://localhost") or live_server.url.startswith("http://127.0.0.1")
    write_key = tracking_source_create(name=f"{sdk}-web", channel="web").write_key

    assert flush(SDKS[sdk], live_server, write_key) == []

    types = sorted(Event.objects.exclude(type__startswith="customer.").values_list("type", flat=True))
    assert types == sorted(
        ["page.viewed", "search.performed", "product.viewed", "cart.item_added", "checkout.started", "custom.event"]
    )
    assert Event.objects.filter(type="customer.identified").count() == 1
    (customer,) = Customer.objects.filter(merged_into__isnull=True)
    assert customer.display_name == "Lucía Pérez"
    keys = set(customer.identifiers.values_list("key", flat=True))
    assert {"email:lucia@example.es", "phone:+34600111222", "anonymous_id:anon-3f1c"} <= keys
    assert f"external:{sdk}-web:user-1001" in keys
    # Everything the visitor did before identifying is theirs now.
    assert set(Event.objects.exclude(type__startswith="customer.").values_list("customer_id", flat=True)) == {
        customer.id
    }
    projector.catch_up("orders.carts")
    (cart,) = Cart.objects.all()
    assert (cart.cart_id, cart.customer_id, cart.items["ZAP-RUN-42"]["quantity"]) == ("cart-77", customer.id, 1)
    assert TrackingSource.objects.get().events_total == 7

    count = Event.objects.count()
    assert flush(SDKS[sdk], live_server, write_key) == []

    assert Event.objects.count() == count
    assert Customer.objects.count() == 1
    assert Cart.objects.get().items["ZAP-RUN-42"]["quantity"] == 1
    assert TrackingSource.objects.get().events_total == 7


def test_one_message_we_cannot_use_does_not_lose_the_rest_of_the_sdks_batch(live_server):
    """Segment's HTTP API answers 200 unless the payload is too large or not JSON; analytics-python treats a 400 as
    final and drops every message of the batch, orders included. A Product Reviewed without `rating` (our
    `review.posted` needs one) is batched by the real SDK with a page view and a Product Viewed."""
    write_key = tracking_source_create(name="py-web", channel="web").write_key
    errors = []
    client = SegmentClient(
        write_key=write_key,
        host=live_server.url,
        gzip=True,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    client.page(anonymous_id="anon-1", name="Home", properties={"url": "https://shop.example/"}, message_id="m-1")
    client.track(anonymous_id="anon-1", event="Product Viewed", properties={"product_id": "SKU-1"}, message_id="m-2")
    client.track(
        anonymous_id="anon-1",
        event="Product Reviewed",
        properties={"product_id": "SKU-1", "review_id": "r-9", "review_body": "Muy cómodas"},
        message_id="m-3",
    )
    client.flush()
    client.join()

    assert errors == [], f"the SDK got {errors}: it drops the whole batch and never retries"
    assert sorted(Event.objects.exclude(type__startswith="customer.").values_list("type", flat=True))[:2] == [
        "page.viewed",
        "product.viewed",
    ]


def test_a_revoked_key_is_reported_to_the_sdk_and_nothing_is_written(live_server):
    from backoffice.integrations.services import tracking_source_revoke

    write_key = tracking_source_create(name="old-web", channel="web").write_key
    tracking_source_revoke(name="old-web")

    errors = flush(SegmentClient, live_server, write_key)

    assert errors
    assert all(getattr(error, "status", None) == 401 for error in errors)
    assert Event.objects.count() == 0


@pytest.mark.postgres  # SQLite's in-memory test database (shared cache) locks whole tables between threads
def test_two_sdks_flushing_the_same_messages_at_once_store_them_once(live_server):
    write_key = tracking_source_create(name="web", channel="web").write_key
    results: list = []
    threads = [
        threading.Thread(target=lambda: results.append(flush(SegmentClient, live_server, write_key))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [[], []]
    assert Event.objects.exclude(type__startswith="customer.").count() == 6
    assert Customer.objects.filter(merged_into__isnull=True).count() == 1


@pytest.mark.postgres
def test_first_visits_of_one_new_person_from_two_workers_at_once_register_them_once(live_server):
    import json
    import urllib.request

    write_key = tracking_source_create(name="web", channel="web").write_key
    auth = "Basic " + __import__("base64").b64encode(f"{write_key}:".encode()).decode()
    statuses: list = []

    def post(worker: int, person: int):
        body = {
            "batch": [
                {
                    "type": "page",
                    "messageId": f"w{worker}-p{person}",
                    "anonymousId": f"new-person-{person}",
                    "properties": {"url": f"/from/{worker}"},
                }
            ]
        }
        request = urllib.request.Request(  # noqa: S310 - the loopback live server
            f"{live_server.url}/v1/batch",
            json.dumps(body).encode(),
            {"Content-Type": "application/json", "Authorization": auth},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback live server
            statuses.append(response.status)

    for person in range(10):
        threads = [threading.Thread(target=post, args=(worker, person)) for worker in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [200] * 20
    assert Customer.objects.count() == 10
    assert Event.objects.filter(type="page.viewed").count() == 20
