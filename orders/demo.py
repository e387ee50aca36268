"""Demo data for orders and stock: `seed_orders(now=..., rng=...)`, called by `manage.py seed_demo`.

Six stores and the central warehouse, the catalog the demo interactions mention, stock everywhere, the orders
behind the history's paid carts (each `cart.checked_out` of the web and app names its order: the customer's page
links to it), orders from every channel for existing demo customers (click-and-collect, shipped, cancelled, returned
in a store whatever channel they came from), till sales, and the demo's abandoned carts marked as such.

Everything goes through the services, as the API and the admin do. Idempotent: every event id or order id is
derived from fixed names, so a second run is answered as duplicates and adds nothing. All random choices are drawn
from one seed taken from `rng` up front, so the same `rng` seed gives the same plan whatever is already stored.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from backoffice.eventstore import store
from backoffice.eventstore.vocabulary import Channel, FulfilmentMethod
from customers.demo_history import CATALOG, LOCATIONS, Checkout
from customers.selectors import people_contactable

from . import services
from .errors import OrdersError
from .models import Order, OrderStatus
from .services.stock import NAMESPACE, stock_receive_many

ACTOR = "seed_demo"
ORDERS = 240
HISTORY_DAYS = 60
# Which channel an order comes from, and how often.
CHANNEL_WEIGHTS = {"web": 34, "app": 22, "store": 18, "phone": 10, "whatsapp": 7, "instagram": 5, "facebook": 4}
# Where an order ends up: (method, steps after placement), with weights.
PATHS = (
    (FulfilmentMethod.PICKUP, ("pay", "ready", "collect"), 30),
    (FulfilmentMethod.PICKUP, ("pay", "ready"), 6),
    (FulfilmentMethod.PICKUP, ("pay", "ready", "collect", "return"), 6),
    (FulfilmentMethod.PICKUP, ("cancel",), 3),
    # A sale at the till to a customer who gave their phone or card: paid and taken away at once.
    (FulfilmentMethod.COUNTER, (), 10),
    (FulfilmentMethod.COUNTER, ("return",), 2),
    (FulfilmentMethod.SHIP, ("pay", "ship", "deliver"), 30),
    (FulfilmentMethod.SHIP, ("pay", "ship"), 5),
    (FulfilmentMethod.SHIP, ("pay", "ship", "deliver", "return"), 8),
    (FulfilmentMethod.SHIP, ("pay",), 4),
    (FulfilmentMethod.SHIP, (), 4),
    (FulfilmentMethod.SHIP, ("pay", "cancel"), 4),
)
TILL_SALES = 300
# What happened to a paid cart's order after the checkout (shipped from the allocation policy's choice), with weights.
CHECKOUT_PATHS = (
    (("pay", "ship", "deliver"), 84),
    (("pay", "ship", "deliver", "return"), 8),
    (("pay", "ship"), 4),
    (("pay", "cancel"), 4),
)


@dataclass(frozen=True)
class PlannedOrder:
    order_id: str
    customer: uuid.UUID | dict[str, str]  # our id, or the identifiers the shop sent (resolved by order_place)
    channel: str
    method: str
    location: str
    lines: tuple[tuple[str, int], ...]
    steps: tuple[str, ...]
    return_location: str
    placed_at: datetime


def seed_orders(
    *,
    now: datetime,
    rng: random.Random,
    stdout: TextIO | None = None,
    orders: int = ORDERS,
    till_sales: int = TILL_SALES,
    checkouts: Sequence[Checkout] = (),
) -> dict[str, int]:
    """Seed locations, catalog, stock, the orders of `checkouts` (the history's paid carts), more orders, till sales
    and abandoned carts. Returns what was added."""
    base = rng.getrandbits(32)
    added = {
        "locations": 0,
        "products": 0,
        "stock_receipts": 0,
        "checkout_orders": 0,
        "orders": 0,
        "steps": 0,
        "till_sales": 0,
    }
    for loc in LOCATIONS:
        _, created = services.location_create(
            code=loc.code, name=loc.name, kind=loc.kind, city=loc.city, timezone=loc.timezone, actor=ACTOR
        )
        added["locations"] += created
    for product in CATALOG:
        _, created = services.product_save(
            sku=product.sku, name=product.name, category=product.category, price=product.price, actor=ACTOR
        )
        added["products"] += created
    # The stock arrived before anything was sold: before the first paid cart of the history too.
    received_at = min([now - timedelta(days=HISTORY_DAYS + 1), *(c.placed_at - timedelta(days=1) for c in checkouts)])
    added["stock_receipts"] = _receive_stock(_rng(base), received_at)
    for planned in _plan_checkouts(base, checkouts):
        placed, steps = _place(planned, now)
        added["checkout_orders"] += placed
        added["steps"] += steps
    for planned in _plan_orders(_rng(base + 1), now, orders):
        placed, steps = _place(planned, now)
        added["orders"] += placed
        added["steps"] += steps
    added["till_sales"] = _till_sales(_rng(base + 2), now, till_sales)
    added["abandoned_carts"] = _abandon_carts(now)
    if stdout is not None:
        stdout.write(
            "Orders and stock: {locations} locations, {products} products, {stock_receipts} stock receipts, "
            "{checkout_orders} orders of paid carts and {orders} more ({steps} lifecycle steps), {till_sales} till "
            "sales, {abandoned_carts} carts abandoned (new in this run)\n".format(**added)
        )
    return added


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose


def _event_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"demo:{name}")


def _receive_stock(rng: random.Random, at: datetime) -> int:
    receipts = []
    for loc in LOCATIONS:
        for product in CATALOG:
            quantity = rng.randint(300, 500) if loc.kind == "warehouse" else rng.randint(25, 60)
            receipts.append((product.sku, loc.code, quantity, _event_id(f"receive:{product.sku}@{loc.code}")))
    # Receipts stored by an earlier run are left out: that run's `now` (so their times) may differ from this one's.
    stored = store.stored_events([receipt[3] for receipt in receipts])
    receipts = [receipt for receipt in receipts if receipt[3] not in stored]
    if not receipts:
        return 0
    return stock_receive_many(receipts=receipts, actor=ACTOR, occurred_at=at)


def _stored(event_id: uuid.UUID) -> bool:
    return bool(store.stored_events([event_id]))


def _plan_orders(rng: random.Random, now: datetime, count: int) -> list[PlannedOrder]:
    customers = list(people_contactable().order_by("registered_at", "id").values_list("id", flat=True)[:2000])
    if not customers:
        return []
    stores = [loc.code for loc in LOCATIONS if loc.kind == "store"]
    channels, channel_weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    plans = []
    for n in range(count):
        customer_id = customers[rng.randrange(len(customers))]
        channel = rng.choices(channels, channel_weights)[0]
        method, steps, _ = rng.choices(PATHS, [w for *_, w in PATHS])[0]
        if method == FulfilmentMethod.COUNTER:
            channel = Channel.STORE
        products = rng.sample(CATALOG, rng.choice((1, 1, 1, 2, 2, 3)))
        lines = tuple((p.sku, 1 if not p.sku.startswith("CAL-") else 2) for p in products)
        store = rng.choice(stores)
        placed_at = now - timedelta(days=rng.uniform(1, HISTORY_DAYS))
        plans.append(
            PlannedOrder(
                order_id=f"DEMO-{n + 1:05d}",
                customer=customer_id,
                channel=channel,
                method=method,
                # Shipping lets the allocation policy choose; an assisted sale in a store ships or is collected there.
                location=store if method in (FulfilmentMethod.PICKUP, FulfilmentMethod.COUNTER) else "",
                lines=lines,
                steps=steps,
                # Returns come back anywhere: mostly a store (whatever channel the order came from), some by post.
                return_location=rng.choice([*stores, "WH-ZGZ"]),
                placed_at=placed_at,
            )
        )
    return plans


def _plan_checkouts(seed: int, checkouts: Sequence[Checkout]) -> list[PlannedOrder]:
    """The orders of the history's paid carts: shipped, and mostly delivered since. Each one's fate is drawn from its
    own order id: a larger demo later (more people, more checkouts between theirs) plans the same for it."""
    paths, weights = zip(*CHECKOUT_PATHS, strict=True)
    stores = [loc.code for loc in LOCATIONS if loc.kind == "store"]
    plans = []
    for checkout in checkouts:
        rng = _rng(uuid.uuid5(NAMESPACE, f"demo-checkout:{seed}:{checkout.order_id}").int)
        plans.append(
            PlannedOrder(
                order_id=checkout.order_id,
                customer=checkout.customer,
                channel=checkout.channel,
                method=FulfilmentMethod.SHIP,
                location="",
                lines=checkout.lines,
                steps=rng.choices(paths, weights)[0],
                return_location=rng.choice([*stores, "WH-ZGZ"]),
                placed_at=checkout.placed_at,
            )
        )
    return plans


def _place(planned: PlannedOrder, now: datetime) -> tuple[int, int]:
    try:
        order, created = services.order_place(
            order_id=planned.order_id,
            customer=planned.customer,
            channel=planned.channel,
            lines=[{"sku": sku, "quantity": quantity} for sku, quantity in planned.lines],
            fulfilment={"method": planned.method, "location": planned.location},
            actor=ACTOR,
            occurred_at=planned.placed_at,
        )
    except OrdersError:
        return 0, 0  # not enough stock for this plan: the demo goes on without it
    steps = 0
    at = planned.placed_at
    for index, action in enumerate(planned.steps):
        at = min(at + timedelta(hours=6 + 20 * index), now)
        if _done(order, planned.steps, index):
            continue
        step_channel = (
            "store"
            if action in ("ready", "collect") or (action == "return" and planned.return_location != "WH-ZGZ")
            else None
        )
        order = services.order_act(
            order_id=order.id,
            action=action,
            actor=ACTOR,
            channel=step_channel,
            location=planned.return_location if action == "return" else None,
            occurred_at=at,
        )
        steps += 1
    return int(created), steps


_STATUS_AFTER = {
    "pay": OrderStatus.PAID,
    "ready": OrderStatus.READY,
    "collect": OrderStatus.COLLECTED,
    "ship": OrderStatus.SHIPPED,
    "deliver": OrderStatus.DELIVERED,
    "cancel": OrderStatus.CANCELLED,
    "return": OrderStatus.RETURNED,
}


def _done(order: Order, steps: tuple[str, ...], index: int) -> bool:
    """Whether the order already went through step `index` (a re-run continues where an earlier one stopped)."""
    reached = [_STATUS_AFTER[step] for step in steps]
    return order.status in reached[index:] or order.status == OrderStatus.PARTIALLY_RETURNED


def _till_sales(rng: random.Random, now: datetime, count: int) -> int:
    sold = 0
    stores = [loc.code for loc in LOCATIONS if loc.kind == "store"]
    for n in range(count):
        product = rng.choice(CATALOG)
        store = rng.choice(stores)
        at = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
        event_id = _event_id(f"till:{n}")
        if _stored(event_id):
            continue
        try:
            services.stock_move(
                sku=product.sku, location=store, kind="sold", quantity=1, actor=ACTOR, event_id=event_id, occurred_at=at
            )
        except OrdersError:
            continue
        sold += 1
    return sold


def _abandon_carts(now: datetime) -> int:
    total = 0
    while True:
        decisions = services.carts_abandon_idle(now=now)
        total += len(decisions)
        if not decisions:
            return total
