"""The order lifecycle: pay, ready, collect, ship, deliver, cancel, return.

Each step runs in one transaction: lock the order row (and the stock rows it moves), check the step is allowed from
the current status, append the order event and the stock events together at the versions read, and tell the
customer when the step matters. Event ids derive from the order, its version and the step: a step retried within
one call is a duplicate, never a second sale or refund. A step sent again later (a client's retry after a timeout,
a form posted twice) is recognised by its `step_id`, the caller's idempotency key: its events' ids derive from it,
and a step whose events are stored already is answered with the order as it is, writing nothing.
"""

import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import schema, store
from backoffice.eventstore.schema import EventData
from backoffice.eventstore.vocabulary import FulfilmentMethod

from ..errors import (
    IllegalTransition,
    InsufficientStock,
    InvalidField,
    InvalidFields,
    NotYourLocation,
    OrderNotFound,
    StepIdConflict,
)
from ..events import (
    OrderCancelled,
    OrderCollected,
    OrderDelivered,
    OrderPaid,
    OrderReady,
    OrderReturned,
    OrderShipped,
    ReturnedLine,
    StockReleased,
    StockReturned,
    StockSold,
)
from ..models import Location, Order, OrderLine, OrderStatus, StockLevel
from . import notifications
from .orders import order_event_id as _id
from .stock import availability, levels_locked, stock_stream, with_retry

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
NOTIFY_WITHIN: Final = timedelta(hours=24)
# The order event each action writes: with a step id, its id tells a step already taken.
ACTION_EVENTS: Final[dict[str, type[EventData]]] = {
    "pay": OrderPaid,
    "ready": OrderReady,
    "collect": OrderCollected,
    "ship": OrderShipped,
    "deliver": OrderDelivered,
    "cancel": OrderCancelled,
    "return": OrderReturned,
}
# Actions that only an order of one fulfilment method takes.
METHOD_ONLY: Final = {
    "ready": FulfilmentMethod.PICKUP,
    "collect": FulfilmentMethod.PICKUP,
    "ship": FulfilmentMethod.SHIP,
    "deliver": FulfilmentMethod.SHIP,
}


def order_act(
    *,
    order_id: str,
    action: str,
    actor: str,
    channel: str | None = None,
    acting_location: str | None = None,
    location: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
    restock: bool = True,
    step_id: uuid.UUID | None = None,
) -> Order:
    """One lifecycle step: pay, ready, collect, ship, deliver, cancel, return.

    `step_id`: the caller's idempotency key. The same step sent again with it answers the order as it is now and
    writes nothing; the id used for another action, or for a return of other lines or at another location, raises
    StepIdConflict.

    A return with `restock=False` refunds the lines while the customer keeps the goods (damaged, goodwill): the
    `order.returned` says so and no stock comes back to `location`.

    `acting_location` (store staff) limits every step to orders of that store alone (fulfilment and every line's
    stock there), and returns to that store as the place the goods come back to.
    Raises OrderNotFound, InvalidFields, NotYourLocation, or IllegalTransition with the current status.
    """
    if action not in ACTIONS:
        raise InvalidFields(
            [InvalidField("action", f"unknown action {action!r}; one of {', '.join(ACTIONS)}", "invalid_choice")]
        )
    if channel is not None and channel not in schema.CHANNELS:
        raise InvalidFields([InvalidField("channel", f"unknown channel {channel!r}", "invalid_choice")])
    return with_retry(
        lambda: _act(
            order_id, action, actor, channel, acting_location, location, lines, reason, occurred_at, restock, step_id
        )
    )


