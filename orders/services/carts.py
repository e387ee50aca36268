"""Abandoned carts: a cart idle past ORDERS_CART_IDLE_MINUTES becomes `cart.abandoned`, with one reminder.

Run by Celery beat (orders.abandon_idle_carts). For each idle open cart, in one transaction: decide whether to
remind (not if the customer placed an order in any channel since the cart started; only on a channel whose
marketing consent allows it), send, and append `cart.abandoned` with the message id. The event's id derives from
the cart id and it is appended at the cart stream's version, so a cart is abandoned (and reminded) at most once,
even when two workers run the job at the same time, and a cart that moved meanwhile is left for the next run.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from backoffice.eventstore import projector, store
from backoffice.eventstore.errors import ConcurrencyError

from ..events import CartAbandoned, CartItem
from ..models import Cart, CartStatus, Order
from ..projections import Carts
from .notifications import cart_remind
from .stock import NAMESPACE

ACTOR = "orders.abandon_idle_carts"


@dataclass(frozen=True)
class CartDecision:
    cart_id: str
    customer_id: uuid.UUID | None
    reminder_message_id: str
    reminder_channel: str
    reminder_skipped: str


def carts_abandon_idle(*, now: datetime | None = None, limit: int = 500) -> list[CartDecision]:
    """Mark the carts idle past the threshold as abandoned and remind their customers. Safe to run twice."""
    now = now or timezone.now()
    projector.catch_up(Carts.name)
    idle_since = now - timedelta(minutes=settings.ORDERS_CART_IDLE_MINUTES)
    candidates = list(
        Cart.objects.filter(status=CartStatus.OPEN, abandoned_at__isnull=True, last_activity_at__lt=idle_since)
        .exclude(items={})
        .order_by("last_activity_at")
        .values_list("cart_id", flat=True)[:limit]
    )
    decisions = []
    for cart_id in candidates:
        decision = cart_abandon(cart_id=cart_id, now=now)
        if decision is not None:
            decisions.append(decision)
    return decisions


def cart_abandon(*, cart_id: str, now: datetime) -> CartDecision | None:
    """Abandon one cart. None when it has no items, is no longer open, or moved since it was read."""
    with transaction.atomic():
        cart = Cart.objects.select_for_update().filter(cart_id=cart_id).first()
        if cart is None or cart.status != CartStatus.OPEN or cart.abandoned_at is not None:
            return None
        items = [
            {"sku": sku, "quantity": item["quantity"], "unit_price": str(Decimal(item["unit_price"]))}
            for sku, item in sorted(cart.items.items())
        ]
        if not items:
            return None
        message_id, channel, skipped = _remind(cart, items, now)
        abandoned = CartAbandoned(
            cart_id=cart_id,
            items=[CartItem.model_validate(item) for item in items],
            idle_minutes=max(int((now - cart.last_activity_at).total_seconds() // 60), 0),
            reminder_message_id=message_id,
            reminder_channel=channel,
            reminder_skipped=skipped,
        )
        event = store.NewEvent.of(
            abandoned,
            id=uuid.uuid5(NAMESPACE, f"cart:{cart_id}:abandoned"),
            channel=cart.channel or None,
            customer_id=cart.customer_id,
            occurred_at=now,
            metadata={"actor": ACTOR},
        )
        try:
            with transaction.atomic():
                store.append(f"cart-{cart_id}", [event], expected_version=cart.version)
        except ConcurrencyError:
            # The customer came back to the cart after we read it: not idle any more, and nothing was sent,
            # because the reminder is rolled back with this transaction.
            transaction.set_rollback(True)
            return None
    return CartDecision(cart_id, cart.customer_id, message_id, channel, skipped)


def _ordered_since(cart: Cart) -> bool:
    return (
        cart.customer_id is not None
        and Order.objects.filter(customer_id=cart.customer_id, placed_at__gte=cart.started_at).exists()
    )


def _reminded_elsewhere() -> bool:
    """Asked of the higher layers that may own the reminder (ORDERS_CART_REMINDER_OWNERS: dotted paths of callables
    answering whether they remind abandoned carts), the way messaging asks its send policies."""
    return any(import_string(path)() for path in settings.ORDERS_CART_REMINDER_OWNERS)


def _remind(cart: Cart, items: list[dict[str, Any]], now: datetime) -> tuple[str, str, str]:
    """(message id, channel, reason skipped): one reminder on the customer's preferred channel that allows
    marketing, unless they ordered since the cart started (in any channel) or it is too late to be useful."""
    if cart.customer_id is None:
        return "", "", "no_customer"
    if _reminded_elsewhere():
        # A live journey starts on cart.abandoned (campaigns' abandoned-cart template): its steps are the reminder,
        # with the same guarantees (consent, once per cart, none after an order in any channel).
        return "", "", "journey"
    if _ordered_since(cart):
        return "", "", "ordered_since"
    if now - cart.last_activity_at > timedelta(hours=settings.ORDERS_CART_REMINDER_MAX_AGE_HOURS):
        # Found late (after an outage, or in imported history): a reminder days later would be noise.
        return "", "", "too_old"
    message_id, channel = cart_remind(cart_id=cart.cart_id, customer_id=cart.customer_id, items=items, actor=ACTOR)
    if not message_id:
        return "", "", "no_channel"
    return message_id, channel, ""
