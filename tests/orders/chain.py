"""The small chain that the orders tests and the staff pages run on: two stores and a warehouse, a few products."""

from decimal import Decimal

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


def chain_create(products=PRODUCTS) -> None:
    """The locations and `products`, made through the orders services."""
    for code, name, kind, city in LOCATIONS:
        services.location_create(code=code, name=name, kind=kind, city=city, actor="test")
    for sku, name, category, price in products:
        services.product_save(sku=sku, name=name, category=category, price=Decimal(price), actor="test")
