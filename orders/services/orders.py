"""Orders from every channel: placement, with the reservation of its stock (the lifecycle is in lifecycle.py).

Placement runs in one transaction: lock the stock rows, check, append to the order stream and the stock streams
together (`append_batches`: all or nothing), let the inline projections update the read models. Event ids derive
from the order id, so a placement retried after a crash or by a second request with the same id can never reserve
twice: the store answers the same ids as duplicates.
"""

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, NamedTuple, TypeGuard

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from backoffice.eventstore import schema, store
from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.money import CENT
from backoffice.eventstore.schema import EventData
from backoffice.eventstore.vocabulary import FulfilmentMethod
from customers.selectors import CustomerNotFound, customer_merged_into, customer_resolve_id
from customers.services.ingestion import customer_register

from ..errors import InsufficientStock, InvalidField, InvalidFields, NotYourLocation, OrderIdConflict
from ..events import (
    MAX_ORDER_SKUS,
    MAX_PLACED_LINES,
    ORDER_ID_PATTERN,
    Fulfilment,
    OrderCollected,
    OrderLine,
    OrderPaid,
    OrderPlaced,
    OversoldLine,
    StockReserved,
    StockSold,
)
from ..events import FulfilmentMethod as FulfilmentMethodName
from ..models import Cart, Location, LocationKind, Order, Product, StockLevel, order_from_placed, with_lines
from .stock import NAMESPACE, availability, levels_locked, off_sale, stock_stream, with_retry

# ship: from the location the allocation picks; pickup: reserved at the store until collected; counter: sold at the
# store's till to a named customer, so paid and collected at once and the units leave on-hand without a reservation.
FULFILMENT_METHODS: Final = tuple(FulfilmentMethod)
AT_A_STORE: Final = (FulfilmentMethod.PICKUP, FulfilmentMethod.COUNTER)
# The bounds of `order.placed` (OrderLine.quantity, Money), checked on the request so a refusal names its field.
MAX_UNITS_PER_SKU: Final = 10_000
MAX_TOTAL: Final = Decimal("9999999999.99")


def order_event_id(order_id: str, what: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"order:{order_id}:{what}")


@dataclass(frozen=True)
class Allocation:
    sku: str
    quantity: int
    location: str


# --- Placement ----------------------------------------------------------------------------------------------------


def order_place(
    *,
    order_id: str | None = None,
    customer: Any,
    channel: str,
    lines: list[dict[str, Any]],
    fulfilment: dict[str, Any],
    actor: str,
    acting_location: str | None = None,
    occurred_at: datetime | None = None,
) -> tuple[Order, bool]:
    """Place an order and reserve its stock. Returns (order, created).

    `acting_location` (store staff): a pickup or counter order is for that store only, and a shipped order takes
    stock from that store or a warehouse (named, or picked by the allocation), never from another store
    (NotYourLocation).

    `customer`: our customer id, or identifiers ({"email": ...}) resolved like any interaction's sender.
    Idempotent on `order_id`: the same content again answers the order (created False), whatever the catalog, the
    stock or the locations say now; other content raises OrderIdConflict. Raises InvalidFields or InsufficientStock
    (per-line availability per location) before anything is written.
    """
    is_new_id = order_id is None
    if order_id is not None:
        given_id = order_id
        resent = with_retry(
            lambda: _resent_order(given_id, customer, channel, lines, fulfilment, actor, acting_location)
        )
        if resent is not None:
            return resent, False
    order_id = order_id or str(uuid.uuid4())
    validated = _validate_order(order_id, channel, lines, fulfilment)
    if acting_location is not None and not _may_act_from(acting_location, validated):
        raise NotYourLocation("fulfilment.location", validated.location)
    order, created, _ = with_retry(
        lambda: _place(order_id, is_new_id, customer, channel, validated, actor, occurred_at, acting_location)
    )
    return order, created


def order_place_oversell_allowed(
    *,
    order_id: str,
    customer: Any,
    channel: str,
    lines: list[dict[str, Any]],
    location: str,
    actor: str,
    occurred_at: datetime | None = None,
) -> tuple[Order, bool, list[dict[str, Any]]]:
    """Record an order another system has already sold (a shop platform), shipped from `location`, even when the
    stock there is short. Returns (order, created, oversold lines [{sku, location, quantity}]).

    Every line is reserved at `location` in full: the units it lacks show as reserved beyond on-hand (available 0),
    so no other channel sells them, and `order.placed` lists them under `oversold` for staff to act on. Refused
    only for what no stock can fix (InvalidFields: unknown sku or location, bad quantities; OrderIdConflict).
    """
    validated = _validate_order(order_id, channel, lines, {"method": FulfilmentMethod.SHIP, "location": location})
    if not validated.location:
        raise InvalidFields([InvalidField("fulfilment.location", "the location the order ships from", "required")])
    return with_retry(
        lambda: _place(order_id, False, customer, channel, validated, actor, occurred_at, None, oversell=True)
    )


