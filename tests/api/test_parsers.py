"""JSON bodies are parsed with limits: a body nested too deep is a 400 (never RecursionError's 500), and U+0000 is
refused with the field named, on every JSON endpoint, before anything is written."""

import json

import pytest

from backoffice.api.parsers import JSONTooDeep, loads_bounded
from backoffice.eventstore.models import Event
from customers.models import Customer
from tests.factories import interaction

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000  # 2 KB, the outside tester's body


@pytest.mark.parametrize(
    "path",
    ["/api/v1/events", "/api/v1/orders", "/api/v1/customers", "/api/v1/customers/search", "/api/v1/campaigns"],
)
def test_a_body_nested_a_thousand_deep_is_a_400_on_every_json_endpoint(api_client_for, path):
    client = api_client_for("admin")

    response = client.generic("POST", path, DEEP, content_type="application/json")

    assert response.status_code == 400, response.content[:200]
    body = response.json()
    assert body["type"].endswith("/malformed_request")
    assert "deeper than" in body["detail"]
    assert Event.objects.count() == 0


def test_a_deep_value_inside_an_event_is_refused_too(api_client_for):
    nested: object = "x"
    for _ in range(200):
        nested = {"a": nested}
    item = interaction(data={"cart_id": "c-1", "sku": "S", "quantity": 1, "unit_price": "1.00", "extra": nested})

    response = api_client_for("integration").post("/api/v1/events", item, format="json")

    assert response.status_code == 400
    assert Event.objects.count() == 0


def test_bodies_as_deep_as_the_api_needs_still_parse():
    body = {"events": [{"customer": {"external_id": {"system": "pos", "id": "1"}}, "data": {"lines": [{"a": [1]}]}}]}

    assert loads_bounded(json.dumps(body)) == body


def test_brackets_inside_strings_do_not_count_as_depth():
    text = json.dumps({"note": "[" * 5000})

    assert loads_bounded(text, max_depth=3) == {"note": "[" * 5000}
    with pytest.raises(JSONTooDeep):
        loads_bounded("[[[[1]]]]", max_depth=3)


def test_nan_is_not_json():
    with pytest.raises(ValueError, match="NaN"):
        loads_bounded('{"amount": NaN}')


def test_a_nul_character_in_event_data_is_refused_with_the_field_named(api_client_for):
    item = interaction(data={"cart_id": "c-\u00001", "sku": "S", "quantity": 1, "unit_price": "1.00"})

    response = api_client_for("integration").post("/api/v1/events", item, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "data.cart_id"
    assert response.json()["errors"][0]["code"] == "null_character"
    assert Event.objects.count() == 0


def test_a_nul_character_in_a_customer_email_or_name_is_refused(api_client_for):
    client = api_client_for("integration")

    by_email = client.post("/api/v1/customers", {"customer": {"email": "ana\u0000@example.es"}, "channel": "web"})
    by_name = client.post(
        "/api/v1/customers", {"customer": {"email": "ana@example.es", "name": "Ana\u0000"}, "channel": "web"}
    )

    assert by_email.status_code == 400
    assert by_email.json()["errors"][0]["field"] == "customer.email"
    assert by_name.status_code == 400
    assert by_name.json()["errors"][0]["field"] == "customer.name"
    assert Customer.objects.count() == 0
    assert Event.objects.count() == 0


def test_the_store_refuses_nul_characters_from_any_caller_not_only_the_api(thing_type_registered):
    from backoffice.eventstore import store
    from backoffice.eventstore.errors import EventValidationError

    with pytest.raises(EventValidationError) as refused:
        store.append("thing-1", [store.NewEvent("test.thing_happened", {"label": "a\u0000b"}, channel="web")])

    assert [(e.field, e.code) for e in refused.value.errors] == [("data.label", "null_character")]
    assert Event.objects.count() == 0


@pytest.fixture
def thing_type_registered():
    from tests.eventstore import sample_events  # noqa: F401 - registers test.thing_happened


def test_the_segment_editor_preview_refuses_deep_rules_with_a_400(login):
    client = login("marketing")

    response = client.get("/admin/campaigns/segment/preview/", {"rules": DEEP})

    assert response.status_code == 400
