"""The Segment-spec tracking API through HTTP: auth, gzip, idempotency, clock skew, the mapping, and bad input
answered as the spec says: a bad call is a 400 `{"success": false, "code", "message"}` with nothing written; the
messages of a batch we cannot use are left out (200, named in `refused`, dead-lettered) and the others stored."""

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backoffice import crypto
from backoffice.crypto import identifier_digest
from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.integrations.mapping import segment
from backoffice.integrations.models import DeadLetter, DeadLetterSubject, TrackingSource
from backoffice.integrations.services import dead_letter_replay, tracking_source_create, tracking_source_revoke
from customers.models import Customer, CustomerIdentifier
from customers.selectors import customer_resolve_id
from customers.services import customer_erase

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_key(db):
    return tracking_source_create(name="web-shop", channel="web").write_key


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


@pytest.fixture
def send(client, web_key):
    def post(path: str, body, *, key: str | None = None, gzipped: bool = False, raw: bytes | None = None, **headers):
        data = raw if raw is not None else json.dumps(body).encode()
        if gzipped:
            data = gzip.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        return client.post(
            path, data, content_type="application/json", HTTP_AUTHORIZATION=basic(key or web_key), **headers
        )

    return post


def message(**fields) -> dict:
    return {"messageId": str(uuid.uuid4()), "anonymousId": "anon-1", "timestamp": _now(), **fields}


