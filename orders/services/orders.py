"""Orders from every channel: placement with reservation, the lifecycle, and returns anywhere.

Placement and every step run in one transaction: lock the stock rows (and the order row), check, append to the
order stream and the stock streams together (`append_batches`: all or nothing), let the inline projections update
the read models. Event ids derive from the order id, so a placement retried after a crash or by a second request
with the same id can never reserve twice: the store answers the same ids as duplicates.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import schema, store
from backoffice.eventstore.errors import EventValidationError
from customers.models import Customer
from customers.selectors import CustomerNotFound, customer_resolve_id
from customers.services.ingestion import customer_register

from ..errors import (
    IllegalTransition,
    InsufficientStock,
    InvalidField,
    InvalidFields,
    NotYourLocation,
    OrderIdConflict,
    OrderNotFound,
)
from ..events import ORDER_ID_PATTERN
from ..models import Cart, Location, LocationKind, Order, OrderStatus, Product, StockLevel
from . import notifications
from .stock import NAMESPACE, availability, levels_locked, stock_stream, with_retry

ACTIONS: Final = ("pay", "ready", "collect", "ship", "deliver", "cancel", "return")
# Which statuses each action leaves from. Pickup: placed -> paid -> ready -> collected; shipping: placed -> paid ->
# shipped -> delivered; cancel until the goods leave; return once the customer has them (or refused a delivery).
ALLOWED_FROM: Final = {
    "pay": (OrderStatus.PLACED,),
    "ready": (OrderStatus.PAID,),
    "collect": (OrderStatus.READY,),
    "ship": (OrderStatus.PAID,),
    "deliver": (OrderStatus.SHIPPED,),
    "cancel": (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.READY),
    "return": (OrderStatus.COLLECTED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_RETURNED),
}
METHOD_ONLY: Final = {"ready": "pickup", "collect": "pickup", "ship": "ship", "deliver": "ship"}


def _id(order_id: str, what: str) -> uuid.UUID:
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
    lines: list[dict],
    fulfilment: dict,
    actor: str,
    occurred_at: datetime | None = None,
) -> tuple[Order, bool]:
    """Place an order and reserve its stock. Returns (order, created).

    `customer`: our customer id, or identifiers ({"email": ...}) resolved like any interaction's sender.
    Idempotent on `order_id`: the same content again answers the order (created False), other content raises
    OrderIdConflict. Raises InvalidFields or InsufficientStock (per-line availability per location) before anything
    is written.
    """
    is_new_id = order_id is None
    order_id = order_id or str(uuid.uuid4())
    wanted, prices, method, location = _validate_order(order_id, channel, lines, fulfilment)
    return with_retry(
        lambda: _place(order_id, is_new_id, customer, channel, wanted, prices, method, location, actor, occurred_at)
    )


def _validate_order(order_id, channel, lines, fulfilment) -> tuple[dict[str, int], dict[str, Decimal], str, str]:
    import re

    errors: list[InvalidField] = []
    if not re.match(ORDER_ID_PATTERN, order_id):
        errors.append(InvalidField("id", "letters, digits, '.', '_' and '-', at most 64", "invalid"))
    if channel not in schema.CHANNELS:
        errors.append(InvalidField("channel", f"unknown channel {channel!r}", "invalid_choice"))
    if not lines:
        errors.append(InvalidField("lines", "an order needs at least one line", "required"))
    wanted: Counter[str] = Counter()
    skus = {line.get("sku") for line in lines}
    products = Product.objects.in_bulk([s for s in skus if isinstance(s, str)])
    for index, line in enumerate(lines):
        sku, quantity = line.get("sku"), line.get("quantity")
        product = products.get(sku)
        if product is None:
            errors.append(InvalidField(f"lines.{index}.sku", f"unknown sku {sku!r}", "unknown_sku"))
        elif not product.is_active:
            errors.append(InvalidField(f"lines.{index}.sku", f"{sku} is not on sale", "inactive_sku"))
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            errors.append(InvalidField(f"lines.{index}.quantity", "must be an integer greater than zero", "min_value"))
        elif product is not None:
            wanted[sku] += quantity
    method = fulfilment.get("method")
    location = fulfilment.get("location") or ""
    if method not in ("ship", "pickup"):
        errors.append(InvalidField("fulfilment.method", "one of ship, pickup", "invalid_choice"))
    elif method == "pickup" and not location:
        errors.append(InvalidField("fulfilment.location", "a pickup needs the store", "required"))
    if location:
        kind = Location.objects.filter(code=location).values_list("kind", flat=True).first()
        if kind is None:
            errors.append(InvalidField("fulfilment.location", f"unknown location {location!r}", "unknown_location"))
        elif method == "pickup" and kind != LocationKind.STORE:
            errors.append(InvalidField("fulfilment.location", f"{location} is not a store", "not_a_store"))
    if errors:
        raise InvalidFields(errors)
    return dict(wanted), {sku: products[sku].price for sku in wanted}, method, location


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
        found = list(Customer.objects.filter(id=customer_id).values_list("merged_into_id", flat=True))
        if found == [None]:
            return customer_id
        return customer_resolve_id(customer_id=customer_id)
    except ValueError:
        raise InvalidFields([InvalidField("customer", "a customer id or identifiers", "invalid")]) from None
    except CustomerNotFound:
        raise InvalidFields([InvalidField("customer", "no such customer", "not_found")]) from None


def _place(
    order_id, is_new_id, customer, channel, wanted, prices, method, location, actor, occurred_at
) -> tuple[Order, bool]:
    with transaction.atomic():
        customer_id = _resolve_customer(customer, channel, actor)
        if method == "pickup" or location:
            candidates = [location]
        else:
            candidates = list(Location.objects.values_list("code", flat=True))
        rows = levels_locked((sku, code) for sku in wanted for code in candidates)
        # Checked after the locks: a concurrent request with the same id has committed by now, or will wait for us.
        existing = None if is_new_id else Order.objects.filter(id=order_id).first()
        if existing is not None:
            if _same_request(existing, customer_id, channel, wanted, method, location):
                return existing, False
            raise OrderIdConflict(order_id)
        allocations = _allocate(wanted, rows, candidates, method)
        if allocations is None:
            raise InsufficientStock(_shortage(wanted, rows, method, location))
        order_lines = [
            {"sku": a.sku, "quantity": a.quantity, "unit_price": str(prices[a.sku]), "location": a.location}
            for a in allocations
        ]
        total = sum((prices[a.sku] * a.quantity for a in allocations), Decimal("0"))
        data = {
            "order_id": order_id,
            "lines": order_lines,
            "total": str(total),
            "currency": "EUR",
            "fulfilment": {"method": method, "location": location},
            **_attribution(customer_id),
        }
        meta = {"actor": actor}
        appends = [
            store.StreamAppend(
                f"order-{order_id}",
                [
                    store.NewEvent(
                        "order.placed", data, _id(order_id, "placed"), channel, customer_id, occurred_at, meta
                    )
                ],
                expected_version=store.NO_STREAM,
            )
        ]
        for a in allocations:
            row = rows[(a.sku, a.location)]
            reserved = {"sku": a.sku, "location": a.location, "quantity": a.quantity, "order_id": order_id}
            event_id = _id(order_id, f"reserve:{a.sku}@{a.location}")
            appends.append(
                store.StreamAppend(
                    stock_stream(a.sku, a.location),
                    [store.NewEvent("stock.reserved", reserved, event_id, channel, customer_id, occurred_at, meta)],
                    expected_version=row.version,
                )
            )
        store.append_batches(appends)
    # Read after commit: the append lock (held from the append to the commit) is held no longer than it must.
    return Order.objects.get(id=order_id), True


def _same_request(order: Order, customer_id, channel, wanted, method, location) -> bool:
    per_sku: Counter[str] = Counter()
    for line in order.lines.all():
        per_sku[line.sku] += line.quantity
    return (
        order.customer_id == customer_id
        and order.channel == channel
        and order.fulfilment_method == method
        and order.fulfilment_location == location
        and dict(per_sku) == wanted
    )


def _allocate(
    wanted: dict[str, int], rows: dict[tuple[str, str], StockLevel], candidates: list[str], method: str
) -> list[Allocation] | None:
    """Where each line is reserved. Pickup: the store, or nothing. Shipping: one location that holds every line
    (warehouses first, then the one with most of these items), else each line from one location that holds it,
    else the line split across locations, most available first; None when even that falls short."""

    def available(sku: str, code: str) -> int:
        row = rows.get((sku, code))
        return row.available if row else 0

    if method == "pickup" or len(candidates) == 1:
        code = candidates[0]
        if all(available(sku, code) >= qty for sku, qty in wanted.items()):
            return [Allocation(sku, qty, code) for sku, qty in wanted.items()]
        return None
    kinds = dict(Location.objects.filter(code__in=candidates).values_list("code", "kind"))

    def preference(code: str) -> tuple:
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


def _shortage(wanted, rows, method, location) -> list[dict]:
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


def _attribution(customer_id: uuid.UUID) -> dict:
    """The latest abandoned-cart reminder this customer got within the window, not yet credited to an order."""
    since = timezone.now() - timedelta(days=settings.ORDERS_REMINDER_ATTRIBUTION_DAYS)
    for cart in Cart.objects.filter(
        customer_id=customer_id, abandoned_at__gte=since, reminder_message_id__gt=""
    ).order_by("-abandoned_at")[:5]:
        if not Order.objects.filter(reminder_cart_id=cart.cart_id).exists():
            return {"reminder_cart_id": cart.cart_id, "attributed_message_id": cart.reminder_message_id}
    return {}


# --- Lifecycle ----------------------------------------------------------------------------------------------------


def order_act(
    *,
    order_id: str,
    action: str,
    actor: str,
    channel: str | None = None,
    acting_location: str | None = None,
    location: str | None = None,
    lines: list[dict] | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> Order:
    """One lifecycle step: pay, ready, collect, ship, deliver, cancel, return.

    `acting_location` (store staff) limits ready and collect to orders for that store and returns to it.
    Raises OrderNotFound, InvalidFields, NotYourLocation, or IllegalTransition with the current status.
    """
    if action not in ACTIONS:
        raise InvalidFields(
            [InvalidField("action", f"unknown action {action!r}; one of {', '.join(ACTIONS)}", "invalid_choice")]
        )
    if channel is not None and channel not in schema.CHANNELS:
        raise InvalidFields([InvalidField("channel", f"unknown channel {channel!r}", "invalid_choice")])
    return with_retry(
        lambda: _act(order_id, action, actor, channel, acting_location, location, lines, reason, occurred_at)
    )


def _act(order_id, action, actor, channel, acting_location, location, lines, reason, occurred_at) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(id=order_id).first()
        if order is None:
            raise OrderNotFound(order_id)
        if (
            order.status not in ALLOWED_FROM[action]
            or METHOD_ONLY.get(action, order.fulfilment_method) != order.fulfilment_method
        ):
            raise IllegalTransition(order_id, action, order.status, allowed_actions(order))
        order_lines = list(order.lines.all())
        if (
            action in ("ready", "collect")
            and acting_location is not None
            and acting_location != order.fulfilment_location
        ):
            raise NotYourLocation("order", order.fulfilment_location)
        step_channel = channel or ("store" if acting_location else order.channel)
        meta = {"actor": actor}
        step = order.version + 1
        order_events: list[store.NewEvent] = []
        stock_events: list[tuple[str, str, store.NewEvent]] = []

        def order_event(type_name: str, data: dict) -> None:
            order_events.append(
                store.NewEvent(
                    type_name,
                    {"order_id": order_id, **data},
                    _id(order_id, f"{step}:{type_name}"),
                    step_channel,
                    order.customer_id,
                    occurred_at,
                    meta,
                )
            )

        def stock_event(type_name: str, sku: str, code: str, data: dict) -> None:
            event = store.NewEvent(
                type_name,
                {"sku": sku, "location": code, "order_id": order_id, **data},
                _id(order_id, f"{step}:{type_name}:{sku}@{code}"),
                step_channel,
                order.customer_id,
                occurred_at,
                meta,
            )
            stock_events.append((sku, code, event))

        notify = None
        if action == "pay":
            order_event("order.paid", {"amount": str(order.total), "currency": order.currency})
        elif action == "ready":
            order_event("order.ready", {"location": order.fulfilment_location})
            notify = "ready"
        elif action == "collect":
            order_event("order.collected", {"location": order.fulfilment_location})
            for line in order_lines:
                stock_event(
                    "stock.sold", line.sku, line.location_code, {"quantity": line.quantity, "from_reservation": True}
                )
        elif action == "ship":
            order_event("order.shipped", {})
            for line in order_lines:
                stock_event(
                    "stock.sold", line.sku, line.location_code, {"quantity": line.quantity, "from_reservation": True}
                )
            notify = "shipped"
        elif action == "deliver":
            order_event("order.delivered", {})
        elif action == "cancel":
            order_event("order.cancelled", {"reason": reason})
            for line in order_lines:
                stock_event("stock.released", line.sku, line.location_code, {"quantity": line.quantity})
        else:
            returned, refund = _validate_return(order, order_lines, location, lines, acting_location)
            order_event(
                "order.returned",
                {"location": location, "lines": returned, "refund_amount": str(refund), "currency": order.currency},
            )
            for line in returned:
                stock_event("stock.returned", line["sku"], location, {"quantity": line["quantity"]})
            notify = "refund"

        rows = levels_locked((sku, code) for sku, code, _ in stock_events)
        appends = [store.StreamAppend(f"order-{order_id}", order_events, expected_version=order.version)]
        seen: dict[tuple[str, str], int] = {}
        for sku, code, event in stock_events:
            row = rows.get((sku, code))
            appends.append(
                store.StreamAppend(
                    stock_stream(sku, code),
                    [event],
                    expected_version=seen.get((sku, code), row.version if row else 0),
                )
            )
            seen[(sku, code)] = seen.get((sku, code), row.version if row else 0) + 1
        store.append_batches(appends)
        order.refresh_from_db()
        if notify:
            notifications.order_notify(order=order, step=notify, actor=actor)
        return order


def _validate_return(order, order_lines, location, lines, acting_location) -> tuple[list[dict], Decimal]:
    errors = []
    if not location:
        errors.append(
            InvalidField("location", "where the goods came back (a store, or the warehouse by post)", "required")
        )
    elif not Location.objects.filter(code=location).exists():
        errors.append(InvalidField("location", f"unknown location {location!r}", "unknown_location"))
    left: Counter[str] = Counter()
    price: dict[str, Decimal] = {}
    for line in order_lines:
        left[line.sku] += line.quantity - line.returned_quantity
        price.setdefault(line.sku, line.unit_price)
    if lines is None:
        wanted = Counter({sku: qty for sku, qty in left.items() if qty > 0})
    else:
        wanted = Counter()
        for index, line in enumerate(lines):
            sku, qty = line.get("sku"), line.get("quantity")
            if sku not in price:
                errors.append(InvalidField(f"lines.{index}.sku", f"{sku!r} is not in this order", "not_in_order"))
            if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
                errors.append(
                    InvalidField(f"lines.{index}.quantity", "must be an integer greater than zero", "min_value")
                )
            elif sku in price:
                wanted[sku] += qty
                if wanted[sku] > left[sku]:
                    errors.append(
                        InvalidField(
                            f"lines.{index}.quantity", f"only {left[sku]} of {sku} left to return", "max_value"
                        )
                    )
        if not lines:
            errors.append(InvalidField("lines", "at least one line", "required"))
    if errors:
        raise InvalidFields(errors)
    if acting_location is not None and acting_location != location:
        raise NotYourLocation("location", location)
    returned = [{"sku": sku, "quantity": qty} for sku, qty in wanted.items()]
    refund = sum((price[sku] * qty for sku, qty in wanted.items()), Decimal("0"))
    return returned, refund


def allowed_actions(order: Order) -> list[str]:
    return [
        action
        for action in ACTIONS
        if order.status in ALLOWED_FROM[action]
        and METHOD_ONLY.get(action, order.fulfilment_method) == order.fulfilment_method
    ]
