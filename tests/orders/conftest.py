"""A small chain: two stores and a warehouse, a few products, and a customer, all made through the services."""

import pytest

from customers.services.ingestion import customer_register
from orders import services
from tests.orders.chain import LOCATIONS, PRODUCTS, chain_create


@pytest.fixture
def chain(db):
    chain_create()
    return {"locations": [loc[0] for loc in LOCATIONS], "skus": [p[0] for p in PRODUCTS]}


@pytest.fixture
def receive(chain):
    def make(sku: str, location: str, quantity: int):
        return services.stock_move(sku=sku, location=location, kind="received", quantity=quantity, actor="test")

    return make


@pytest.fixture
def customer_id(db):
    customer, _ = customer_register(
        customer={"email": "ana@example.es", "phone": "+34600111222"}, channel="app", actor="test"
    )
    return customer


def level(sku: str, location: str) -> dict:
    from orders import selectors

    (row,) = selectors.stock_levels(sku=sku, location=location)
    return {key: row[key] for key in ("on_hand", "reserved", "available")}