def _now(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def events(type_name: str | None = None):
    """Stored events of a type, read through the store (personal fields opened with the customer's key)."""
    rows = Event.objects.all() if type_name is None else Event.objects.filter(type=type_name)
    return store.read_positions(list(rows.order_by("position").values_list("position", flat=True)))


def nested(depth: int) -> dict:
    """An object `depth` levels deep: orjson reads up to 1024, writes only 254."""
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def sealed_data(type_name: str) -> list[dict]:
    return list(Event.objects.filter(type=type_name).values_list("data", flat=True))


def test_track_is_answered_like_segment_and_stored_on_the_sources_channel(send):
    response = send("/v1/track", message(event="Product Viewed", properties={"product_id": "SKU-1", "url": "/p/1"}))

    assert response.status_code == 200
    assert response.json() == {"success": True}
    (event,) = events("product.viewed")
    assert event.channel == "web"
    assert event.data == {"sku": "SKU-1", "url": "/p/1"}
    assert TrackingSource.objects.get().events_total == 1


def test_a_gzip_batch_is_stored_once_and_a_resend_writes_nothing(send):
    batch = {
        "batch": [message(type="page", name="Home", properties={"url": "https://shop.example/"}) for _ in range(3)]
    }

    assert send("/v1/batch", batch, gzipped=True).json() == {"success": True}
    count = Event.objects.count()
    batch["sentAt"] = _now(timedelta(seconds=5))  # a retry: the SDK sets sentAt again
    assert send("/v1/batch", batch, gzipped=True).json() == {"success": True}

    assert len(events("page.viewed")) == 3
    assert Event.objects.count() == count


def test_clock_skew_is_corrected_with_sent_at(send):
    # The device's clock is one hour fast: it says it sent the message an hour from now, 10 s after the event.
    skewed_event = datetime.now(UTC) + timedelta(hours=1)
    body = {
        "batch": [message(type="track", event="Custom Thing", originalTimestamp=skewed_event.isoformat())],
        "sentAt": (skewed_event + timedelta(seconds=10)).isoformat(),
    }

    send("/v1/batch", body)

    (event,) = events("custom.event")
    expected = datetime.now(UTC) - timedelta(seconds=10)
    assert abs((event.occurred_at - expected).total_seconds()) < 5


def test_identify_registers_the_customer_and_stitches_the_anonymous_history(send):
    send("/v1/page", message(anonymousId="anon-9", properties={"url": "https://shop.example/a"}))
    send(
        "/v1/identify",
        message(
            anonymousId="anon-9",
            userId="user-42",
            traits={
                "email": "Ana@Example.es",
                "firstName": "Ana",
                "lastName": "García",
                "birthday": "1990-05-01",
                "address": {"city": "Madrid"},
            },
        ),
    )

    (customer,) = Customer.objects.all()
    assert customer.display_name == "Ana García"
    keys = set(customer.identifiers.values_list("key", flat=True))
    assert {"email:ana@example.es", "anonymous_id:anon-9", "external:web-shop:user-42"} <= keys
    (identified,) = events("customer.identified")
    assert identified.data["traits"] == {"birthday": "1990-05-01", "address": {"city": "Madrid"}}
    (stored,) = sealed_data("customer.identified")
    assert "1990" not in json.dumps(stored)  # sealed with the customer's key
    assert {e.customer_id for e in events("page.viewed")} == {customer.id}


def test_alias_merges_the_previous_anonymous_profile(send):
    send("/v1/track", message(anonymousId="anon-old", event="Product Viewed", properties={"sku": "A"}))
    send("/v1/identify", message(anonymousId="anon-new", userId="u-7", traits={"email": "u7@example.es"}))
    assert Customer.objects.filter(merged_into__isnull=True).count() == 2

    send("/v1/alias", {"messageId": "alias-1", "previousId": "anon-old", "userId": "u-7", "timestamp": _now()})

    assert Customer.objects.filter(merged_into__isnull=True).count() == 1
    assert len(events("customer.merged")) == 1


@pytest.mark.parametrize("is_new_id_known", [False, True])
def test_alias_from_a_previous_user_id_joins_the_two_identities(send, is_new_id_known):
    # Segment's spec: previousId may be "a User ID you previously identified them with", not only an anonymous id.
    send("/v1/identify", message(anonymousId=None, userId="legacy-17", traits={"email": "ana@example.es"}))
    if is_new_id_known:
        send("/v1/identify", message(anonymousId=None, userId="db-900", traits={"phone": "+34600111222"}))

    response = send(
        "/v1/alias", {"messageId": "alias-1", "previousId": "legacy-17", "userId": "db-900", "timestamp": _now()}
    )
    send("/v1/track", message(anonymousId=None, userId="db-900", event="Signed In"))

    assert response.status_code == 200
    (person,) = Customer.objects.filter(merged_into__isnull=True)
    owners = {
        key: customer_resolve_id(customer_id=owner)
        for key, owner in CustomerIdentifier.objects.values_list("key", "customer_id")
    }
    assert owners["external:web-shop:legacy-17"] == owners["external:web-shop:db-900"] == person.id
    assert "anonymous_id:legacy-17" not in owners
    assert len(events("customer.merged")) == int(is_new_id_known)


def test_context_goes_to_metadata_without_personal_data(send):
    send(
        "/v1/track",
        message(
            event="Signed Up",
            context={
                "ip": "203.0.113.77",
                "userAgent": "Mozilla/5.0",
                "locale": "es-ES",
                "campaign": {"source": "newsletter", "medium": "email", "name": "rebajas"},
                "device": {"id": "device-secret-id", "advertisingId": "ad-1", "model": "Pixel"},
                "traits": {"email": "leak@example.es"},
            },
        ),
    )

    (event,) = events("custom.event")
    context = event.metadata["context"]
    assert context["ip_network"] == "203.0.113.0/24"
    assert context["campaign"] == {"source": "newsletter", "medium": "email", "name": "rebajas"}
    assert context["device"] == {"model": "Pixel"}
    assert "leak@example.es" not in json.dumps(event.metadata)
    assert "device-secret-id" not in json.dumps(event.metadata)


@pytest.mark.parametrize(
    ("name", "properties", "type_name", "data"),
    [
        (
            "Products Searched",
            {"query": "blue hotpants"},
            "search.performed",
            {"query": "blue hotpants", "results_count": 0},
        ),
        ("Product List Viewed", {"list_id": "hot_deals_1", "category": "Deals"}, "page.viewed", None),
        ("Product Viewed", {"product_id": "507f1f77", "sku": "G-32"}, "product.viewed", {"sku": "G-32", "url": ""}),
        (
            "Product Added",
            {"cart_id": "skdjsidjsdkdj29j", "product_id": "507f1f77", "sku": "G-32", "price": 18.99, "quantity": 1},
            "cart.item_added",
            {"cart_id": "skdjsidjsdkdj29j", "sku": "G-32", "quantity": 1, "unit_price": "18.99", "currency": "EUR"},
        ),
        (
            "Product Removed",
            {"cart_id": "c1", "sku": "G-32", "quantity": 1},
            "cart.item_removed",
            {"cart_id": "c1", "sku": "G-32", "quantity": 1},
        ),
        ("Cart Viewed", {"cart_id": "c1", "products": []}, "page.viewed", None),
        (
            "Checkout Started",
            {"order_id": "50314b8e", "value": 30, "revenue": 25.0, "currency": "USD", "cart_id": "c1"},
            "checkout.started",
            {"cart_id": "c1", "order_id": "50314b8e", "value": "30.00", "currency": "USD"},
        ),
        ("Order Completed", {"order_id": "50314b8e", "cart_id": "c1", "total": 27.5}, "cart.checked_out", None),
        (
            "Coupon Applied",
            {"order_id": "50314b8e", "cart_id": "c1", "coupon_id": "may_deals_2016", "discount": 23.32},
            "coupon.applied",
            {"code": "may_deals_2016", "cart_id": "c1", "order_id": "50314b8e", "discount": "23.32"},
        ),
        (
            "Product Reviewed",
            {"product_id": "507f1f77", "review_id": "kdfjrj39fj", "review_body": "I love this", "rating": "5"},
            "review.posted",
            None,
        ),
        (
            "Product Shared",
            {"share_via": "email", "product_id": "507f1f77", "sku": "G-32"},
            "content.shared",
            {"sku": "G-32", "url": "", "network": "email"},
        ),
        (
            "Product Added to Wishlist",
            {"wishlist_id": "skdjsidjsdkdj29j", "product_id": "507f1f77", "sku": "G-32"},
            "wishlist.item_added",
            {"sku": "G-32", "wishlist_id": "skdjsidjsdkdj29j"},
        ),
        ("Order Refunded", {"order_id": "50314b8e"}, "custom.event", None),
        ("Some Event Nobody Specified", {"plan": "pro"}, "custom.event", None),
    ],
)
def test_ecommerce_spec_events_become_typed_interactions(send, name, properties, type_name, data):
    response = send("/v1/track", message(userId="u-1", event=name, properties=properties))

    assert response.status_code == 200, response.content
    (event,) = events(type_name)
    if data is not None:
        assert event.data == data
    if type_name == "custom.event":
        assert event.data["name"] == name


@pytest.mark.parametrize(
    ("rating", "stars"), [(4, 4), ("4", 4), ("4.0", 4), (4.0, 4), (" 3 ", 3), (4.5, 5), ("1.2", 1), ("5.00", 5)]
)
def test_a_review_rating_may_be_a_numeric_string_or_a_decimal_and_is_kept_in_whole_stars(send, rating, stars):
    send("/v1/track", message(event="Product Reviewed", properties={"sku": "A", "rating": rating}))

    (event,) = events("review.posted")
    assert event.data["rating"] == stars


@pytest.mark.parametrize("properties", [{"sku": "A"}, {"sku": "A", "rating": None}, {"sku": "A", "rating": ""}])
def test_a_review_without_stars_is_stored_without_a_rating(send, properties):
    """Every property of Segment's Product Reviewed is optional: a review with only its text is still a review."""
    response = send("/v1/track", message(event="Product Reviewed", properties={**properties, "review_body": "Bien"}))

    assert response.status_code == 200, response.content
    event = Event.objects.get(type="review.posted")
    assert event.data.get("rating") is None


@pytest.mark.parametrize("rating", [0, "0.9", 6, "5.5", -1, "NaN", "Infinity", "1e400"])
def test_a_review_rating_outside_1_to_5_is_refused_naming_it(send, rating):
    response = send("/v1/track", message(event="Product Reviewed", properties={"sku": "A", "rating": rating}))

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["properties.rating"]
    assert Event.objects.count() == 0


def test_an_invalid_write_key_is_401_in_segments_shape(send):
    response = send("/v1/track", message(event="X"), key="not-a-key")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["code"] == "invalid_write_key"
    assert Event.objects.count() == 0


def test_a_revoked_key_stops_working(send, web_key):
    tracking_source_revoke(name="web-shop")

    assert send("/v1/track", message(event="X")).status_code == 401


def test_no_credentials_at_all_is_401(client):
    response = client.post("/v1/track", json.dumps(message(event="X")), content_type="application/json")

    assert response.status_code == 401


def test_the_write_key_in_the_body_is_accepted_as_browsers_send_it(client, web_key):
    body = {**message(event="Browser Thing"), "writeKey": web_key}

    response = client.post("/v1/track", json.dumps(body), content_type="text/plain")

    assert response.status_code == 200
    assert len(events("custom.event")) == 1


def analytics_js(kind: str, write_key: str, **fields) -> dict:
    """A message as analytics-next's segmentio plugin posts it: its type, the write key and _metadata in the body."""
    return {
        **message(**fields),
        "type": kind,
        "writeKey": write_key,
        "sentAt": _now(),
        "context": {"library": {"name": "analytics.js", "version": "next-1.70.0"}},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }


@pytest.mark.parametrize(
    ("path", "kind", "fields", "type_name"),
    [
        ("/v1/t", "track", {"event": "Product Viewed", "properties": {"product_id": "SKU-1"}}, "product.viewed"),
        ("/v1/p", "page", {"properties": {"url": "https://shop.example/", "title": "Home"}}, "page.viewed"),
        ("/v1/s", "screen", {"name": "Basket"}, "page.viewed"),
        ("/v1/i", "identify", {"userId": "u-1", "traits": {"email": "ana@example.es"}}, "customer.identified"),
        ("/v1/a", "alias", {"previousId": "anon-1", "userId": "u-1"}, "customer.aliased"),
        ("/v1/g", "group", {"userId": "u-1", "groupId": "acme"}, "custom.event"),
    ],
)
def test_analytics_js_posts_each_call_to_the_first_letter_of_its_type(client, web_key, path, kind, fields, type_name):
    body = analytics_js(kind, web_key, **fields)

    response = client.post(path, json.dumps(body), content_type="text/plain")

    assert response.status_code == 200
    assert [e.type for e in events() if e.metadata.get("trace_id") == body["messageId"]] == [type_name]


def test_analytics_js_batching_strategy_posts_to_v1_b(client, web_key):
    batch = [
        analytics_js("page", web_key, properties={"url": "https://shop.example/"}),
        analytics_js("track", web_key, event="Product Viewed", properties={"product_id": "SKU-1"}),
    ]
    for sent in batch:
        del sent["sentAt"]  # the batching dispatcher sends one sentAt for the whole batch

    response = client.post(
        "/v1/b", json.dumps({"writeKey": web_key, "batch": batch, "sentAt": _now()}), content_type="text/plain"
    )

    assert response.status_code == 200
    stored = {e.metadata.get("trace_id"): e.type for e in events()}
    assert [stored.get(sent["messageId"]) for sent in batch] == ["page.viewed", "product.viewed"]


@pytest.mark.parametrize(
    ("raw", "gzipped", "headers", "code"),
    [
        (b"{not json", False, {}, "invalid_json"),
        (b"[1, 2]", False, {}, "invalid_request"),
        (b'{"batch": []}', True, {"HTTP_CONTENT_ENCODING": "gzip"}, "invalid_gzip"),
        (b'{"batch": []}', False, {"HTTP_CONTENT_ENCODING": "br"}, "unsupported_encoding"),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(send, raw, gzipped, headers, code):
    response = send("/v1/batch", None, raw=raw, **headers)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["code"] == code
    assert Event.objects.count() == 0


def test_a_33_mb_body_is_400_and_writes_nothing(send):
    body = json.dumps({"batch": [message(event="X", properties={"pad": "x" * (33 * 1024 * 1024)})]}).encode()

    response = send("/v1/batch", None, raw=body)

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert Event.objects.count() == 0


def test_a_gzip_bomb_stops_at_the_limit(send):
    bomb = json.dumps({"batch": [message(event="X", properties={"pad": "0" * (40 * 1024 * 1024)})]}).encode()

    response = send("/v1/batch", None, raw=gzip.compress(bomb), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"


def test_the_messages_of_a_batch_we_cannot_use_are_left_out_and_named_and_the_others_stored(send):
    """Segment answers 200 to such a batch; on a 400 the SDKs drop all of it for good (orders included)."""
    good = message(type="track", event="Product Viewed", properties={"sku": "A"})
    no_ids = {"type": "track", "event": "X", "messageId": "m-2"}
    wrong_types = message(
        type="track", event="Product Added", properties={"sku": "A", "quantity": "two", "price": "cheap"}
    )
    bad_time = message(type="page", timestamp="yesterday")
    unknown_type = message(type="purchase")

    response = send("/v1/batch", {"batch": [good, no_ids, wrong_types, bad_time, unknown_type]})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [r["index"] for r in body["refused"]] == [1, 2, 3, 4]
    assert {(e["field"], e["code"]) for r in body["refused"] for e in r["errors"]} == {
        ("batch.1.userId", "required"),
        ("batch.2.properties.quantity", "wrong_type"),
        ("batch.2.properties.price", "wrong_type"),
        ("batch.3.timestamp", "invalid_timestamp"),
        ("batch.4.type", "unknown_type"),
    }
    assert [e.data for e in events("product.viewed")] == [{"sku": "A", "url": ""}]
    assert TrackingSource.objects.get().events_total == 1


def test_each_refused_message_waits_in_the_dead_letter_list_once_and_is_logged_without_personal_data(send, caplog):
    refused = message(
        type="track",
        userId="user-77",
        event="Product Reviewed",
        properties={"sku": "A", "rating": "great", "review_body": "Me encantan"},
        context={"traits": {"email": "ana@example.es"}},
    )
    batch = {"batch": [message(type="page"), refused]}

    send("/v1/batch", batch)
    send("/v1/batch", {**batch, "sentAt": _now()})  # resent: one letter still

    (letter,) = DeadLetter.objects.all()
    assert (letter.platform, letter.shop_domain, letter.topic, letter.code, letter.status) == (
        "tracking",
        "web-shop",
        "track: Product Reviewed",
        "wrong_type",
        "pending",
    )
    assert letter.reason == "properties.rating: a rating from 1 to 5"
    assert b"Me encantan" in crypto.decrypt(letter.body_encrypted)
    assert set(DeadLetterSubject.objects.values_list("digest", flat=True)) == {
        identifier_digest("email:ana@example.es"),
        identifier_digest("external:web-shop:user-77"),
        identifier_digest("anonymous_id:anon-1"),
    }
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.endswith("tracking"))
    assert "1 of 2 messages of a batch refused: #1 wrong_type" in logged
    assert not any(secret in logged for secret in ("user-77", "anon-1", "ana@example.es", "Me encantan", "rating"))


def test_a_refused_message_is_stored_by_a_replay_after_the_fix(send, monkeypatch):
    big = message(type="track", event="Product Viewed", properties={"sku": "A", "notes": "x" * 40_000})
    response = send("/v1/batch", {"batch": [message(type="page"), big]})
    assert response.json()["refused"][0]["errors"][0]["code"] == "too_large"
    letter = DeadLetter.objects.get()

    assert not dead_letter_replay(dead_letter_id=letter.id, actor="test")  # nothing changed: still refused
    letter.refresh_from_db()
    assert (letter.status, letter.code, letter.attempts) == ("pending", "too_large", 2)

    monkeypatch.setattr(segment, "MAX_MESSAGE_BYTES", 64 * 1024)  # the fix
    assert dead_letter_replay(dead_letter_id=letter.id, actor="test")

    letter.refresh_from_db()
    assert (letter.status, letter.body_encrypted) == ("replayed", "")
    (event,) = events("product.viewed")
    assert event.metadata["trace_id"] == big["messageId"]
    assert send("/v1/batch", {"batch": [big]}).json() == {"success": True}  # it is stored now: a resend is a duplicate
    assert len(events("product.viewed")) == 1


def test_erasing_a_person_drops_the_refused_messages_naming_them_by_user_id(send):
    send("/v1/identify", message(userId="user-9", anonymousId=None, traits={"email": "luis@example.es"}))
    send("/v1/batch", {"batch": [message(type="track", userId="user-9", anonymousId=None, event="Product Viewed")]})
    letter = DeadLetter.objects.get()  # Product Viewed without a sku

    customer_erase(customer_id=Customer.objects.get().id, actor="user:1")

    letter.refresh_from_db()
    assert (letter.status, letter.body_encrypted, letter.reason) == ("erased", "", "")


def test_a_batch_whose_every_message_is_refused_is_200_naming_them_all_and_writes_nothing(send):
    response = send("/v1/batch", {"batch": [{"type": "page"}, "not a message"]})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "refused": [
            {
                "index": 0,
                "errors": [{"field": "batch.0.userId", "message": "give userId or anonymousId", "code": "required"}],
            },
            {"index": 1, "errors": [{"field": "batch.1", "message": "must be an object", "code": "wrong_type"}]},
        ],
    }
    assert Event.objects.count() == 0
    assert Customer.objects.count() == 0
    assert DeadLetter.objects.count() == 2


@pytest.mark.parametrize("batch", [None, [], {"type": "page"}, "page"], ids=["missing", "empty", "object", "string"])
def test_a_batch_that_is_not_a_list_of_messages_is_400(send, batch):
    response = send("/v1/batch", {} if batch is None else {"batch": batch})

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "batch", "message": "must be a non-empty array", "code": "required"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userId": {"id": 1}, "event": "X"}, "userId"),
        ({"userId": "u", "event": 42}, "event"),
        ({"userId": "u", "event": "X", "properties": [1]}, "properties"),
        ({"userId": "u"}, "event"),
        (
            {"userId": "u", "event": "Product Reviewed", "properties": {"sku": "A", "rating": "great"}},
            "properties.rating",
        ),
        pytest.param(
            {"userId": "u", "event": "Product Reviewed", "properties": {"sku": "A", "rating": "\u00b2"}},
            "properties.rating",
            id="rating-superscript-digit",
        ),
        pytest.param(
            {"userId": "u", "event": "Product Reviewed", "properties": {"sku": "A", "rating": "9" * 5000}},
            "properties.rating",
            id="rating-5000-digits",
        ),
        pytest.param(
            {"userId": "u", "event": "Product Added", "properties": {"sku": "A", "price": "NaN"}},
            "properties.price",
            id="price-nan",
        ),
        pytest.param(
            {"userId": "u", "event": "Coupon Applied", "properties": {"coupon_id": "X", "discount": "nan"}},
            "properties.discount",
            id="discount-nan",
        ),
        pytest.param(
            {"userId": "u", "event": "Product Added", "properties": {"sku": "A", "quantity": 1e30}},
            "properties.quantity",
            id="quantity-over-64-bits",
        ),
        pytest.param({"userId": "u", "event": "X", "properties": nested(300)}, "properties", id="nested-300-deep"),
        pytest.param(
            {"userId": "u", "event": "X", "originalTimestamp": "0001-01-01T00:00:00+00:00", "sentAt": "9999-12-31"},
            "sentAt",
            id="skew-correction-after-the-calendar",
        ),
        pytest.param(
            {"userId": "u", "event": "X", "originalTimestamp": "9999-12-31T00:00:00+00:00", "sentAt": "0001-01-01"},
            "sentAt",
            id="skew-correction-before-the-calendar",
        ),
    ],
)
def test_wrong_types_are_400_naming_the_field(send, body, field):
    response = send("/v1/track", body)

    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Event.objects.count() == 0