class _Validated(NamedTuple):
    """An order's request, checked: units wanted and unit price per sku, how and from where it is fulfilled (and
    the kind of that location, when one is named)."""

    wanted: dict[str, int]
    prices: dict[str, Decimal]
    method: FulfilmentMethodName
    location: str
    location_kind: str | None = None


def _may_act_from(acting_location: str, validated: _Validated) -> bool:
    """Store staff: pickup and counter at their own store only; a shipment from their store or any warehouse."""
    if not validated.location or validated.location == acting_location:
        return True
    return validated.method == "ship" and validated.location_kind == LocationKind.WAREHOUSE


def _resent_order(
    order_id: str,
    customer: Any,
    channel: str,
    lines: Any,
    fulfilment: Any,
    actor: str,
    acting_location: str | None,
) -> Order | None:
    """The stored order when this request is a resend of the one that placed it, else None (go on and validate).

    Checked before the catalog, the stock and the locations: a product taken off sale or stock sold since must not
    turn a shop's retry into a refusal. Resolving identifiers may register a customer; when the content differs
    that is rolled back, and placement decides (InvalidFields, NotYourLocation or OrderIdConflict)."""
    wanted = _wanted_as_sent(lines)
    if wanted is None or not isinstance(fulfilment, dict) or not isinstance(channel, str):
        return None
    method, location = fulfilment.get("method"), fulfilment.get("location") or ""
    if not isinstance(method, str) or not isinstance(location, str):
        return None
    existing = Order.objects.filter(id=order_id).first()
    if existing is None:
        return None  # a new order (or one being placed right now: placement checks again under its locks)
    if acting_location is not None and location and location != acting_location:
        # Store staff resend from their store only what they may place: ship from a warehouse, nothing else.
        kind = Location.objects.filter(code=location).values_list("kind", flat=True).first()
        if method != FulfilmentMethod.SHIP or kind != LocationKind.WAREHOUSE:
            return None
    with transaction.atomic():
        try:
            customer_id = _resolve_customer(customer, channel, actor)
        except InvalidFields:
            customer_id = None
        if customer_id is not None and _same_request(existing, customer_id, channel, wanted, method, location):
            return existing
        transaction.set_rollback(True)
        return None


def _wanted_as_sent(lines: Any) -> dict[str, int] | None:
    """Units per sku of well-formed lines, or None when a line is not (validation then says which)."""
    if not isinstance(lines, list) or not lines:
        return None
    wanted: Counter[str] = Counter()
    for line in lines:
        sku, quantity = (line.get("sku"), line.get("quantity")) if isinstance(line, dict) else (None, None)
        if not isinstance(sku, str) or not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            return None
        wanted[sku] += quantity
    return dict(wanted)


