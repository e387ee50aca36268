"""What a variant says to one customer: first name, the city and store where they buy, and a recommended product
(bought together with theirs by other customers, never one they already bought). Computed for a whole batch of
customers in a few grouped queries."""

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from customers.selectors import customer_values
from orders import selectors as orders_selectors

from .worksheet import CUSTOMER_PLACEHOLDERS, MAX_CITY, MAX_NAME, MAX_STORE, fallback_values

if TYPE_CHECKING:  # type names only: the rows come from orders.selectors
    from orders.models import Location, Product


def recommend_products(customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, "Product | None"]:
    """For each customer, the active product most often bought in the same order as one of theirs, by anyone
    else; failing that, the best seller; never a product they bought."""
    customer_ids = list(customer_ids)
    bought = orders_selectors.bought_skus(customer_ids=customer_ids)
    their_skus = set().union(*bought.values()) if bought else set()
    together: dict[str, Counter] = defaultdict(Counter)
    if their_skus:
        # Pairs (one of their skus, another sku of the same order) over every order: one grouped query. A
        # customer's own orders only pair skus they own, which are never recommended to them.
        pairs = _pairs()
        for anchor in their_skus:
            together[anchor].update(pairs.get(anchor, {}))
    active = orders_selectors.active_products()
    best_sellers = [sku for sku in _best_sellers() if sku in active]
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


# Co-purchases change slowly; a launch asks for them once per batch. Each process keeps the table for a while.
PAIRS_TTL_SECONDS: Final = 300
PAIRS_PER_SKU: Final = 20
_pairs_cache: dict = {}


def _pairs() -> dict[str, dict[str, int]]:
    """For every sku, the skus bought in the same orders and in how many (the top PAIRS_PER_SKU), cached."""
    now = time.monotonic()
    if _pairs_cache.get("at") is not None and now - _pairs_cache["at"] < PAIRS_TTL_SECONDS:
        return _pairs_cache["pairs"]
    rows = orders_selectors.co_purchases()
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for anchor, other, n in rows:
        ranked[anchor].append((n, other))
    pairs = {
        anchor: {other: n for n, other in sorted(found, key=lambda p: (-p[0], p[1]))[:PAIRS_PER_SKU]}
        for anchor, found in ranked.items()
    }
    _pairs_cache.update(at=now, pairs=pairs)
    return pairs


def _best_sellers() -> list[str]:
    now = time.monotonic()
    if _pairs_cache.get("sellers_at") is not None and now - _pairs_cache["sellers_at"] < PAIRS_TTL_SECONDS:
        return _pairs_cache["sellers"]
    sellers = orders_selectors.best_selling_skus(limit=50)
    _pairs_cache.update(sellers_at=now, sellers=sellers)
    return sellers


def forget_pairs() -> None:
    _pairs_cache.clear()


def preferred_stores(customer_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, "Location"]:
    """The store each customer bought at most often (lines), if any."""
    stores = orders_selectors.stores()
    counts = orders_selectors.store_lines_per_customer(customer_ids=customer_ids, store_codes=stores)
    best: dict[uuid.UUID, tuple[int, str]] = {}
    for customer_id, code, n in counts:
        if customer_id not in best or (n, code) > best[customer_id]:
            best[customer_id] = (n, code)
    return {customer_id: stores[code] for customer_id, (_n, code) in best.items()}


def personal_values(customer_ids: list[uuid.UUID], *, needs: set[str]) -> dict[uuid.UUID, dict[str, str]]:
    """Placeholder values per customer ({name}, {city}, {store}, {product}), only those the variants use; what we
    do not know of a customer is said in their language (worksheet.fallback_values), never left empty."""
    values: dict[uuid.UUID, dict[str, str]] = {cid: {} for cid in customer_ids}
    needs = needs & set(CUSTOMER_PLACEHOLDERS)
    if not customer_ids or not needs:
        return values
    first_names: dict[uuid.UUID, str] = {}
    by_language: dict[str, dict[str, str]] = {}
    unknown: dict[uuid.UUID, dict[str, str]] = {}  # per customer, what is said where we know nothing
    for cid, name, language in customer_values(customer_ids=customer_ids, fields=("display_name", "language")):
        first_names[cid] = (name or "").split(" ")[0][:MAX_NAME]
        if language not in by_language:
            by_language[language] = fallback_values(language)
        unknown[cid] = by_language[language]
    for cid in customer_ids:
        unknown.setdefault(cid, fallback_values(""))
    if "name" in needs:
        for cid in customer_ids:
            first = first_names.get(cid, "")
            values[cid]["name"] = first if first and first != "[erased]" else unknown[cid]["name"]
    if needs & {"city", "store"}:
        stores = preferred_stores(customer_ids)
        for cid in customer_ids:
            store = stores.get(cid)
            values[cid]["store"] = (store.name if store else "")[:MAX_STORE].strip() or unknown[cid]["store"]
            values[cid]["city"] = (store.city if store else "")[:MAX_CITY].strip() or unknown[cid]["city"]
    if "product" in needs:
        for cid, product in recommend_products(customer_ids).items():
            values[cid]["product"] = (product.name if product else "").strip() or unknown[cid]["product"]
    return values