def _act(
    order_id: str,
    action: str,
    actor: str,
    channel: str | None,
    acting_location: str | None,
    location: str | None,
    lines: list[dict[str, Any]] | None,
    reason: str,
    occurred_at: datetime | None,
    restock: bool,
    step_id: uuid.UUID | None,
) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(id=order_id).first()
        if order is None:
            raise OrderNotFound(order_id)
        order_lines = list(order.lines.all())
        if acting_location is not None and action != "return":
            # Store staff act on their store's orders only: every unit of it is reserved there (or sold there), and a
            # pickup is collected there. A return is different: any store takes one back, into its own stock.
            touched = {order.fulfilment_location} | {line.location_code for line in order_lines}
            foreign = touched - {"", acting_location}
            if foreign:
                raise NotYourLocation("order", ", ".join(sorted(foreign)))
        if step_id is not None and _step_taken(order_id, action, step_id, location, lines, restock):
            return order
        if (
            order.status not in ALLOWED_FROM[action]
            or METHOD_ONLY.get(action, order.fulfilment_method) != order.fulfilment_method
        ):
            raise IllegalTransition(order_id, action, order.status, allowed_actions(order))
        step_channel = channel or ("store" if acting_location else order.channel)
        meta = {"actor": actor}
        step = f"step:{step_id}" if step_id is not None else order.version + 1
        order_events: list[store.NewEvent] = []
        stock_events: list[tuple[str, str, store.NewEvent]] = []

        def new_event(event: EventData, what: str, *, about_the_customer: bool = True) -> store.NewEvent:
            event_id = _id(order_id, f"{step}:{what}")
            return store.NewEvent.of(
                event,
                id=event_id,
                channel=step_channel,
                # Stock movements are about the shelf, not the customer (as in order_place).
                customer_id=order.customer_id if about_the_customer else None,
                occurred_at=occurred_at,
                metadata=meta,
            )

        def order_event(event: EventData) -> None:
            order_events.append(new_event(event, event.type_name))

        def stock_event(sku: str, code: str, event: EventData) -> None:
            stock_events.append(
                (sku, code, new_event(event, f"{event.type_name}:{sku}@{code}", about_the_customer=False))
            )

        notify = None
        refund_amount: Decimal | None = None

        def sold(line: OrderLine) -> None:
            sku, code = line.sku, line.location_code
            event = StockSold(sku=sku, location=code, quantity=line.quantity, order_id=order_id, from_reservation=True)
            stock_event(sku, code, event)

        if action == "pay":
            order_event(OrderPaid(order_id=order_id, amount=order.total, currency=order.currency))
        elif action == "ready":
            order_event(OrderReady(order_id=order_id, location=order.fulfilment_location))
            notify = "ready"
        elif action == "collect":
            order_event(OrderCollected(order_id=order_id, location=order.fulfilment_location))
            for line in order_lines:
                sold(line)
        elif action == "ship":
            order_event(OrderShipped(order_id=order_id))
            for line in order_lines:
                sold(line)
            notify = "shipped"
        elif action == "deliver":
            order_event(OrderDelivered(order_id=order_id))
        elif action == "cancel":
            order_event(OrderCancelled(order_id=order_id, reason=reason))
            for line in order_lines:
                released = StockReleased(
                    sku=line.sku, location=line.location_code, quantity=line.quantity, order_id=order_id
                )
                stock_event(line.sku, line.location_code, released)
        else:
            returned, refund, location = _validate_return(order, order_lines, location, lines, acting_location)
            order_event(
                OrderReturned(
                    order_id=order_id,
                    location=location,
                    lines=[ReturnedLine.model_validate(line) for line in returned],
                    refund_amount=refund,
                    currency=order.currency,
                    restocked=restock,
                )
            )
            for returned_line in returned if restock else ():
                sku, quantity = returned_line["sku"], returned_line["quantity"]
                back = StockReturned(sku=sku, location=location, quantity=quantity, order_id=order_id)
                stock_event(sku, location, back)
            notify = "refund"
            refund_amount = refund

        rows = levels_locked((sku, code) for sku, code, _ in stock_events)
        _check_on_shelf(stock_events, rows)
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
        # A step recorded long after it happened (imported history) is not told again.
        if notify and (occurred_at is None or timezone.now() - occurred_at < NOTIFY_WITHIN):
            notifications.order_notify(
                order=order, step=notify, actor=actor, refund_amount=refund_amount, is_restocked=restock
            )
        return order


