"""What a variant says to one customer: first name, the city and store where they buy, and a recommended product
(bought together with theirs by other customers, never one they already bought). Computed for a whole batch of
customers in a few grouped queries."""

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Count
from django.utils import translation
from django.utils.translation import gettext as _

from customers.models import Customer
from orders.models import Location, LocationKind, Order, OrderLine, OrderStatus, Product

from .worksheet import MAX_CITY, MAX_NAME, MAX_STORE


def _lines(customer_ids: Iterable[uuid.UUID]):
    return OrderLine.objects.filter(order__customer_id__in=list(customer_ids)).exclude(
        order__status=OrderStatus.CANCELLED
    )


def bought_skus(customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    bought: dict[uuid.UUID, set[str]] = defaultdict(set)
    for customer_id, sku in _lines(customer_ids).values_list("order__customer_id", "sku").distinct():
        bought[customer_id].add(sku)
    return bought


def recommend_products(customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product | None]:
    """For each customer, the active product most often bought in the same order as one of theirs, by anyone
    else; failing that, the best seller; never a product they bought."""
    customer_ids = list(customer_ids)
    bought = bought_skus(customer_ids)
    their_skus = set().union(*bought.values()) if bought else set()
    together: dict[str, Counter] = defaultdict(Counter)
    if their_skus:
        # Pairs (one of their skus, another sku of the same order) over every order: one grouped query. A
        # customer's own orders only pair skus they own, which are never recommended to them.
        for anchor, other, n in _bought_together(sorted(their_skus)):
            together[anchor][other] += n
    active = {p.sku: p for p in Product.objects.filter(is_active=True)}
    best_sellers = [
        sku
        for sku, _n in OrderLine.objects.exclude(order__status=OrderStatus.CANCELLED)
        .values_list("sku")
        .annotate(n=Count("id"))
        .order_by("-n", "sku")[:50]
        if sku in active
    ]
    out: dict[uuid.UUID, Product | None] = {}
    for customer_id in customer_ids:
        owned = bought.get(customer_id, set())
        scores: Counter = Counter()
        for sku in owned:
            scores.update(together.get(sku, {}))
        ranked = sorted((sku for sku in scores if sku not in owned and sku in active), key=lambda s: (-scores[s], s))
        if not ranked:
            ranked = [sku for sku in best_sellers if sku not in owned]
        out[customer_id] = active[ranked[0]] if ranked else None
    return out


def _bought_together(skus: list[str]) -> list[tuple[str, str, int]]:
    line, order = OrderLine._meta.db_table, Order._meta.db_table
    marks = ", ".join(["%s"] * len(skus))
    sql = (
        f"SELECT a.sku, b.sku, COUNT(DISTINCT a.order_id) FROM {line} a "  # noqa: S608 - table names, no input
        f"JOIN {line} b ON b.order_id = a.order_id AND b.sku <> a.sku "
        f"JOIN {order} o ON o.id = a.order_id "
        f"WHERE a.sku IN ({marks}) AND o.status <> %s GROUP BY a.sku, b.sku"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*skus, OrderStatus.CANCELLED])
        return cursor.fetchall()


def preferred_stores(customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Location]:
    """The store each customer bought at most often (lines), if any."""
    stores = {loc.code: loc for loc in Location.objects.filter(kind=LocationKind.STORE)}
    counts = (
        _lines(customer_ids)
        .filter(location_code__in=list(stores))
        .values_list("order__customer_id", "location_code")
        .annotate(n=Count("id"))
    )
    best: dict[uuid.UUID, tuple[int, str]] = {}
    for customer_id, code, n in counts:
        if customer_id not in best or (n, code) > best[customer_id]:
            best[customer_id] = (n, code)
    return {customer_id: stores[code] for customer_id, (_n, code) in best.items()}


def personal_values(customer_ids: list[uuid.UUID], *, needs: set[str]) -> dict[uuid.UUID, dict[str, str]]:
    """Placeholder values per customer ({name}, {city}, {store}, {product}), only those the variants use."""
    values: dict[uuid.UUID, dict[str, str]] = {cid: {} for cid in customer_ids}
    if not customer_ids:
        return values
    if "name" in needs:
        for cid, name, language in Customer.objects.filter(id__in=customer_ids).values_list(
            "id", "display_name", "language"
        ):
            first = (name or "").split(" ")[0][:MAX_NAME]
            if not first or first == "[erased]":
                with translation.override(language or None):
                    first = _("friend")
            values[cid]["name"] = first
    if needs & {"city", "store"}:
        stores = preferred_stores(customer_ids)
        for cid in customer_ids:
            store = stores.get(cid)
            values[cid]["store"] = (store.name if store else "")[:MAX_STORE]
            values[cid]["city"] = (store.city if store else "")[:MAX_CITY]
    if "product" in needs:
        for cid, product in recommend_products(customer_ids).items():
            values[cid]["product"] = product.name if product else ""
    return values
