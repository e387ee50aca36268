"""WooCommerce webhook payloads (REST API v3 shapes: Order, Customer) in our terms."""

from typing import Any

from .shop import ShopCustomer, ShopOrder, Unprocessable, lines_of, need, text, when

TOPICS = ("order.created", "order.updated", "customer.created", "customer.updated")
PAID_STATUSES = ("processing", "completed", "refunded")


def customer(payload: Any, *, platform_id: Any = None) -> ShopCustomer:
    person = payload if isinstance(payload, dict) else {}
    name = " ".join(text(person.get(k)) for k in ("first_name", "last_name") if text(person.get(k)))
    return ShopCustomer(
        platform_id="" if not platform_id or str(platform_id) == "0" else str(platform_id),
        email=text(person.get("email")),
        phone=text(person.get("phone")),
        name=name,
    )


def order(payload: Any) -> ShopOrder:
    order_id = need(payload, "id", int | str)
    status = text(need(payload, "status", str))
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    created_gmt = payload.get("date_created_gmt")
    if created_gmt is not None and not isinstance(created_gmt, str):
        raise Unprocessable("unknown_shape", "date_created_gmt: not a string")
    return ShopOrder(
        platform_id=str(order_id),
        customer=customer(billing, platform_id=payload.get("customer_id")),
        lines=lines_of(need(payload, "line_items", list), where="line_items"),
        created_at=when(created_gmt and created_gmt + "+00:00") or when(payload.get("date_created")),
        is_paid=status in PAID_STATUSES or bool(payload.get("date_paid_gmt")),
        is_fulfilled=status == "completed",
        is_cancelled=status == "cancelled",
        is_refunded=status == "refunded",
    )


def customer_record(payload: Any) -> ShopCustomer:
    customer_id = need(payload, "id", int | str)
    billing = payload.get("billing") if isinstance(payload.get("billing"), dict) else {}
    found = customer({**payload, "phone": billing.get("phone", "")}, platform_id=customer_id)
    if not found.email and not found.platform_id:
        raise Unprocessable("unknown_shape", "a customer without id or email")
    return found


def topic_known(topic: str) -> None:
    if topic not in TOPICS:
        raise Unprocessable("unknown_topic", f"topic {topic!r} is not handled; handled: {', '.join(TOPICS)}")
