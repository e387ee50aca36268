"""Orders from tracking traffic alone: a shop with no platform webhook sends `Order Completed` through its SDK, and
a source with an order location (TrackingSource.order_location) turns it into our order.

The order is placed in the same transaction as the call's events, so the buy stage, revenue, CLTV and the 360 view
work from SDK traffic alone, and a resent batch (its events found stored) places nothing again. The shop has already
sold it, so short stock does not refuse it: it is recorded with an oversell alert, like a platform's order. What no
stock can fix (an unknown sku, no lines, an order id already used with other lines) never refuses the call either:
the events are stored and the order waits in the dead-letter list, replayed after the fix.

A source without an order location keeps the old behaviour: `Order Completed` closes the cart only, because the
platform's webhook or `POST /api/v1/orders` brings the same order, and counting it twice would inflate revenue.
"""

import logging
import re
import uuid
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.utils.dateparse import parse_datetime

from backoffice import crypto
from orders.errors import InvalidFields, OrderIdConflict, OrdersError
from orders.services import order_place_oversell_allowed

from ..mapping.segment import ORDER_KEY
from ..models import DeadLetter, Origin, OversellAlert, TrackingSource

log = logging.getLogger(__name__)

TOPIC = "Order Completed"
NAMESPACE = uuid.UUID("6f1f5d0e-4d7b-4b8e-9b1e-3c2a7d9e5f10")
# Our order ids (orders.services: letters, digits, '.', '_', '-', at most 64); a shop's own id is kept when it fits,
# so an order also posted to POST /api/v1/orders under the same id is one order.
_OUR_ORDER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def tracking_order_id(*, source: TrackingSource, given: str) -> str:
    if _OUR_ORDER_ID.match(given):
        return given
    return "sdk-" + uuid.uuid5(NAMESPACE, f"{source.id}:{given}").hex


def tracking_orders_place(*, source: TrackingSource, orders: list[tuple[dict[str, Any], uuid.UUID | None]]) -> int:
    """Place the orders of these translated `Order Completed` items ({order_id, lines} with the customer their
    event was resolved to), in the caller's transaction. Returns how many were dead-lettered."""
    kept = 0
    for item, customer_id in orders:
        if not _place(source, item[ORDER_KEY], customer_id, parse_datetime(item["occurred_at"]), item["id"]):
            kept += 1
    return kept


def _place(
    source: TrackingSource,
    order: dict[str, Any],
    customer_id: uuid.UUID | None,
    occurred_at: datetime | None,
    item_id: str,
) -> bool:
    body = {
        "source_id": str(source.id),
        "order_id": order["order_id"],
        "lines": order["lines"],
        "customer_id": str(customer_id) if customer_id else None,
        "occurred_at": occurred_at.isoformat() if occurred_at else None,
    }
    try:
        with transaction.atomic():
            _apply(source, body)
        return True
    except (OrdersError, ValueError) as exc:
        code, reason = _refusal(exc)
    log.info("tracking order of source %s dead-lettered: %s", source.id, code)
    DeadLetter.objects.create(
        platform=Origin.TRACKING,
        shop_domain=source.name[:255],
        topic=TOPIC,
        delivery_id=item_id,
        body_encrypted=crypto.encrypt(orjson.dumps(body)),
        reason=reason[:2000],
        code=code[:40],
    )
    return False


def _refusal(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, InvalidFields):
        first = exc.errors[0]
        return first.code, "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    if isinstance(exc, OrderIdConflict):
        return "order_changed", f"{exc}: the order id is already used with other lines or another customer"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower(), f"{type(exc).__name__}: {exc}"


def _apply(source: TrackingSource, body: dict[str, Any]) -> None:
    if not source.order_location:
        raise ValueError("the source no longer places orders: set its order location")
    if not body["customer_id"]:
        raise ValueError("the event was resolved to no customer")
    order_id = tracking_order_id(source=source, given=body["order_id"])
    order, created, oversold = order_place_oversell_allowed(
        order_id=order_id,
        customer=body["customer_id"],
        channel=source.channel,
        lines=body["lines"],
        location=source.order_location,
        actor=f"tracking:{source.name}",
        occurred_at=parse_datetime(body["occurred_at"]) if body["occurred_at"] else None,
    )
    if created and oversold:
        OversellAlert.objects.get_or_create(
            order_id=order.id,
            defaults={"platform": Origin.TRACKING, "platform_order_id": body["order_id"][:64], "lines": oversold},
        )


def tracking_order_replay(*, letter: DeadLetter) -> tuple[bool, str, str]:
    """Place a dead-lettered tracking order again (after the fix). (applied, code, reason). The replay of every
    letter of origin `tracking` comes here: a refused message of a batch is handed to services.tracking."""
    body = orjson.loads(crypto.decrypt(letter.body_encrypted))
    if "message" in body:
        from .tracking import tracking_message_replay  # tracking imports this module: resolved at call time

        return tracking_message_replay(body=body)
    source = TrackingSource.objects.filter(id=body["source_id"]).first()
    if source is None:
        return False, "unknown_source", "the tracking source was deleted"
    try:
        with transaction.atomic():
            _apply(source, body)
    except (OrdersError, ValueError) as exc:
        code, reason = _refusal(exc)
        return False, code, reason
    return True, "", ""