def test_a_value_the_event_type_refuses_is_400_with_nothing_written(send):
    response = send("/v1/track", message(event="Product Viewed", properties={"sku": "x" * 65}))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "properties.sku"
    assert Event.objects.count() == 0
    assert Customer.objects.count() == 0


def test_a_message_of_a_batch_the_store_refuses_is_left_out_and_the_others_stored(send):
    """The mapping passes the email on; identity resolution (the store's validation) refuses it."""
    batch = [
        message(type="page", anonymousId="anon-2"),
        message(type="identify", userId="u-9", traits={"email": "not an email"}),
        message(type="identify", userId="u-10", traits={"email": "u10@example.es"}),
    ]

    response = send("/v1/batch", {"batch": batch})

    assert response.status_code == 200
    assert response.json()["refused"] == [
        {
            "index": 1,
            "errors": [
                {
                    "field": "batch.1.customer.email",
                    "message": "is not a valid email address",
                    "code": "invalid_identifier",
                }
            ],
        }
    ]
    assert len(events("page.viewed")) == 1
    assert [e.metadata["trace_id"] for e in events("customer.identified")] == [batch[2]["messageId"]]
    assert not CustomerIdentifier.objects.filter(key__startswith="external:web-shop:u-9").exists()
    assert DeadLetter.objects.get().code == "invalid_identifier"
    assert TrackingSource.objects.get().events_total == 2


