"""Products and locations through the API: created as events, idempotent, refusals that name the field."""

import pytest

from backoffice.eventstore.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_client_for):
    return api_client_for("integration")


def _posted_again_then_changed(client, path, body, change):
    """The responses to `body` posted, posted again, then posted with `change`."""
    return [client.post(path, sent, format="json") for sent in (body, body, body | change)]


def test_a_product_is_created_then_only_what_changed_is_recorded(client):
    body = {"sku": "GOR-LAN-GRI-U", "name": "Gorro de lana gris", "category": "accesorios", "price": "15.90"}

    created, same, cheaper = _posted_again_then_changed(client, "/api/v1/products", body, {"price": "12.90"})

    assert (created.status_code, same.status_code, cheaper.status_code) == (201, 200, 200)
    assert cheaper.json()["price"] == "12.90"
    events = list(Event.objects.filter(stream="product-GOR-LAN-GRI-U").order_by("position"))
    assert [e.type for e in events] == ["product.created", "product.updated"]
    assert events[1].data["price"] == "12.90"
    assert events[1].data["name"] is None  # unchanged
    listed = client.get("/api/v1/products").json()["results"]
    assert [(p["sku"], p["price"], p["active"]) for p in listed] == [("GOR-LAN-GRI-U", "12.90", True)]


def test_a_location_is_created_once_and_other_values_for_its_code_are_a_409(client):
    body = {"code": "ZAZ-01", "name": "Zaragoza Independencia", "kind": "store", "city": "Zaragoza"}

    created, again, other = _posted_again_then_changed(client, "/api/v1/locations", body, {"name": "Otra"})

    assert (created.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert other.json()["errors"][0]["field"] == "code"
    assert client.get("/api/v1/locations", {"kind": "store"}).json()["results"][0]["code"] == "ZAZ-01"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/products", {"sku": "has space", "name": "x", "price": "1.00"}, "sku"),
        ("/api/v1/products", {"sku": "A-1", "name": "x", "price": "-1.00"}, "price"),
        ("/api/v1/locations", {"code": "X-1", "name": "x", "kind": "kiosk"}, "kind"),
        ("/api/v1/locations", {"code": "X-1", "name": "x", "kind": "store", "timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_bad_catalog_input_is_a_400_naming_the_field_and_writes_nothing(client, path, body, field):
    response = client.post(path, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert not Event.objects.exists()


def test_marketing_reads_the_catalog_but_cannot_change_it(api_client_for):
    marketing = api_client_for("marketing")

    assert marketing.get("/api/v1/products").status_code == 200
    assert marketing.post("/api/v1/products", {}, format="json").status_code == 403