def order_step_recorded(*, order_id: str, action: str, step_id: uuid.UUID) -> bool:
    """Whether the step `action` with this `step_id` (a form's id) is recorded already: a page posted again answers
    "already recorded" from this, before it checks its input against the order as it is now."""
    return bool(store.stored_events([_id(order_id, f"step:{step_id}:{ACTION_EVENTS[action].type_name}")]))


def _step_taken(
    order_id: str,
    action: str,
    step_id: uuid.UUID,
    location: str | None,
    lines: list[dict[str, Any]] | None,
    restock: bool,
) -> bool:
    """Whether this step was taken already with this id (then the caller answers the order as it is). The id of
    another step, or of a return of other goods, raises StepIdConflict."""
    ids = {_id(order_id, f"step:{step_id}:{event.type_name}"): event.type_name for event in ACTION_EVENTS.values()}
    stored = [event for _, event in store.stored_events(ids).values()]
    if not stored:
        return False
    event = stored[0]  # one at most: a second action under the id was refused
    if event.type != ACTION_EVENTS[action].type_name:
        raise StepIdConflict(str(step_id), f"it was used for {event.type}")
    if action == "return":
        asked: Counter[str] = Counter()
        for line in lines or ():
            asked[str(line.get("sku"))] += line.get("quantity") or 0
        taken = Counter({line["sku"]: line["quantity"] for line in event.data["lines"]})
        if (
            (location and location != event.data["location"])
            or (lines is not None and asked != taken)
            or restock != event.data.get("restocked", True)
        ):
            raise StepIdConflict(str(step_id), "it was used for a return of other goods or at another place")
    return True


def _check_on_shelf(
    stock_events: list[tuple[str, str, store.NewEvent]], rows: dict[tuple[str, str], StockLevel]
) -> None:
    """A reserved unit leaves the shelf when collected or shipped. A physical count may have found fewer units than
    were reserved (theft, damage): then the step is refused, with where else the sku is, rather than on-hand < 0."""
    short = []
    for sku, code, event in stock_events:
        if event.type == StockSold.type_name:
            row = rows.get((sku, code))
            if row is None or row.on_hand < event.data["quantity"]:
                short.append((sku, code, event.data["quantity"], row.on_hand if row else 0))
    if short:
        found = availability(skus=[sku for sku, *_ in short])
        raise InsufficientStock(
            [
                {"sku": sku, "requested": qty, "location": code, "on_hand_here": on_hand, "available": found[sku]}
                for sku, code, qty, on_hand in short
            ]
        )


def _validate_return(
    order: Order,
    order_lines: list[OrderLine],
    location: str | None,
    lines: list[dict[str, Any]] | None,
    acting_location: str | None,
) -> tuple[list[dict[str, Any]], Decimal, str]:
    """The lines to take back, the refund and the location they come back to (validated), or InvalidFields."""
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
        for index, wanted_line in enumerate(lines):
            sku, qty = wanted_line.get("sku"), wanted_line.get("quantity")
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
    if errors or not location:
        raise InvalidFields(errors)
    if acting_location is not None and acting_location != location:
        raise NotYourLocation("location", location)
    returned = [{"sku": sku, "quantity": qty} for sku, qty in wanted.items()]
    refund = sum((price[sku] * qty for sku, qty in wanted.items()), Decimal("0"))
    return returned, refund, location


def allowed_actions(order: Order) -> list[str]:
    return [
        action
        for action in ACTIONS
        if order.status in ALLOWED_FROM[action]
        and METHOD_ONLY.get(action, order.fulfilment_method) == order.fulfilment_method
    ]