def _validate_order(order_id: str, channel: str, lines: list[dict[str, Any]], fulfilment: dict[str, Any]) -> _Validated:
    import re

    errors: list[InvalidField] = []
    if not re.match(ORDER_ID_PATTERN, order_id):
        errors.append(InvalidField("id", "letters, digits, '.', '_' and '-', at most 64", "invalid"))
    if channel not in schema.CHANNELS:
        errors.append(InvalidField("channel", f"unknown channel {channel!r}", "invalid_choice"))
    if not lines:
        errors.append(InvalidField("lines", "an order needs at least one line", "required"))
    wanted: Counter[str] = Counter()
    skus = sorted(sku for sku in {line.get("sku") for line in lines} if isinstance(sku, str))
    products = _products(skus)
    for index, line in enumerate(lines):
        sku, quantity = line.get("sku"), line.get("quantity")
        product = products.get(sku) if isinstance(sku, str) else None
        if product is None:
            errors.append(InvalidField(f"lines.{index}.sku", f"unknown sku {sku!r}", "unknown_sku"))
        elif not product[1]:
            errors.append(off_sale(f"lines.{index}.sku", str(sku)))
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors.append(InvalidField(f"lines.{index}.quantity", "must be an integer greater than zero", "min_value"))
        elif product is not None and isinstance(sku, str):
            wanted[sku] += quantity
            if wanted[sku] > MAX_UNITS_PER_SKU:
                errors.append(
                    InvalidField(
                        f"lines.{index}.quantity",
                        f"at most {MAX_UNITS_PER_SKU} units of {sku} in one order, over all its lines",
                        "max_value",
                    )
                )
    if len(wanted) > MAX_ORDER_SKUS:
        errors.append(InvalidField("lines", f"at most {MAX_ORDER_SKUS} different products in one order", "max_length"))
    method = fulfilment.get("method")
    location: str = fulfilment.get("location") or ""
    if method not in FULFILMENT_METHODS:
        errors.append(InvalidField("fulfilment.method", f"one of {', '.join(FULFILMENT_METHODS)}", "invalid_choice"))
    elif method in AT_A_STORE and not location:
        errors.append(InvalidField("fulfilment.location", f"a {method} order needs the store", "required"))
    kind = None
    if location:
        kind = _one(f"SELECT kind FROM {Location._meta.db_table} WHERE code = %s", [location])  # noqa: S608
        if kind is None:
            errors.append(InvalidField("fulfilment.location", f"unknown location {location!r}", "unknown_location"))
        elif method in AT_A_STORE and kind != LocationKind.STORE:
            errors.append(InvalidField("fulfilment.location", f"{location} is not a store", "not_a_store"))
    if not errors and sum((products[sku][0] * qty for sku, qty in wanted.items()), Decimal("0")) > MAX_TOTAL:
        errors.append(InvalidField("lines", f"the order's total may be at most {MAX_TOTAL}", "max_value"))
    if errors or not _is_fulfilment_method(method):  # an unknown method is one of the errors
        raise InvalidFields(errors)
    return _Validated(dict(wanted), {sku: products[sku][0] for sku in wanted}, method, location, kind)


def _is_fulfilment_method(value: object) -> TypeGuard[FulfilmentMethodName]:
    return value in FULFILMENT_METHODS


def _resolve_customer(customer: Any, channel: str, actor: str) -> uuid.UUID:
    if isinstance(customer, dict) and set(customer) == {"id"}:
        customer = customer["id"]
    if isinstance(customer, dict):
        try:
            customer_id, _ = customer_register(customer=customer, channel=channel, actor=actor)
        except EventValidationError as exc:
            raise InvalidFields(
                [InvalidField(".".join(filter(None, ("customer", e.field))), e.message, e.code) for e in exc.errors]
            ) from None
        return customer_id
    try:
        customer_id = uuid.UUID(str(customer))
        # One query for the usual case (a customer that was not merged); the selector follows merges.
        exists, merged_into = customer_merged_into(customer_id=customer_id)
        if exists and merged_into is None:
            return customer_id
        return customer_resolve_id(customer_id=customer_id)
    except ValueError:
        raise InvalidFields([InvalidField("customer", "a customer id or identifiers", "invalid")]) from None
    except CustomerNotFound:
        raise InvalidFields([InvalidField("customer", "no such customer", "not_found")]) from None


