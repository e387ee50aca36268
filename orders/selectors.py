"""Reads of the orders app, for views, the admin and other apps."""

import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, QuerySet, Sum, Value, When
from django.db.models.functions import Greatest, Length, Upper

from backoffice.eventstore import store
from backoffice.eventstore.vocabulary import FulfilmentMethod

from .models import Cart, CartStatus, Location, LocationKind, Order, OrderLine, OrderStatus, Product, StockLevel


class UnknownReference(LookupError):
    def __init__(self, field: str, value: str):
        self.field, self.value = field, value
        super().__init__(f"unknown {field} {value!r}")


def product_list(*, category: str | None = None, after: str = "", limit: int = 100) -> list[Product]:
    products = Product.objects.filter(sku__gt=after).order_by("sku")
    if category:
        products = products.filter(category=category)
    return list(products[:limit])


def products_all() -> QuerySet[Product]:
    """Every product, for a list to filter and page."""
    return Product.objects.all()


def locations_all() -> QuerySet[Location]:
    """Every location, for a list to filter and page."""
    return Location.objects.all()


def location_list(*, kind: str | None = None) -> list[Location]:
    locations = Location.objects.order_by("code")
    return list(locations.filter(kind=kind) if kind else locations)


def stock_levels(
    *, sku: str | None = None, location: str | None = None, after: tuple[str, str] | None = None, limit: int = 200
) -> list[dict]:
    """Live stock per (sku, location): on_hand, reserved, available. With a sku, every location (zeros where there
    is none); with a location, every sku held there; with both, that one pair. Raises UnknownReference.

    Plain rows, not model instances: the counter's "do you have it in Valencia?" reads 50 locations at a time."""
    locations = {
        code: (name, kind, city)
        for code, name, kind, city in Location.objects.values_list("code", "name", "kind", "city")
    }
    if sku is not None and not Product.objects.filter(sku=sku).exists():
        raise UnknownReference("sku", sku)
    if location is not None and location not in locations:
        raise UnknownReference("location", location)
    rows = StockLevel.objects.all()
    if sku is not None:
        rows = rows.filter(sku=sku)
    if location is not None:
        rows = rows.filter(location_code=location)
    if sku is None and after is not None:
        rows = rows.filter(sku__gt=after[0]) | rows.filter(sku=after[0], location_code__gt=after[1])
    columns = ("sku", "location_code", "on_hand", "reserved", "version", "updated_at")
    found = {(r[0], r[1]): r for r in rows.order_by("sku", "location_code").values_list(*columns)[: limit + 1]}
    if sku is not None:
        # A location that never held the sku answers zero: "do you have it in Valencia?" deserves a no.
        codes = [location] if location else sorted(locations)
        return [_level(sku, code, found.get((sku, code)), locations[code]) for code in codes]
    return [_level(s, code, row, locations.get(code)) for (s, code), row in found.items()]


def _level(sku: str, code: str, row: tuple | None, location: tuple | None) -> dict:
    on_hand, reserved, version, updated_at = row[2:] if row else (0, 0, 0, None)
    name, kind, city = location or ("", "", "")
    return {
        "sku": sku,
        "location": code,
        "location_name": name,
        "kind": kind,
        "city": city,
        "on_hand": on_hand,
        "reserved": reserved,
        "available": max(on_hand - reserved, 0),
        # Folded inline, in the transaction of each movement: what is shown is the ledger as of now.
        "live": True,
        "version": version,
        "updated_at": updated_at.isoformat() if updated_at else None,
    }


def order_get(*, order_id: str) -> Order | None:
    return Order.objects.prefetch_related("lines").filter(id=order_id).first()


def orders_with_id_in_any_case(*, order_id: str, limit: int = 20) -> list[Order]:
    """Orders whose id is `order_id` whatever its case ("demo-00142" for DEMO-00142): an id typed by hand."""
    return list(Order.objects.annotate(id_upper=Upper("id")).filter(id_upper=order_id.upper()).order_by("id")[:limit])


