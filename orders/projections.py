"""Projections of the orders app.

- orders.catalog (inline): products and locations; an order placed right after a product is created must see it.
- orders.stock (inline): on-hand and reserved per (sku, location), and each stream's version. Inline because the
  no-oversell check reads it under a row lock in the same transaction that appends the reservation.
- orders.orders (inline): orders, their lines and status; lifecycle steps read it under a row lock.
- orders.carts (async): open carts for the abandonment job. Cart events arrive in ingestion batches of up to 1000,
  so they are folded after commit, off the ingestion hot path; the job catches up before it decides.
"""

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import AutoField

from backoffice.eventstore.projector import ASYNC, INLINE, Projection, handles, type_names

from .events import (
    CartAbandoned,
    CartCheckedOut,
    CartItemAdded,
    CartItemRemoved,
    LocationCreated,
    OrderCancelled,
    OrderCollected,
    OrderDelivered,
    OrderPaid,
    OrderPlaced,
    OrderReady,
    OrderReturned,
    OrderShipped,
    ProductCreated,
    ProductUpdated,
    StockCounted,
    StockReceived,
    StockReleased,
    StockReserved,
    StockReturned,
    StockSold,
    StockTransferred,
)
from .models import (
    Cart,
    CartStatus,
    Location,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    StockLevel,
    order_from_placed,
)

STOCK_TYPES = type_names(
    StockReceived, StockCounted, StockSold, StockReserved, StockReleased, StockTransferred, StockReturned
)


class Catalog(Projection):
    name = "orders.catalog"
    mode = INLINE
    models = (Product, Location)

    @handles(ProductCreated)
    def product_created(self, event):
        data = event.data
        Product.objects.create(
            sku=data["sku"],
            name=data["name"],
            category=data["category"],
            price=Decimal(data["price"]),
            currency=data["currency"],
            is_active=data["is_active"],
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
        )

    @handles(ProductUpdated)
    def product_updated(self, event):
        changes = {k: v for k, v in event.data.items() if k in ("name", "category", "price", "is_active")}
        changes = {k: v for k, v in changes.items() if v is not None}
        Product.objects.filter(sku=event.data["sku"]).update(**changes, updated_at=event.occurred_at)

    @handles(LocationCreated)
    def location_created(self, event):
        data = event.data
        Location.objects.create(
            code=data["code"],
            name=data["name"],
            kind=data["kind"],
            city=data["city"],
            timezone=data["timezone"],
            created_at=event.occurred_at,
        )


# The stock types, bound once: fold_stock runs per stock event, and reading an event class's type_name costs a few
# times the comparison it feeds (about 0.1 us against 0.02 us).
_STOCK_IN = type_names(StockReceived, StockReturned)
_COUNTED, _SOLD, _RESERVED, _RELEASED, _TRANSFERRED = type_names(
    StockCounted, StockSold, StockReserved, StockReleased, StockTransferred
)


def fold_stock(on_hand: int, reserved: int, type_name: str, data: dict) -> tuple[int, int]:
    """One stock event applied to (on_hand, reserved). Services check the invariants before they append."""
    if type_name in _STOCK_IN:
        return on_hand + data["quantity"], reserved
    if type_name == _COUNTED:
        return data["counted"], reserved
    if type_name == _SOLD:
        released = data["quantity"] if data.get("from_reservation") else 0
        return on_hand - data["quantity"], reserved - released
    if type_name == _RESERVED:
        return on_hand, reserved + data["quantity"]
    if type_name == _RELEASED:
        return on_hand, reserved - data["quantity"]
    if type_name == _TRANSFERRED:
        sign = 1 if data["direction"] == "in" else -1
        return on_hand + sign * data["quantity"], reserved
    raise ValueError(type_name)