def _place(
    order_id: str,
    is_new_id: bool,
    customer: Any,
    channel: str,
    validated: _Validated,
    actor: str,
    occurred_at: datetime | None,
    acting_location: str | None,
    oversell: bool = False,
) -> tuple[Order, bool, list[dict[str, Any]]]:
    wanted, prices, method, location, _ = validated
    with transaction.atomic():
        customer_id = _resolve_customer(customer, channel, actor)
        if method in AT_A_STORE or location:
            candidates = [location]
        elif acting_location is not None:
            # Shipped from the counter: this store's stock or a warehouse's, never another store's.
            candidates = list(
                Location.objects.filter(Q(code=acting_location) | Q(kind=LocationKind.WAREHOUSE)).values_list(
                    "code", flat=True
                )
            )
        else:
            candidates = list(Location.objects.values_list("code", flat=True))
        rows = levels_locked((sku, code) for sku in wanted for code in candidates)
        # Checked after the locks: a concurrent request with the same id has committed by now, or will wait for us.
        existing = None
        if not is_new_id and _rows(f"SELECT 1 FROM {Order._meta.db_table} WHERE id = %s", [order_id]):  # noqa: S608
            existing = Order.objects.get(id=order_id)
        if existing is not None:
            if _same_request(existing, customer_id, channel, wanted, method, location):
                return existing, False, []
            raise OrderIdConflict(order_id)
        allocations = _allocate(wanted, rows, candidates, method)
        oversold = []
        if allocations is None and oversell:
            allocations = [Allocation(sku, qty, location) for sku, qty in wanted.items()]
            for sku, qty in wanted.items():
                row = rows.get((sku, location))
                short = qty - (row.available if row else 0)
                if short > 0:
                    oversold.append({"sku": sku, "location": location, "quantity": short})
        if allocations is None:
            raise InsufficientStock(_shortage(wanted, rows, method, location))
        if len(allocations) > MAX_PLACED_LINES:
            raise _too_many_lines(len(allocations))
        order_lines = [
            OrderLine(sku=a.sku, quantity=a.quantity, unit_price=prices[a.sku], location=a.location)
            for a in allocations
        ]
        total = sum((prices[a.sku] * a.quantity for a in allocations), Decimal("0"))
        placed_event = OrderPlaced(
            order_id=order_id,
            lines=order_lines,
            total=total,
            currency="EUR",
            fulfilment=Fulfilment(method=method, location=location),
            oversold=[OversoldLine.model_validate(line) for line in oversold],
            **_attribution(customer_id),
        )
        meta = {"actor": actor}

        def event(event_data: EventData, what: str, *, about_the_customer: bool = True) -> store.NewEvent:
            event_id = order_event_id(order_id, what)
            return store.NewEvent.of(
                event_data,
                id=event_id,
                channel=channel,
                # A stock movement is about the shelf, not the customer (the order's events are): kept off their
                # timeline and out of their activity, where it read as "Other activity" and counted as engagement.
                customer_id=customer_id if about_the_customer else None,
                occurred_at=occurred_at,
                metadata=meta,
            )

        order_events = [event(placed_event, "placed")]
        if method == "counter":
            order_events.append(event(OrderPaid(order_id=order_id, amount=total), "paid"))
            order_events.append(event(OrderCollected(order_id=order_id, location=location), "collected"))
        appends = [store.StreamAppend(f"order-{order_id}", order_events, expected_version=store.NO_STREAM)]
        for a in allocations:
            stock_event = (
                event(
                    StockSold(sku=a.sku, location=a.location, quantity=a.quantity, order_id=order_id),
                    f"sell:{a.sku}@{a.location}",
                    about_the_customer=False,
                )
                if method == "counter"
                else event(
                    StockReserved(sku=a.sku, location=a.location, quantity=a.quantity, order_id=order_id),
                    f"reserve:{a.sku}@{a.location}",
                    about_the_customer=False,
                )
            )
            row = rows.get((a.sku, a.location))  # none: a sku never stocked there, sold by a shop all the same
            version = row.version if row else store.NO_STREAM
            appends.append(store.StreamAppend(stock_stream(a.sku, a.location), [stock_event], expected_version=version))
        try:
            placed = store.append_batches(appends, savepoint=False)[0].event  # a refusal ends this transaction anyway
        except EventValidationError as exc:
            # The store's checks, before it writes: lines split over many locations can make `order.placed` larger
            # than the store keeps one event. The request's lines say why, not the event's data.
            if any(error.index == 0 and error.code == "too_large" for error in exc.errors):
                raise _too_many_lines(len(allocations)) from None
            raise
    if method == "counter":
        return Order.objects.get(id=order_id), True, []  # paid and collected too: as the projection left it
    # What the projection wrote, built by the same function: the answer costs no read.
    order, lines = order_from_placed(
        data=placed.data,
        customer_id=placed.customer_id,
        channel=placed.channel,
        occurred_at=placed.occurred_at,
        version=placed.version,
    )
    stored: list[Model] = [order, *lines]
    for instance in stored:
        instance._state.adding, instance._state.db = False, connection.alias  # as if loaded: they are stored
    return with_lines(order, lines), True, oversold


def _too_many_lines(count: int) -> InvalidFields:
    return InvalidFields.of(
        "lines",
        f"{count} lines once allocated to the locations that hold the stock: too many to record as one order; "
        "place it as several orders",
        "too_many_lines",
    )


def _same_request(
    order: Order, customer_id: uuid.UUID, channel: str, wanted: dict[str, int], method: str, location: str
) -> bool:
    per_sku: Counter[str] = Counter()
    for line in order.lines.all():
        per_sku[line.sku] += line.quantity
    return bool(
        _same_person(order.customer_id, customer_id)
        and order.channel == channel
        and order.fulfilment_method == method
        and order.fulfilment_location == location
        and dict(per_sku) == wanted
    )


def _same_person(placed_for: uuid.UUID, customer_id: uuid.UUID) -> bool:
    """The order keeps the id it was placed for; a resend resolves its customer through merges made since."""
    if placed_for == customer_id:
        return True
    try:
        return customer_resolve_id(customer_id=placed_for) == customer_resolve_id(customer_id=customer_id)
    except CustomerNotFound:
        return False