def test_group_is_kept_as_a_custom_event(send):
    send("/v1/group", message(userId="u-1", groupId="acme", traits={"plan": "enterprise"}))

    (event,) = events("custom.event")
    assert event.data["name"] == "group"


def test_screen_is_a_page_view_on_the_app_channel(client):
    key = tracking_source_create(name="ios-app", channel="app").write_key

    client.post(
        "/v1/screen", json.dumps(message(name="Basket")), content_type="application/json", HTTP_AUTHORIZATION=basic(key)
    )

    (event,) = events("page.viewed")
    assert (event.channel, event.data["title"]) == ("app", "Basket")


def test_the_command_prints_the_key_alone_on_its_last_line_and_revokes(send):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("tracking_source", "pos", "--channel", "store", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    ok = send("/v1/track", message(event="Till Opened"), key=key)
    assert ok.status_code == 200
    assert events("custom.event")[0].channel == "store"

    call_command("tracking_source", "pos", "--revoke", stdout=StringIO())

    refused = send("/v1/track", message(event="Till Opened"), key=key)
    assert refused.status_code == 401
    assert TrackingSource.objects.get(name="pos").key_hash != key  # only the hash is kept


def test_the_same_message_id_from_two_sources_is_two_events(send, client):
    app_key = tracking_source_create(name="app", channel="app").write_key
    body = message(event="Opened", messageId="same-id")

    send("/v1/track", body)
    send("/v1/track", body, key=app_key)

    assert sorted(event.channel for event in events("custom.event")) == ["app", "web"]


def test_events_today_and_last_seen_are_counted_per_source(send):
    send("/v1/batch", {"batch": [message(type="track", event=f"E{n}") for n in range(3)]})

    source = TrackingSource.objects.get()
    assert (source.events_today, source.events_total) == (3, 3)
    assert source.last_seen_at is not None


def test_a_nul_character_or_absurd_nesting_is_400_and_writes_nothing(send):
    nul = send("/v1/track", message(event="Product Viewed", properties={"sku": "A", "url": "/p\u0000"}))
    deep = send(
        "/v1/track", None, raw=b'{"event": "X", "userId": "u", "properties": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    )

    assert (nul.status_code, deep.status_code) == (400, 400)
    assert nul.json()["success"] is False
    assert deep.json()["code"] == "invalid_json"
    assert Event.objects.count() == 0


def test_a_nul_character_in_an_id_is_400_naming_it(send):
    response = send("/v1/page", message(anonymousId="a\u0000b"))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "anonymousId", "message": "contains a NUL character (U+0000)", "code": "null_character"}
    ]
    assert Event.objects.count() == 0


def test_a_nul_character_in_an_id_leaves_that_message_of_a_batch_out_naming_it(send):
    response = send("/v1/batch", {"batch": [message(type="page"), message(type="page", anonymousId="a\u0000b")]})

    assert response.status_code == 200
    assert response.json()["refused"] == [
        {
            "index": 1,
            "errors": [
                {
                    "field": "batch.1.anonymousId",
                    "message": "contains a NUL character (U+0000)",
                    "code": "null_character",
                }
            ],
        }
    ]
    assert len(events("page.viewed")) == 1
    assert DeadLetter.objects.get().code == "null_character"