class StockLevels(Projection):
    name = "orders.stock"
    mode = INLINE
    models = (StockLevel,)
    event_types = STOCK_TYPES

    # One upsert per (sku, location) touched, whatever the events: a reservation of three lines is one round trip
    # (executemany pipelines on PostgreSQL) with no read first. `is_absolute`: a count set on-hand, then deltas.
    _UPSERT = (
        "INSERT INTO orders_stocklevel (sku, location_code, on_hand, reserved, version, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (sku, location_code) DO UPDATE SET "
        "on_hand = CASE WHEN %s THEN %s ELSE orders_stocklevel.on_hand + %s END, "
        "reserved = orders_stocklevel.reserved + %s, "
        "version = excluded.version, updated_at = excluded.updated_at"
    )

    def apply(self, events):
        folded: dict[tuple[str, str], list] = {}
        for event in events:
            key = (event.data["sku"], event.data["location"])
            # [is_absolute, on_hand (absolute value or delta), reserved delta, version, updated_at]
            state = folded.setdefault(key, [False, 0, 0, 0, event.recorded_at])
            if event.type == _COUNTED:
                state[0], state[1] = True, event.data["counted"]
            else:
                on_hand, reserved = fold_stock(0, 0, event.type, event.data)
                state[1] += on_hand
                state[2] += reserved
            state[3] = event.version
            state[4] = max(state[4], event.recorded_at)
        adapt = connection.ops.adapt_datetimefield_value
        # The inserted values are those of a new row (a stream's first events only ever add); the CHECK constraints
        # apply to them even when the row exists, so a negative delta travels in the update's own parameters.
        rows = [
            (sku, location, max(on_hand, 0), max(reserved, 0), version, adapt(updated_at))
            + (is_absolute, on_hand, on_hand, reserved)
            for (sku, location), (is_absolute, on_hand, reserved, version, updated_at) in folded.items()
        ]
        with connection.cursor() as cursor:
            cursor.executemany(self._UPSERT, rows)


_STATUS_AFTER = {
    OrderPaid.type_name: OrderStatus.PAID,
    OrderReady.type_name: OrderStatus.READY,
    OrderCollected.type_name: OrderStatus.COLLECTED,
    OrderShipped.type_name: OrderStatus.SHIPPED,
    OrderDelivered.type_name: OrderStatus.DELIVERED,
    OrderCancelled.type_name: OrderStatus.CANCELLED,
}


class Orders(Projection):
    name = "orders.orders"
    mode = INLINE
    models = (OrderLine, Order)
    event_types = (OrderPlaced,)

    def apply(self, events):
        """Placements are inserted together (a rebuild or an import: two statements for a run of them, whatever its
        length; one placement: its order and its lines); the other steps, in order, after the placements before
        them are written."""
        orders, lines = [], []
        for event in events:
            if event.type == OrderPlaced.type_name:
                order, its_lines = order_from_placed(
                    data=event.data,
                    customer_id=event.customer_id,
                    channel=event.channel,
                    occurred_at=event.occurred_at,
                    version=event.version,
                )
                orders.append(order)
                lines.extend(its_lines)
                continue
            if orders:
                self._insert_placed(orders, lines)
                orders, lines = [], []
            attr = self._handlers.get(event.type)
            if attr is not None:
                getattr(self, attr)(event)
        if orders:
            self._insert_placed(orders, lines)

    @staticmethod
    def _insert_placed(orders: list, lines: list) -> None:
        # On the placement's hot path: plain INSERTs, without the ORM compiling two statements per order.
        _insert(Order, orders)
        _insert(OrderLine, lines)

    @handles(*_STATUS_AFTER)
    def stepped(self, event):
        changes = {"status": _STATUS_AFTER[event.type], "updated_at": event.occurred_at, "version": event.version}
        if event.type == OrderPaid.type_name:
            changes["is_paid"] = True
        Order.objects.filter(id=event.data["order_id"]).update(**changes)

    @handles(OrderReturned)
    def returned(self, event):
        order = Order.objects.get(id=event.data["order_id"])
        lines = list(order.lines.all())
        for returned in event.data["lines"]:
            left = returned["quantity"]
            for line in lines:
                if line.sku == returned["sku"] and left:
                    taken = min(left, line.quantity - line.returned_quantity)
                    line.returned_quantity += taken
                    left -= taken
        OrderLine.objects.bulk_update(lines, ["returned_quantity"])
        fully = all(line.returned_quantity >= line.quantity for line in lines)
        order.status = OrderStatus.RETURNED if fully else OrderStatus.PARTIALLY_RETURNED
        order.refunded += Decimal(event.data["refund_amount"])
        order.updated_at = event.occurred_at
        order.version = event.version
        order.save(update_fields=["status", "refunded", "updated_at", "version"])