def order_ids_held(*, order_ids: Iterable[str]) -> set[str]:
    """Which of these ids are orders this app holds (one query): the ones a page may link to. Other systems' order
    numbers (a shop's "2026/000123" in a checkout) are not."""
    wanted = {str(order_id) for order_id in order_ids if order_id}
    if not wanted:
        return set()
    return set(Order.objects.filter(id__in=wanted).values_list("id", flat=True))


def order_history(*, order_id: str) -> list[store.RecordedEvent]:
    """Every step of the order, oldest first, from its stream."""
    return store.read_stream(f"order-{order_id}")


def orders_of_customer(*, customer_id: uuid.UUID, limit: int = 50) -> list[Order]:
    return list(Order.objects.filter(customer_id=customer_id).order_by("-placed_at")[:limit])


def carts_open(*, customer_id: uuid.UUID | None = None) -> list[Cart]:
    carts = Cart.objects.filter(status=CartStatus.OPEN)
    if customer_id is not None:
        carts = carts.filter(customer_id=customer_id)
    return list(carts.order_by("-last_activity_at"))


def product_search(*, query: str, limit: int = 20) -> list[Product]:
    """Products whose sku or name contains the query (the counter types either), exact sku first."""
    from django.db.models import Q

    found = Product.objects.filter(Q(sku__iexact=query) | Q(sku__icontains=query) | Q(name__icontains=query))
    return sorted(found.order_by("sku")[:limit], key=lambda p: p.sku.lower() != query.lower())


def availability_by_sku(*, skus, location: str | None = None) -> dict[str, tuple[int, int | None]]:
    """{sku: (units available in every location, units available at `location` or None without one)}: what a list of
    products shows before the counter opens one of them. Available as in stock_levels: on hand less reserved, never
    below zero per location (an oversold location counts nothing, not minus what it owes)."""
    available = Greatest(F("on_hand") - F("reserved"), Value(0))
    here = Case(When(location_code=location, then=available), default=Value(0), output_field=IntegerField())
    rows = (
        StockLevel.objects.filter(sku__in=set(skus))
        .values("sku")
        .annotate(total=Sum(available), here=Sum(here))
        .values_list("sku", "total", "here")
    )
    found = {sku: (total or 0, (here or 0) if location else None) for sku, total, here in rows}
    return {sku: found.get(sku, (0, 0 if location else None)) for sku in skus}


def products_by_sku(*, skus) -> dict[str, Product]:
    return {product.sku: product for product in Product.objects.filter(sku__in=set(skus))}


def location_get(*, code: str) -> Location | None:
    return Location.objects.filter(code=code).first()


def orders_for_pickup(*, location: str, limit: int = 200) -> list[Order]:
    """Pickup orders at a store not yet collected or cancelled (placed, paid, ready), oldest first."""
    statuses = (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.READY)
    orders = Order.objects.filter(
        fulfilment_method=FulfilmentMethod.PICKUP, fulfilment_location=location, status__in=statuses
    )
    return list(orders.prefetch_related("lines").order_by("placed_at")[:limit])


def orders_of_customers(*, customer_ids, limit: int = 50) -> list[Order]:
    return list(Order.objects.filter(customer_id__in=list(customer_ids)).order_by("-placed_at")[:limit])


def cart_quantities(*, cart_id: str) -> dict[str, int]:
    """{sku: quantity} in the cart as its projection stands (empty for an unknown cart)."""
    cart = Cart.objects.filter(cart_id=cart_id).only("items").first()
    return {sku: item["quantity"] for sku, item in (cart.items if cart else {}).items()}


# What people bought, for other apps' reads (segments, personalisation, demo): the orders' rows stay behind these
# functions (an import-linter contract forbids other apps to import orders' models: pyproject.toml). Querysets and
# subquery expressions are returned where the caller composes them into a query of its own.


