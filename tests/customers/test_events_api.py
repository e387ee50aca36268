"""POST /api/v1/events and GET /api/v1/events, as DESIGN.md section 7 states them."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from customers.models import Customer, CustomerIdentifier
from tests.factories import interaction

pytestmark = pytest.mark.django_db
URL = "/api/v1/events"


@pytest.fixture
def client(api_client_for):
    return api_client_for("integration")


def _post(client, body):
    return client.post(URL, body, format="json")


def test_one_interaction_is_stored_and_answered_with_its_position_and_customer(client):
    item = interaction()

    response = _post(client, item)

    assert response.status_code == 201
    (result,) = response.json()["results"]
    assert result["id"] == item["id"]
    assert result["duplicate"] is False
    assert result["stream"] == "cart-c-881"
    assert result["version"] == 1
    stored = Event.objects.get(id=item["id"])
    assert stored.position == result["position"]
    assert str(stored.customer_id) == result["customer_id"]
    assert stored.channel == "web"
    assert stored.type == "cart.item_added"


def test_a_batch_is_stored_whole_and_answers_in_order(client):
    items = [interaction(channel=c, id=str(uuid.uuid4())) for c in ("web", "app", "store")]

    response = _post(client, {"events": items})

    assert response.status_code == 201
    assert [r["id"] for r in response.json()["results"]] == [i["id"] for i in items]
    assert Event.objects.filter(type="cart.item_added").count() == 3


def test_resending_the_same_batch_writes_nothing_and_says_duplicate(client):
    items = [interaction(id=str(uuid.uuid4())), interaction(id=str(uuid.uuid4()), channel="app")]
    first = _post(client, {"events": items}).json()["results"]
    count = Event.objects.count()

    again = _post(client, {"events": items})

    assert again.status_code == 200
    assert [r["duplicate"] for r in again.json()["results"]] == [True, True]
    assert [r["position"] for r in again.json()["results"]] == [r["position"] for r in first]
    assert Event.objects.count() == count


def test_the_same_id_with_other_content_is_a_409(client):
    item = interaction()
    _post(client, item)

    response = _post(client, {**item, "data": {**item["data"], "quantity": 2}})

    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency_conflict")
    assert response.json()["event_ids"] == [item["id"]]


def test_identifiers_spelt_differently_resolve_to_one_customer(client):
    _post(client, interaction(customer={"email": "Ana@Example.ES"}))
    _post(client, interaction(id=str(uuid.uuid4()), customer={"email": " ana@example.es", "phone": "600 111 222"}))
    response = _post(client, interaction(id=str(uuid.uuid4()), customer={"phone": "+34 600 11 12 22"}))

    assert Customer.objects.count() == 1
    assert response.json()["results"][0]["customer_id"] == str(Customer.objects.get().id)
    assert set(CustomerIdentifier.objects.values_list("key", flat=True)) == {
        "email:ana@example.es",
        "phone:+34600111222",
    }


def test_anonymous_activity_is_stitched_when_the_visitor_identifies(client):
    anonymous = _post(
        client, interaction(type="page.viewed", customer={"anonymous_id": "web-1"}, data={"url": "/es/ofertas"})
    )
    identified = _post(client, interaction(id=str(uuid.uuid4()), customer={"anonymous_id": "web-1", "email": "l@x.es"}))

    customer_id = anonymous.json()["results"][0]["customer_id"]
    assert identified.json()["results"][0]["customer_id"] == customer_id
    assert Event.objects.filter(customer_id=customer_id, type="customer.identifier_added").count() == 1


def test_concurrent_edits_of_one_cart_over_the_api_the_second_is_a_409(client):
    first = _post(client, interaction(expected_version=0))
    assert first.status_code == 201

    till = _post(client, interaction(id=str(uuid.uuid4()), expected_version=1))
    app = _post(client, interaction(id=str(uuid.uuid4()), channel="app", expected_version=1))

    assert till.status_code == 201
    assert app.status_code == 409
    body = app.json()
    assert body["type"].endswith("/concurrency_conflict")
    assert (body["stream"], body["expected_version"], body["actual_version"]) == ("cart-c-881", 1, 2)


def _errors(response):
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.mark.parametrize(
    ("bad_item", "field", "code"),
    [
        ({"type": "order.placed"}, "events.1.type", "value_error"),
        ({"type": "no.such"}, "events.1.type", "value_error"),
        ({"channel": "fax"}, "events.1.channel", "value_error"),
        ({"occurred_at": "2026-11-20T10:00:00"}, "events.1.occurred_at", "timezone_aware"),
        ({"occurred_at": "yesterday"}, "events.1.occurred_at", "datetime_from_date_parsing"),
        ({"customer": {"email": "not-an-email"}}, "events.1.customer.email", "invalid_identifier"),
        ({"customer": {"phone": "12"}}, "events.1.customer.phone", "invalid_identifier"),
        ({"customer": {}}, "events.1.customer", "required"),
        ({"id": "not-a-uuid"}, "events.1.id", "uuid_parsing"),
        (
            {"data": {"cart_id": "c-1", "sku": "X", "quantity": 0, "unit_price": "1.00"}},
            "events.1.data.quantity",
            "greater_than",
        ),
        (
            {"data": {"cart_id": "c-1", "sku": "X", "quantity": 1, "unit_price": "1.001"}},
            "events.1.data.unit_price",
            "decimal_max_places",
        ),
        ({"surprise": 1}, "events.1.surprise", "extra_forbidden"),
        (
            {"type": "custom.event", "data": {"name": "x", "properties": {"n": [1, 10**30]}}},
            "events.1.data.properties.n.1",
            "out_of_range",
        ),
        (
            {"type": "customer.identified", "data": {"traits": {"n": -(10**30)}}},
            "events.1.data.traits.n",
            "out_of_range",
        ),
    ],
)
def test_a_batch_with_one_bad_item_is_refused_whole_naming_the_field(client, bad_item, field, code):
    items = [interaction(), interaction(**{"id": str(uuid.uuid4()), **bad_item})]

    response = _post(client, {"events": items})

    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["status"] == 400
    assert body["type"].endswith("/validation_error")
    assert _errors(response) == [(field, code)]
    assert Event.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("first_already_stored", [False, True], ids=["new_batch", "retried_batch"])
def test_an_unknown_customer_id_is_refused_naming_its_item_in_the_request(client, first_already_stored):
    first = interaction()
    if first_already_stored:  # a client resending a half-sent batch
        assert _post(client, first).status_code == 201
    count = Event.objects.count()
    unknown = interaction(id=str(uuid.uuid4()), customer={"id": str(uuid.UUID(int=5))})

    response = _post(client, {"events": [first, unknown]})

    assert response.status_code == 400
    assert _errors(response) == [("events.1.customer.id", "not_found")]
    assert Event.objects.count() == count


def test_every_bad_item_of_a_batch_is_listed(client):
    items = [interaction(channel="fax"), interaction(id=str(uuid.uuid4())), interaction(id="x", channel="web")]

    response = _post(client, {"events": items})

    assert [f for f, _ in _errors(response)] == ["events.0.channel", "events.2.id"]


def test_a_timestamp_far_in_the_future_is_refused(client):
    future = (timezone.now() + timedelta(days=2)).isoformat()

    response = _post(client, interaction(occurred_at=future))

    assert response.status_code == 400
    assert _errors(response) == [("occurred_at", "future_datetime")]
    assert Event.objects.count() == 0


def test_an_oversized_event_is_refused(client):
    item = interaction(type="review.posted", data={"rating": 5, "text": "x" * 3900, "sku": "A"})
    item["metadata"] = {}
    big = interaction(type="message.received", data={"text": "y" * 40_000})

    assert _post(client, item).status_code == 201
    response = _post(client, big)

    assert response.status_code == 400
    assert _errors(response) == [("data.text", "string_too_long")]


def test_an_event_over_the_store_byte_limit_is_refused(client, settings):
    settings.EVENTSTORE_MAX_EVENT_BYTES = 2000

    response = _post(client, interaction(type="message.received", data={"text": "ñ" * 1500}))

    assert response.status_code == 400
    assert _errors(response) == [("data", "too_large")]


def test_malformed_json_is_a_400(client):
    response = client.post(URL, data='{"events": [', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["type"].endswith("/malformed_request")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"events": []}, "events"), ({"events": "x"}, "events"), ([1, 2], ""), ({"events": [{}], "more": 1}, "more")],
)
def test_a_body_of_the_wrong_shape_is_a_400(client, body, field):
    response = client.post(URL, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_more_than_1000_events_in_a_batch_is_refused(client):
    items = [interaction(id=str(uuid.uuid4())) for _ in range(1001)]

    response = _post(client, {"events": items})

    assert response.status_code == 400
    assert _errors(response) == [("events", "too_many")]
    assert Event.objects.count() == 0


def test_a_body_over_the_size_limit_is_a_413(client, settings):
    settings.EVENTSTORE_MAX_BATCH = 1
    settings.EVENTSTORE_MAX_EVENT_BYTES = 100

    response = _post(
        client,
        interaction(
            data={"cart_id": "c" * 40, "sku": "x" * 60, "quantity": 1, "unit_price": "1"} | {"pad": "z" * 70_000}
        ),
    )

    assert response.status_code == 413
    assert Event.objects.count() == 0


def test_the_log_is_read_in_order_after_a_position(client):
    items = [interaction(id=str(uuid.uuid4()), channel=c) for c in ("web", "app", "store", "phone")]
    _post(client, {"events": items})
    positions = list(Event.objects.values_list("position", flat=True).order_by("position"))

    page = client.get(URL, {"after": positions[0], "limit": 2}).json()

    assert [e["position"] for e in page["results"]] == positions[1:3]
    # Then in commit order: the cursor is the last event's transaction and position (transaction 0 on SQLite), and
    # the links keep `after`.
    last = Event.objects.get(position=positions[2])
    assert page["next"].endswith(f"?after={positions[0]}&cursor={last.transaction_id}.{positions[2]}&limit=2")
    assert page["resume"] == page["next"]
    rest = client.get(page["next"]).json()
    assert [e["position"] for e in rest["results"]] == positions[3:5]

    # The last page has no `next`, but where to resume later; what commits meanwhile is read from there.
    end = client.get(rest["next"]).json() if rest["next"] else rest
    assert end["next"] is None
    _post(client, interaction(id=str(uuid.uuid4())))
    later = client.get(end["resume"]).json()
    assert [e["position"] for e in later["results"]] == [max(Event.objects.values_list("position", flat=True))]


@pytest.mark.parametrize("query", [{"after": "x"}, {"after": -1}, {"limit": 0}, {"limit": 5000}])
def test_bad_paging_parameters_are_a_400(client, query):
    response = client.get(URL, query)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] in query


def test_an_item_that_brings_several_new_identifiers_answers_with_its_own_result(client):
    _post(client, interaction(customer={"email": "ana@example.es"}))
    item = interaction(
        id=str(uuid.uuid4()), customer={"email": "ana@example.es", "phone": "600111222", "anonymous_id": "app-9"}
    )

    response = _post(client, {"events": [item, interaction(id=str(uuid.uuid4()), customer={"anonymous_id": "app-9"})]})

    results = response.json()["results"]
    assert [r["id"] for r in results] == [item["id"], results[1]["id"]]
    assert len(results) == 2
    assert Event.objects.get(id=item["id"]).position == results[0]["position"]
    assert len({r["customer_id"] for r in results}) == 1


def test_a_retry_with_other_trace_metadata_is_still_a_duplicate(client):
    item = interaction(metadata={"trace_id": "a"})
    _post(client, item)

    response = _post(client, {**item, "metadata": {"trace_id": "b"}})

    assert response.status_code == 200
    assert response.json()["results"][0]["duplicate"] is True


# The same instant written with another offset is the same content: a retry that renders its time in UTC, or in the
# sender's zone, is a duplicate, not a conflict.
IN_MADRID, IN_UTC = "2026-11-20T10:00:00+01:00", "2026-11-20T09:00:00Z"


@pytest.mark.parametrize(
    ("first", "again"), [(IN_MADRID, IN_UTC), (IN_UTC, IN_MADRID)], ids=["then-utc", "then-offset"]
)
def test_a_resend_with_the_same_instant_in_another_offset_is_a_duplicate(client, first, again):
    item = interaction(occurred_at=first)
    stored = _post(client, item).json()["results"][0]
    count = Event.objects.count()

    response = _post(client, {**item, "occurred_at": again})

    assert response.status_code == 200, response.json()
    assert response.json()["results"][0]["duplicate"] is True
    assert response.json()["results"][0]["position"] == stored["position"]
    assert Event.objects.count() == count


def test_a_resend_with_another_instant_is_still_a_409(client):
    item = interaction(occurred_at=IN_MADRID)
    _post(client, item)

    response = _post(client, {**item, "occurred_at": "2026-11-20T10:00:00Z"})  # the same wall clock, an hour later

    assert response.status_code == 409
    assert response.json()["type"].endswith("/idempotency_conflict")


def test_an_event_stored_with_its_time_digested_as_written_accepts_its_resend_in_any_offset(client, monkeypatch):
    """Events stored before occurred_at was digested in UTC keep their digest of the time as the sender wrote it."""
    from backoffice.eventstore import store
    from customers.services import ingestion

    item = interaction(occurred_at="2026-11-20T14:45:00.250000+05:45")
    with monkeypatch.context() as before_the_fix:
        before_the_fix.setattr(
            ingestion,
            "_interaction_digest",
            lambda item, stored: store.content_digest(item.model_dump(mode="json", exclude={"metadata"})),
        )
        assert _post(client, item).status_code == 201
    count = Event.objects.count()

    exact = _post(client, item)
    in_utc = _post(client, {**item, "occurred_at": "2026-11-20T09:00:00.25Z"})
    other = _post(client, {**item, "occurred_at": "2026-11-20T09:00:00.25Z", "data": {**item["data"], "quantity": 2}})

    assert (exact.status_code, in_utc.status_code) == (200, 200), (exact.json(), in_utc.json())
    assert [r.json()["results"][0]["duplicate"] for r in (exact, in_utc)] == [True, True]
    assert other.status_code == 409
    assert Event.objects.count() == count


def test_personal_data_about_an_erased_customer_is_a_409(client):
    from backoffice.eventstore.keys import customer_key_destroy

    customer_id = _post(client, interaction()).json()["results"][0]["customer_id"]
    customer_key_destroy(customer_id=uuid.UUID(customer_id))
    count = Event.objects.count()

    response = _post(
        client,
        interaction(
            id=str(uuid.uuid4()), type="search.performed", customer={"id": customer_id}, data={"query": "vestido rojo"}
        ),
    )

    assert response.status_code == 409
    assert response.json()["type"].endswith("/customer_erased")
    assert Event.objects.count() == count


def test_free_form_metadata_is_refused_so_no_personal_data_hides_in_clear(client):
    response = _post(client, interaction(metadata={"trace_id": "t-1", "customer_name": "Ana García"}))

    assert response.status_code == 400
    assert _errors(response) == [("metadata.customer_name", "extra_forbidden")]
    assert Event.objects.count() == 0
