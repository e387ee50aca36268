"""GET /api/v1/products?active=: the filter reads the product's `is_active` (it answered 500 before, found by the
fuzzer), and a value that is not a boolean is a 400 naming the parameter."""

import pytest

from orders import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    from decimal import Decimal

    services.product_save(sku="ON-1", name="On sale", category="", price=Decimal("1.00"), is_active=True, actor="t")
    services.product_save(sku="OFF-1", name="Withdrawn", category="", price=Decimal("1.00"), is_active=False, actor="t")


def test_active_lists_only_the_products_on_sale(api_client_for, catalog):
    client = api_client_for("admin")

    active = client.get("/api/v1/products?active=true")
    withdrawn = client.get("/api/v1/products?active=false")

    assert [p["sku"] for p in active.json()["results"]] == ["ON-1"]
    assert [p["sku"] for p in withdrawn.json()["results"]] == ["OFF-1"]


def test_active_that_is_not_a_boolean_is_a_400_naming_it(api_client_for, catalog):
    response = api_client_for("admin").get("/api/v1/products?active=maybe")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "active"
