"""A small chain: two stores and a warehouse, a few products, and a customer, all made through the services."""

from decimal import Decimal

import pytest

from customers.services.ingestion import customer_register
from orders import services

LOCATIONS = (
    ("MAD-01", "Madrid Gran Vía", "store", "Madrid"),
    ("VLC-01", "Valencia Colón", "store", "Valencia"),
    ("WH-ZGZ", "Almacén Zaragoza", "warehouse", "Zaragoza"),
)
PRODUCTS = (
    ("CAM-ALG-BLA-M", "Camiseta algodón blanca M", "camisetas", "19.90"),
    ("PAN-VAQ-SLI-40", "Vaquero slim azul 40", "pantalones", "49.90"),
    ("ZAP-RUN-BLA-42", "Zapatillas running blancas 42", "calzado", "69.90"),
)


@pytest.fixture
def chain(db):
    for code, name, kind, city in LOCATIONS:
        services.location_create(code=code, name=name, kind=kind, city=city, actor="test")
    for sku, name, category, price in PRODUCTS:
        services.product_save(sku=sku, name=name, category=category, price=Decimal(price), actor="test")
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