def order_count() -> int:
    return Order.objects.count()


def active_products() -> dict[str, Product]:
    return {p.sku: p for p in Product.objects.filter(is_active=True)}


def longest_active_product_name() -> str:
    names = Product.objects.filter(is_active=True).annotate(n=Length("name")).order_by("-n").values_list("name")
    first = names.first()
    return first[0] if first else ""


def stores() -> dict[str, Location]:
    return {loc.code: loc for loc in Location.objects.filter(kind=LocationKind.STORE)}


def store_skus_with_stock(*, free_at_least: int) -> list[tuple[str, str]]:
    """(store code, sku) of every store's stock level with at least `free_at_least` units not reserved."""
    return list(
        StockLevel.objects.filter(
            on_hand__gte=F("reserved") + free_at_least,
            location_code__in=Location.objects.filter(kind=LocationKind.STORE).values("code"),
        )
        .values_list("location_code", "sku")
        .order_by("location_code", "sku")
    )


def bought_skus(*, customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """The skus each customer bought (orders not cancelled)."""
    bought: dict[uuid.UUID, set[str]] = defaultdict(set)
    # Their orders, then those orders' lines, each read by its own index: a join of lines to orders read every order.
    orders = dict(
        Order.objects.filter(customer_id__in=list(customer_ids))
        .exclude(status=OrderStatus.CANCELLED)
        .values_list("id", "customer_id")
    )
    if orders:
        for order_id, sku in OrderLine.objects.filter(order_id__in=list(orders)).values_list("order_id", "sku"):
            bought[orders[order_id]].add(sku)
    return bought


def co_purchases() -> list[tuple[str, str, int]]:
    """(sku, other sku, in how many orders both were bought) over every order not cancelled: one grouped query."""
    line, order = OrderLine._meta.db_table, Order._meta.db_table
    sql = (
        f"SELECT a.sku, b.sku, COUNT(DISTINCT a.order_id) FROM {line} a "  # noqa: S608 - table names, no input
        f"JOIN {line} b ON b.order_id = a.order_id AND b.sku <> a.sku "
        f"JOIN {order} o ON o.id = a.order_id "
        f"WHERE o.status <> %s GROUP BY a.sku, b.sku"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [OrderStatus.CANCELLED])
        return cursor.fetchall()


def best_selling_skus(*, limit: int = 50) -> list[str]:
    """Skus by lines sold (orders not cancelled), most first."""
    return [
        sku
        for sku, _n in OrderLine.objects.exclude(order__status=OrderStatus.CANCELLED)
        .values_list("sku")
        .annotate(n=Count("id"))
        .order_by("-n", "sku")[:limit]
    ]


def store_lines_per_customer(*, customer_ids: Iterable[uuid.UUID], store_codes) -> list[tuple[uuid.UUID, str, int]]:
    """(customer id, store code, lines bought there) for these customers' orders not cancelled."""
    return list(
        OrderLine.objects.filter(order__customer_id__in=list(customer_ids), location_code__in=list(store_codes))
        .exclude(order__status=OrderStatus.CANCELLED)
        .values_list("order__customer_id", "location_code")
        .annotate(n=Count("id"))
    )


def customer_bought(**line_filters) -> Exists:
    """For a query over customers: whether the customer (OuterRef "id") bought a line matching `line_filters` in an
    order not cancelled."""
    lines = OrderLine.objects.filter(order__customer_id=OuterRef("id"), **line_filters)
    return Exists(lines.exclude(order__status=OrderStatus.CANCELLED))


def skus_in_category(*, category: str) -> QuerySet:
    """The skus of a category, as a subquery."""
    return Product.objects.filter(category=category).values("sku")


def location_codes_in_city(*, city: str) -> QuerySet:
    """The codes of the locations in a city (case-insensitive), as a subquery."""
    return Location.objects.filter(city__iexact=city).values("code")
