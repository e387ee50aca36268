"""Shopify webhook payloads (REST Admin API shapes: Order, Refund, Checkout, Customer) in our terms."""

from typing import Any

from .shop import (
    ShopCheckout,
    ShopCustomer,
    ShopOrder,
    ShopRefund,
    Unprocessable,
    lines_of,
    need,
    text,
    when,
)

ORDER_TOPICS = ("orders/create", "orders/paid", "orders/fulfilled", "orders/cancelled")
CHECKOUT_TOPICS = ("checkouts/create", "checkouts/update")
CUSTOMER_TOPICS = ("customers/create", "customers/update")
TOPICS = (*ORDER_TOPICS, "refunds/create", *CHECKOUT_TOPICS, *CUSTOMER_TOPICS)


def customer(payload: Any, *, fallback_email: Any = None, fallback_phone: Any = None) -> ShopCustomer:
    person = payload if isinstance(payload, dict) else {}
    name = " ".join(text(person.get(k)) for k in ("first_name", "last_name") if text(person.get(k)))
    return ShopCustomer(
        platform_id=text(person.get("id")),
        email=text(person.get("email") or fallback_email),
        phone=text(person.get("phone") or fallback_phone),
        name=name,
    )


def order(payload: Any) -> ShopOrder:
    order_id = need(payload, "id", int | str)
    lines = lines_of(need(payload, "line_items", list), where="line_items")
    financial = text(payload.get("financial_status"))
    fulfillment = text(payload.get("fulfillment_status"))
    return ShopOrder(
        platform_id=str(order_id),
        customer=customer(
            payload.get("customer"), fallback_email=payload.get("email"), fallback_phone=payload.get("phone")
        ),
        lines=lines,
        location_id=text(payload.get("location_id")),
        created_at=when(payload.get("created_at")),
        is_paid=financial in ("paid", "partially_refunded", "refunded"),
        is_fulfilled=fulfillment == "fulfilled",
        is_cancelled=bool(payload.get("cancelled_at")),
        # Shopify tells refunds by refunds/create, with the lines and where they came back: not from the status.
        is_refunded=False,
    )


# What a refund line's `restock_type` does to the goods: back on the shelf, kept by the customer, or never sent.
RESTOCK_TYPES = {"return": "returned", "legacy_restock": "returned", "no_restock": "kept", "cancel": "cancelled"}


def refund(payload: Any) -> ShopRefund:
    refund_id = need(payload, "id", int | str)
    order_id = need(payload, "order_id", int | str)
    items = need(payload, "refund_line_items", list)
    # Before `restock_type`, the refund's `restock` flag said it for every line.
    legacy = "kept" if payload.get("restock") is False else "returned"
    grouped: dict[str, list[dict[str, Any]]] = {"returned": [], "kept": [], "cancelled": []}
    for index, item in enumerate(items):
        where = f"refund_line_items.{index}"
        if not isinstance(item, dict):
            raise Unprocessable("unknown_shape", f"{where}: not an object")
        line_item = item.get("line_item")
        if not isinstance(line_item, dict):
            raise Unprocessable("unknown_shape", f"{where}.line_item: missing or not an object")
        restock_type = item.get("restock_type")
        if restock_type is not None and restock_type not in RESTOCK_TYPES:
            raise Unprocessable(
                "unknown_shape", f"{where}.restock_type: {restock_type!r} is not one of {', '.join(RESTOCK_TYPES)}"
            )
        what = RESTOCK_TYPES[restock_type] if restock_type is not None else legacy
        grouped[what].append({**line_item, "quantity": item.get("quantity")})
    returned, kept, cancelled = (
        lines_of(grouped[what], where="refund_line_items") if grouped[what] else [] for what in grouped
    )
    location = next((text(i.get("location_id")) for i in items if isinstance(i, dict) and i.get("location_id")), "")
    return ShopRefund(
        str(refund_id),
        str(order_id),
        returned,
        location,
        when(payload.get("created_at")),
        kept_lines=kept,
        cancelled_lines=cancelled,
    )


def checkout(payload: Any) -> ShopCheckout:
    token = text(need(payload, "token", str))
    if not token:
        raise Unprocessable("unknown_shape", "token: empty")
    items = need(payload, "line_items", list)
    return ShopCheckout(
        token=token,
        customer=customer(
            payload.get("customer"), fallback_email=payload.get("email"), fallback_phone=payload.get("phone")
        ),
        lines=lines_of(items, where="line_items") if items else [],
        currency=text(payload.get("currency")).upper() or "EUR",
        is_completed=bool(payload.get("completed_at")),
        order_id=text(payload.get("order_id")),
        updated_at=when(payload.get("updated_at")) or when(payload.get("created_at")),
    )


def customer_record(payload: Any) -> ShopCustomer:
    need(payload, "id", int | str)
    found = customer(payload)
    if not found.email and not found.phone and not found.platform_id:
        raise Unprocessable("unknown_shape", "a customer without id, email or phone")
    return found


def topic_known(topic: str) -> None:
    if topic not in TOPICS:
        raise Unprocessable("unknown_topic", f"topic {topic!r} is not handled; handled: {', '.join(TOPICS)}")