def _allocate(
    wanted: dict[str, int], rows: dict[tuple[str, str], StockLevel], candidates: list[str], method: str
) -> list[Allocation] | None:
    """Where each line is reserved. Pickup: the store, or nothing. Shipping: one location that holds every line
    (warehouses first, then the one with most of these items), else each line from one location that holds it,
    else the line split across locations, most available first; None when even that falls short."""

    def available(sku: str, code: str) -> int:
        row = rows.get((sku, code))
        return row.available if row else 0

    if method == FulfilmentMethod.PICKUP or len(candidates) == 1:
        code = candidates[0]
        if all(available(sku, code) >= qty for sku, qty in wanted.items()):
            return [Allocation(sku, qty, code) for sku, qty in wanted.items()]
        return None
    kinds = dict(Location.objects.filter(code__in=candidates).values_list("code", "kind"))

    def preference(code: str) -> tuple[bool, int, str]:
        return (kinds.get(code) != LocationKind.WAREHOUSE, -sum(available(s, code) for s in wanted), code)

    ordered = sorted(candidates, key=preference)
    for code in ordered:
        if all(available(sku, code) >= qty for sku, qty in wanted.items()):
            return [Allocation(sku, qty, code) for sku, qty in wanted.items()]
    allocations = []
    for sku, qty in wanted.items():
        whole = next((code for code in ordered if available(sku, code) >= qty), None)
        if whole is not None:
            allocations.append(Allocation(sku, qty, whole))
            continue
        left = qty
        for code in sorted(ordered, key=lambda c: (-available(sku, c), c)):
            take = min(left, available(sku, code))
            if take > 0:
                allocations.append(Allocation(sku, take, code))
                left -= take
        if left:
            return None
    return allocations


def _shortage(
    wanted: dict[str, int], rows: dict[tuple[str, str], StockLevel], method: str, location: str
) -> list[dict[str, Any]]:
    found = availability(skus=wanted)
    lines = []
    for sku, qty in wanted.items():
        row = rows.get((sku, location)) if location else None
        here = row.available if row else 0
        total = sum(entry["available"] for entry in found[sku])
        line = {"sku": sku, "requested": qty, "available": found[sku]}
        if location:
            line["available_here"] = here
            line["is_short"] = here < qty
        else:
            line["is_short"] = total < qty
        lines.append(line)
    return lines


def _attribution(customer_id: uuid.UUID) -> dict[str, Any]:
    """The latest abandoned-cart reminder this customer got within the window, not yet credited to an order."""
    since = timezone.now() - timedelta(days=settings.ORDERS_REMINDER_ATTRIBUTION_DAYS)
    carts, orders = Cart._meta.db_table, Order._meta.db_table
    found = _rows(
        f"SELECT c.cart_id, c.reminder_message_id FROM {carts} c "  # noqa: S608 - placeholders only
        "WHERE c.customer_id = %s AND c.abandoned_at >= %s AND c.reminder_message_id > '' "
        f"AND NOT EXISTS (SELECT 1 FROM {orders} o WHERE o.reminder_cart_id = c.cart_id) "
        "ORDER BY c.abandoned_at DESC LIMIT 1",
        [
            Cart._meta.get_field("customer_id").get_db_prep_value(customer_id, connection),
            connection.ops.adapt_datetimefield_value(since),
        ],
    )
    if not found:
        return {}
    cart_id, message_id = found[0]
    return {"reminder_cart_id": cart_id, "attributed_message_id": message_id}


# --- Reads on the placement path ----------------------------------------------------------------------------------
# Raw SQL: every order runs these, and building each query through the ORM cost more CPU than PostgreSQL spent
# answering it. Plain columns only (strings, numbers, booleans), which need no conversion on either database.


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def _one(sql: str, params: Sequence[Any]) -> Any:
    rows = _rows(sql, params)
    return rows[0][0] if rows else None


def _products(skus: list[str]) -> dict[str, tuple[Decimal, bool]]:
    """{sku: (price, is_active)} of the known skus among these."""
    if not skus:
        return {}
    marks = ", ".join(["%s"] * len(skus))
    found = _rows(f"SELECT sku, price, is_active FROM {Product._meta.db_table} WHERE sku IN ({marks})", skus)  # noqa: S608
    # SQLite answers a decimal column as a float and a boolean as 0/1: normalised as the ORM would.
    return {sku: (Decimal(str(price)).quantize(CENT), bool(active)) for sku, price, active in found}