def _insert(model, rows: list) -> None:
    """INSERT model instances with one statement, values prepared by their fields as Django would.

    One multi-row VALUES rather than executemany: an order writes one order row and a few lines, and psycopg's
    pipeline for executemany cost more than the statement itself."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.auto_created and not isinstance(f, AutoField)]
    quote = connection.ops.quote_name
    one_row = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            cursor.execute(
                "INSERT INTO {} ({}) VALUES {}".format(  # noqa: S608 - names from the model, values as parameters
                    quote(model._meta.db_table),
                    ", ".join(quote(f.column) for f in fields),
                    ", ".join([one_row] * len(chunk)),
                ),
                [f.get_db_prep_save(getattr(row, f.attname), connection) for row in chunk for f in fields],
            )


class Carts(Projection):
    name = "orders.carts"
    mode = ASYNC
    models = (Cart,)
    event_types = (CartItemAdded, CartItemRemoved, CartCheckedOut, CartAbandoned)

    def apply(self, events):
        by_cart = defaultdict(list)
        for event in events:
            by_cart[event.data["cart_id"]].append(event)
        rows = Cart.objects.in_bulk(list(by_cart))
        carts = []
        for cart_id, cart_events in by_cart.items():
            cart = rows.get(cart_id)
            if cart is None:
                first = cart_events[0]
                cart = Cart(
                    cart_id=cart_id,
                    customer_id=first.customer_id,
                    channel=first.channel or "",
                    started_at=first.occurred_at,
                    last_activity_at=first.occurred_at,
                )
            for event in cart_events:
                self._fold(cart, event)
            carts.append(cart)
        # New and changed carts in one upsert; what a cart's later events change is all it updates. Read-then-write
        # is safe: one worker at a time applies this projection (its checkpoint is its lease).
        Cart.objects.bulk_create(
            carts,
            update_conflicts=True,
            unique_fields=["cart_id"],
            update_fields=[
                "customer_id",
                "items",
                "status",
                "last_activity_at",
                "version",
                "order_id",
                "abandoned_at",
                "reminder_message_id",
                "reminder_channel",
            ],
        )

    @staticmethod
    def _fold(cart: Cart, event) -> None:
        data = event.data
        cart.version = max(cart.version, event.version)
        if event.type == CartAbandoned.type_name:
            cart.status = CartStatus.ABANDONED
            cart.abandoned_at = event.occurred_at
            cart.reminder_message_id = data["reminder_message_id"]
            cart.reminder_channel = data["reminder_channel"]
            return
        cart.customer_id = cart.customer_id or event.customer_id
        if cart.status == CartStatus.ABANDONED:
            cart.status = CartStatus.OPEN  # back to it: open again, but abandoned_at stays (one reminder per cart)
        cart.last_activity_at = max(cart.last_activity_at, event.occurred_at)
        if event.type == CartItemAdded.type_name:
            item = cart.items.get(data["sku"], {"quantity": 0, "unit_price": data["unit_price"]})
            item["quantity"] += data["quantity"]
            item["unit_price"] = data["unit_price"]
            cart.items = {**cart.items, data["sku"]: item}
        elif event.type == CartItemRemoved.type_name:
            items = dict(cart.items)
            if data["sku"] in items:
                left = items[data["sku"]]["quantity"] - data["quantity"]
                if left > 0:
                    items[data["sku"]] = {**items[data["sku"]], "quantity": left}
                else:
                    del items[data["sku"]]
            cart.items = items
        elif event.type == CartCheckedOut.type_name:
            cart.status = CartStatus.CHECKED_OUT
            cart.order_id = data["order_id"]
