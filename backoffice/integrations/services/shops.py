"""Shop platform webhooks (Shopify, WooCommerce) into our customers, carts and orders.

A delivery is taken in one transaction: its receipt is inserted first (a resent or concurrent delivery id finds it
and changes nothing), then it is applied through the orders and customers services, or, when it cannot be applied
(unknown sku, unmapped location, a shape or topic we do not know, an order not in a state the step needs), stored as
received in the dead-letter list with the reason. Either way the platform gets its 2xx; a replay applies it later.

An order of the shop is our order on the web channel with an id derived from the platform's (uuid5), so every
topic about it (create, paid, fulfilled, cancelled, refund) finds it, places it if it was missed, and a replay or a
resend never places it twice. Stock short at the location does not refuse it: the shop has already sold it, so it
is recorded with an oversell alert. A lifecycle step refused after the placement (shipping units not on the shelf yet,
a payment missing) keeps the placement and the steps before it, and only the delivery waits in the dead-letter list:
its replay finds the order placed and takes the steps still missing. A status the order cannot reach from where it
stands (paid or shipped by the shop while cancelled here) is dead-lettered for staff, never answered applied.
"""

import base64
import hashlib
import hmac
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connection as connection_for_receipts
from django.utils import timezone

from backoffice import crypto
from backoffice.eventstore import projector
from backoffice.eventstore.errors import ConcurrencyError, EventStoreError, EventValidationError
from backoffice.eventstore.keys import KeyDestroyed
from backoffice.eventstore.vocabulary import Channel
from customers.identifiers import InvalidIdentifier, normalise
from customers.services import interactions_ingest
from customers.services.ingestion import customer_register
from orders import selectors as order_selectors
from orders.errors import IllegalTransition, InvalidFields, OrderIdConflict, OrderNotFound, OrdersError
from orders.events import CartCheckedOut, CartItemAdded, CartItemRemoved
from orders.services import order_act, order_place_oversell_allowed
from orders.vocabulary import OrderStatus

from ..mapping import shopify, woocommerce
from ..mapping.shop import ShopCheckout, ShopCustomer, ShopOrder, ShopRefund, Unprocessable
from ..models import (
    DeadLetter,
    DeadLetterStatus,
    Origin,
    Outcome,
    OversellAlert,
    Platform,
    ShopConnection,
    WebhookReceipt,
)
from .dead_letters import dead_letter_body_drop, dead_letter_subjects_record
from .tracking_orders import tracking_order_replay

log = logging.getLogger(__name__)
NAMESPACE = uuid.UUID("0b7d3c55-8f1e-4c1a-a3a5-2d6f0c9e7b21")
CHANNEL = Channel.WEB
ATTEMPTS = 3
_CENT = Decimal("0.01")


class StepRefused(Unprocessable):
    """A lifecycle step of a shop's order was refused after what came before it in the same delivery (the placement,
    the payment) was applied: that part stands, and the delivery waits in the dead-letter list for the step alone."""


class ShopWebhookRefused(Exception):
    """Refused before anything is stored: 401 (signature) or 400 (no delivery id)."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code = status, code
        super().__init__(message)


@dataclass(frozen=True)
class Delivery:
    platform: str
    shop_domain: str
    topic: str
    delivery_id: str
    body: bytes


# --- Connections and signatures ---------------------------------------------------------------------------------


def shop_connection_save(
    *,
    platform: str,
    shop_domain: str,
    secret: str | None = None,
    location_map: dict[str, Any] | None = None,
    default_location: str | None = None,
    is_active: bool | None = None,
) -> ShopConnection:
    """Create or change a shop connection. `secret` is stored encrypted (None: unchanged; "": use the environment's)."""
    if platform not in Platform.values:
        raise ValueError(f"unknown platform {platform!r}")
    with transaction.atomic():
        connection, _ = ShopConnection.objects.select_for_update().get_or_create(
            platform=platform, shop_domain=shop_domain.strip().lower()
        )
        if secret is not None:
            connection.secret_encrypted = crypto.encrypt(secret.encode()) if secret else ""
        if location_map is not None:
            connection.location_map = {str(key): str(value) for key, value in location_map.items()}
        if default_location is not None:
            connection.default_location = default_location
        if is_active is not None:
            connection.is_active = is_active
        connection.save()
    return connection


def _env_secret(platform: str) -> str:
    secret: str = (
        settings.SHOPIFY_WEBHOOK_SECRET if platform == Platform.SHOPIFY else settings.WOOCOMMERCE_WEBHOOK_SECRET
    )
    return secret


def webhook_secret(platform: str, shop_domain: str) -> tuple[str, ShopConnection | None]:
    """The secret a delivery from this shop is signed with (the connection's own, else the environment's), and
    the connection if there is one."""
    connection = _shop_connection(platform, shop_domain)
    if connection is not None and not connection.is_active:
        return "", connection
    if connection is not None and connection.secret_encrypted:
        return _decrypted_secret(connection.secret_encrypted), connection
    return _env_secret(platform), connection


def _shop_connection(platform: str, shop_domain: str) -> ShopConnection | None:
    """The connection of a shop, read on every delivery. A raw query of the ORM (Manager.raw: the model's own
    conversions, the same SQL on every database): compiling the queryset cost twice the query."""
    table = connection_for_receipts.ops.quote_name(ShopConnection._meta.db_table)
    found = ShopConnection.objects.raw(
        f"SELECT * FROM {table} WHERE platform = %s AND shop_domain = %s",  # noqa: S608 - the model's table
        [platform, shop_domain],
    )
    return next(iter(found), None)


@lru_cache(maxsize=64)
def _decrypted_secret(token: str) -> str:
    """A connection's secret, opened once per process for each stored token (Fernet's HMAC and AES cost a twentieth
    of a webhook's time). Keyed by the token read from the row on every delivery: a secret changed or a connection
    deactivated in the admin holds at the next delivery."""
    return crypto.decrypt(token).decode()


def signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """Shopify and WooCommerce sign the same way: base64 of HMAC-SHA256 over the raw body."""
    if not secret or not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, not a mismatch).
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


# --- Receiving --------------------------------------------------------------------------------------------------


def shop_webhook_receive(
    *, platform: str, shop_domain: str, topic: str, delivery_id: str, body: bytes, signature: str
) -> str:
    """Verify, deduplicate and apply one delivery. Returns the outcome (applied, dead_lettered, ignored or
    duplicate). Raises ShopWebhookRefused with nothing stored."""
    shop_domain = shop_domain.strip().lower()
    secret, connection = webhook_secret(platform, shop_domain)
    if not signature_valid(secret=secret, body=body, signature=signature):
        raise ShopWebhookRefused(401, "invalid_signature", "the signature does not match the body and the secret")
    if not delivery_id:
        raise ShopWebhookRefused(400, "missing_delivery_id", "the delivery id header is missing")
    delivery = Delivery(platform, shop_domain, topic, _delivery_key(platform, delivery_id, body), body)
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                if not _receipt_claim(delivery):
                    return "duplicate"
                if connection is None:
                    # A shop that signs with the environment's secret but has no connection yet shows up in the
                    # admin, where its locations can be mapped (its orders wait in the dead-letter list meanwhile).
                    connection, _ = ShopConnection.objects.get_or_create(platform=platform, shop_domain=shop_domain)
                outcome = _apply_or_keep(connection, delivery)
                if outcome != Outcome.APPLIED:
                    WebhookReceipt.objects.filter(platform=platform, delivery_id=delivery.delivery_id).update(
                        outcome=outcome
                    )
            return outcome
        except (IntegrityError, ConcurrencyError):
            # Another delivery committed first what this one was about to write: the first order of the same new
            # customer registers them (the identifier's unique key, or their stream's next version, which the store
            # will not order before this older transaction). Done again, the customer is found.
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _delivery_key(platform: str, delivery_id: str, body: bytes) -> str:
    """What a delivery is deduplicated by. Shopify's X-Shopify-Webhook-Id names one delivery (the same on its
    retries). WooCommerce's X-WC-Webhook-Delivery-ID does not: it is wp_hash(webhook id . current Unix second)
    (class-wc-webhook.php, get_new_delivery_id), so two different changes of one order sent in the same second share
    it, and deduplicating on it alone answered the second, real change "duplicate" and dropped it. Its key is
    therefore the id with a digest of the body: the same body in the same second is the same delivery."""
    if platform == "woocommerce":
        return f"{delivery_id[:64]}:{hashlib.sha256(body).hexdigest()}"
    return delivery_id[:200]


def _receipt_claim(delivery: Delivery) -> bool:
    """Insert the delivery's receipt; False when it is already there. A concurrent first delivery of the same id
    waits on the unique index until the other commits, then finds it. One statement (no savepoint)."""
    table = WebhookReceipt._meta.db_table
    with connection_for_receipts.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (platform, delivery_id, topic, shop_domain, outcome, received_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (platform, delivery_id) DO NOTHING",
            [
                delivery.platform,
                delivery.delivery_id,
                delivery.topic[:100],
                delivery.shop_domain,
                Outcome.APPLIED,
                connection_for_receipts.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
        inserted: int = cursor.rowcount
        return inserted == 1


# The services' refusals that a later fix can lift (stock received, an order paid first, a conflict gone).
_REFUSALS = (OrdersError, EventStoreError, KeyDestroyed)
# A signed payload of a shape the mappers did not foresee (a number where text was, a price of 1e30) fails in
# Python itself: kept as unknown_shape with the reason, never a 500 that loses the delivery.
_SHAPE_ERRORS = (TypeError, ValueError, ArithmeticError)


def _printable(reason: str) -> str:
    """A reason may quote what the shop sent; PostgreSQL text cannot hold U+0000."""
    return reason.replace("\x00", "\\0")[:2000]


def _code(exc: Exception) -> str:
    """InsufficientStock -> insufficient_stock."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()[:40]


def _apply_keeping_steps_taken(connection: ShopConnection, delivery: Delivery) -> tuple[bool, StepRefused | None]:
    """`_apply` in a savepoint: (applied, None), or (True, the refusal) when a lifecycle step was refused after its
    order's placement. Then the step's own savepoint is rolled back and what came before it commits; any other
    refusal rolls the whole delivery back."""
    with transaction.atomic():
        try:
            return _apply(connection, delivery), None
        except StepRefused as exc:
            return True, exc


def _apply_or_keep(connection: ShopConnection, delivery: Delivery) -> str:
    try:
        applied, step_refused = _apply_keeping_steps_taken(connection, delivery)
        if step_refused is None:
            return Outcome.APPLIED if applied else Outcome.IGNORED
        code, reason = step_refused.code, str(step_refused)
    except ConcurrencyError:
        raise  # a race with a concurrent delivery, not a refusal: the whole delivery runs again
    except Unprocessable as exc:
        code, reason = exc.code, str(exc)
    except _REFUSALS as exc:
        code, reason = _code(exc), f"{type(exc).__name__}: {exc}"
    except _SHAPE_ERRORS as exc:
        log.warning(
            "unforeseen shape of %s %s delivery %s",
            delivery.platform,
            delivery.topic,
            delivery.delivery_id,
            exc_info=True,
        )
        code, reason = "unknown_shape", f"{type(exc).__name__}: {exc}"
    log.info("dead-lettered %s %s delivery %s: %s", delivery.platform, delivery.topic, delivery.delivery_id, code)
    letter = DeadLetter.objects.create(
        platform=delivery.platform,
        shop_domain=delivery.shop_domain,
        topic=delivery.topic[:100],
        delivery_id=delivery.delivery_id,
        body_encrypted=crypto.encrypt(delivery.body),
        reason=_printable(reason),
        code=code[:40],
    )
    dead_letter_subjects_record(dead_letter=letter, body=delivery.body)
    return Outcome.DEAD_LETTERED


def dead_letter_replay(*, dead_letter_id: int, actor: str) -> bool:
    """Apply a dead-lettered delivery again (after a fix: the product added, the location mapped). True when it
    applied (the letter is marked replayed and its body dropped); False when it still cannot (the reason is
    updated) or its body was dropped (erased or expired: there is nothing left to apply)."""
    with transaction.atomic():
        letter = DeadLetter.objects.select_for_update().get(id=dead_letter_id)
        if letter.status == DeadLetterStatus.REPLAYED:
            return True
        if letter.status in (DeadLetterStatus.ERASED, DeadLetterStatus.EXPIRED):
            return False
        if letter.platform == Origin.TRACKING:
            applied, code, reason = tracking_order_replay(letter=letter)
            return _replayed(letter, actor) if applied else _still_refused(letter, code, reason)
        connection, _ = ShopConnection.objects.get_or_create(platform=letter.platform, shop_domain=letter.shop_domain)
        delivery = Delivery(
            letter.platform, letter.shop_domain, letter.topic, letter.delivery_id, crypto.decrypt(letter.body_encrypted)
        )
        try:
            _, step_refused = _apply_keeping_steps_taken(connection, delivery)
        except Unprocessable as exc:
            return _still_refused(letter, exc.code, str(exc))
        except _REFUSALS as exc:
            return _still_refused(letter, _code(exc), f"{type(exc).__name__}: {exc}")
        except _SHAPE_ERRORS as exc:
            return _still_refused(letter, "unknown_shape", f"{type(exc).__name__}: {exc}")
        if step_refused is not None:
            # The steps before it (and a placement a fix made possible) stand; the letter waits for this one.
            return _still_refused(letter, step_refused.code, str(step_refused))
        WebhookReceipt.objects.filter(platform=letter.platform, delivery_id=letter.delivery_id).update(
            outcome=Outcome.APPLIED
        )
        return _replayed(letter, actor)


def _replayed(letter: DeadLetter, actor: str) -> bool:
    letter.status, letter.replayed_at, letter.replayed_by = DeadLetterStatus.REPLAYED, timezone.now(), actor
    letter.save(update_fields=["status", "replayed_at", "replayed_by"])
    dead_letter_body_drop(dead_letter=letter)
    return True


def _still_refused(letter: DeadLetter, code: str, reason: str) -> bool:
    letter.code, letter.reason = code[:40], _printable(reason)
    letter.attempts += 1
    letter.save(update_fields=["code", "reason", "attempts"])
    return False


def oversell_alert_resolve(*, alert_id: int, actor: str) -> None:
    OversellAlert.objects.filter(id=alert_id, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=actor[:100]
    )


# --- Applying ---------------------------------------------------------------------------------------------------


def _apply(connection: ShopConnection, delivery: Delivery) -> bool:
    """Apply one delivery; False when there was nothing to do. Raises Unprocessable (and lets the services'
    refusals through)."""
    try:
        payload = orjson.loads(delivery.body)
    except orjson.JSONDecodeError:
        raise Unprocessable("not_json", "the body is not JSON") from None
    if b"\\u0000" in delivery.body:
        # PostgreSQL can neither store nor even compare text holding U+0000: no value of it reaches a query.
        raise Unprocessable("null_character", "the body holds a NUL character (U+0000)")
    topic, platform = delivery.topic, delivery.platform
    if platform == Platform.SHOPIFY:
        shopify.topic_known(topic)
        if topic in shopify.ORDER_TOPICS:
            _order_sync(connection, shopify.order(payload), is_creation=topic == "orders/create")
        elif topic == "refunds/create":
            return _refund(connection, shopify.refund(payload))
        elif topic in shopify.CHECKOUT_TOPICS:
            return _checkout_sync(connection, shopify.checkout(payload), delivery)
        else:
            _customer_sync(connection, shopify.customer_record(payload))
        return True
    woocommerce.topic_known(topic)
    if topic.startswith("order."):
        _order_sync(connection, woocommerce.order(payload), is_creation=topic == "order.created")
    else:
        _customer_sync(connection, woocommerce.customer_record(payload))
    return True


def shop_order_id(platform: str, shop_domain: str, platform_order_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{platform}:{shop_domain}:{platform_order_id}"))


def _actor(connection: ShopConnection) -> str:
    return f"{connection.platform}:{connection.shop_domain}"[:100]


def _location(connection: ShopConnection, platform_location_id: str) -> str:
    code = connection.location_map.get(platform_location_id) if platform_location_id else None
    code = code or connection.default_location
    if not code:
        raise Unprocessable(
            "unmapped_location",
            f"location {platform_location_id or '(none given)'} of {connection} is not mapped to one of ours "
            "(shop connections: location mapping or default location)",
        )
    return code


def _customer_ref(connection: ShopConnection, person: ShopCustomer, *, anonymous: str) -> dict[str, Any]:
    """Identifiers of the shop's customer; invalid emails or phones are left out (the shop accepted them)."""
    ref: dict[str, Any] = {}
    if person.platform_id:
        ref["external_id"] = {
            "system": f"{connection.platform}:{connection.shop_domain}"[:50],
            "id": person.platform_id,
        }
    for kind, value in (("email", person.email), ("phone", person.phone)):
        if value:
            try:
                normalise(kind, value)
            except InvalidIdentifier:
                continue
            ref[kind] = value
    if not ref:
        ref["anonymous_id"] = anonymous[:200]
    if person.name:
        ref["name"] = person.name[:200]
    return ref


def _refused(exc: InvalidFields) -> Unprocessable:
    first = exc.errors[0]
    return Unprocessable(first.code, str(exc))


def _order_sync(connection: ShopConnection, shop_order: ShopOrder, *, is_creation: bool = False) -> None:
    """Place the shop's order if it is new, then bring its status to what the shop says. A creation goes straight
    to placement (idempotent on the order id); other topics look the order up first, to skip resolving its
    customer again."""
    order_id = shop_order_id(connection.platform, connection.shop_domain, shop_order.platform_id)
    actor = _actor(connection)
    existing = None if is_creation else order_selectors.order_get(order_id=order_id)
    if existing is None:
        location = _location(connection, shop_order.location_id)
        customer = _customer_ref(
            connection, shop_order.customer, anonymous=f"{connection.platform}-order:{shop_order.platform_id}"
        )
        try:
            order, created, oversold = order_place_oversell_allowed(
                order_id=order_id,
                customer=customer,
                channel=CHANNEL,
                lines=[{"sku": line.sku, "quantity": line.quantity} for line in shop_order.lines],
                location=location,
                actor=actor,
                occurred_at=_not_future(shop_order.created_at),
            )
        except InvalidFields as exc:
            raise _refused(exc) from None
        except OrderIdConflict:
            raise Unprocessable("order_changed", f"order {order_id} exists with other lines or customer") from None
        if created and oversold:
            OversellAlert.objects.get_or_create(
                order_id=order_id,
                defaults={
                    "platform": connection.platform,
                    "platform_order_id": shop_order.platform_id[:64],
                    "lines": oversold,
                },
            )
        status = order.status
    else:
        status = existing.status
    if shop_order.is_refunded and status in _RETURNABLE:
        _return_all(connection, order_id, actor)
        return
    for action in _steps(order_id, shop_order, status):
        try:
            with transaction.atomic():  # a refused step undoes itself alone: the placement and earlier steps stand
                order_act(order_id=order_id, action=action, actor=actor, channel=CHANNEL)
        except ConcurrencyError:
            raise  # a race, not a refusal: the whole delivery runs again
        except IllegalTransition as exc:
            raise StepRefused("illegal_transition", str(exc)) from None
        except _REFUSALS as exc:
            raise StepRefused(_code(exc), f"{type(exc).__name__}: {exc}") from None


def _steps(order_id: str, shop_order: ShopOrder, status: str) -> list[str]:
    """The lifecycle steps that bring our order from `status` to what the shop says. Raises Unprocessable when the
    shop's status cannot be reached from ours (staff decide), StepRefused when a step must wait for another first."""
    if shop_order.is_cancelled or shop_order.is_refunded:
        if status in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.READY):
            return ["cancel"]
        if status in _RETURNABLE:  # refunded ones were returned by the caller
            raise Unprocessable(
                "illegal_transition",
                f"order {order_id} is cancelled in the shop but {status} here: the goods have left, only a return "
                "brings them back",
            )
        return []  # cancelled or returned here already
    if status == OrderStatus.CANCELLED:
        # A shop may take a cancelled order up again (WooCommerce: back to processing or completed); ours released
        # its stock and stays cancelled. An order the shop still waits to be paid for is left alone.
        if shop_order.is_paid or shop_order.is_fulfilled:
            said = "fulfilled" if shop_order.is_fulfilled else "paid"
            raise Unprocessable(
                "illegal_transition",
                f"order {order_id} is cancelled here but {said} in the shop: a cancelled order is not taken up "
                "again; place it anew or cancel it in the shop",
            )
        return []
    steps = []
    if shop_order.is_paid and status == OrderStatus.PLACED:
        steps.append("pay")
        status = OrderStatus.PAID
    if shop_order.is_fulfilled and status == OrderStatus.PAID:
        steps.append("ship")
    elif shop_order.is_fulfilled and status == OrderStatus.PLACED:
        # Raised before any step: the placement made by this delivery stands, the order waits for its payment.
        raise StepRefused("not_paid", f"order {order_id} is fulfilled by the shop but not paid: ships paid only")
    return steps


_RETURNABLE = (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COLLECTED, OrderStatus.PARTIALLY_RETURNED)


def _return_all(connection: ShopConnection, order_id: str, actor: str) -> None:
    """A whole order refunded after it left (WooCommerce status refunded): what was not returned yet comes back to
    the connection's default location."""
    order = order_selectors.order_get(order_id=order_id)
    assert order is not None  # the caller placed it or found it
    lines = [
        {"sku": line.sku, "quantity": line.quantity - line.returned_quantity}
        for line in order.lines.all()
        if line.quantity > line.returned_quantity
    ]
    if not lines:
        return
    try:
        order_act(
            order_id=order_id,
            action="return",
            actor=actor,
            channel=CHANNEL,
            location=_location(connection, ""),
            lines=lines,
        )
    except (IllegalTransition, InvalidFields) as exc:
        raise Unprocessable("not_returnable", str(exc)) from None


def _refund(connection: ShopConnection, refund: ShopRefund) -> bool:
    """A refund's lines by their restock type: returned lines come back to the refund's location, kept lines
    (no restock) are refunded with no stock movement, cancelled lines (never sent) cancel the order."""
    if not (refund.lines or refund.kept_lines or refund.cancelled_lines):
        return False  # a refund of an amount only (shipping, goodwill): no goods come back
    order_id = shop_order_id(connection.platform, connection.shop_domain, refund.order_platform_id)
    try:
        if refund.cancelled_lines:
            _refund_cancelled(connection, order_id, refund)
        for lines, restock in ((refund.lines, True), (refund.kept_lines, False)):
            if lines:
                order_act(
                    order_id=order_id,
                    action="return",
                    actor=_actor(connection),
                    channel=CHANNEL,
                    location=_location(connection, refund.location_id),
                    lines=[{"sku": line.sku, "quantity": line.quantity} for line in lines],
                    restock=restock,
                    # The platform's refund id keys the step: the refund resent under a new webhook id is one return.
                    step_id=uuid.uuid5(NAMESPACE, f"{order_id}:refund:{refund.platform_id}:{restock}"),
                )
    except OrderNotFound:
        raise Unprocessable("unknown_order", f"refund {refund.platform_id} of an order we do not have") from None
    except IllegalTransition as exc:
        raise Unprocessable("not_returnable", str(exc)) from None
    except InvalidFields as exc:
        raise _refused(exc) from None
    return True


def _refund_cancelled(connection: ShopConnection, order_id: str, refund: ShopRefund) -> None:
    """Lines refunded before they were sent (restock type "cancel") release their reservation. We cancel whole
    orders only: a refund that cancels every unit is the order's cancellation (orders/cancelled may have done it
    already); part of an order waits in the dead-letter list for staff."""
    order = order_selectors.order_get(order_id=order_id)
    if order is None:
        raise OrderNotFound(order_id)
    if order.status == OrderStatus.CANCELLED:
        return
    ordered: dict[str, int] = {}
    for order_line in order.lines.all():
        ordered[order_line.sku] = ordered.get(order_line.sku, 0) + order_line.quantity
    cancelled: dict[str, int] = {}
    for refund_line in refund.cancelled_lines:
        cancelled[refund_line.sku] = cancelled.get(refund_line.sku, 0) + refund_line.quantity
    if cancelled != ordered:
        raise Unprocessable(
            "partial_cancel", f"refund {refund.platform_id} cancels part of order {order_id}: only whole orders cancel"
        )
    order_act(order_id=order_id, action="cancel", actor=_actor(connection), channel=CHANNEL, reason="refunded")


def _checkout_sync(connection: ShopConnection, checkout: ShopCheckout, delivery: Delivery) -> bool:
    """A checkout is a cart: its lines become cart.item_added / item_removed (the difference from the cart as we
    have it), its completion cart.checked_out. A checkout never completed is abandoned and reminded like any cart."""
    cart_id = f"{connection.platform[:4]}-{hashlib.sha256(checkout.token.encode()).hexdigest()[:40]}"
    projector.catch_up("orders.carts")
    have = order_selectors.cart_quantities(cart_id=cart_id)
    want: dict[str, tuple[int, str]] = {}
    for line in checkout.lines:
        quantity, _ = want.get(line.sku, (0, ""))
        want[line.sku] = (quantity + line.quantity, str(line.price.quantize(_CENT)))
    changes = []
    for sku, (quantity, price) in want.items():
        diff = quantity - have.get(sku, 0)
        if diff > 0:
            changes.append(
                (
                    CartItemAdded.type_name,
                    {"sku": sku, "quantity": diff, "unit_price": price, "currency": checkout.currency},
                )
            )
        elif diff < 0:
            changes.append((CartItemRemoved.type_name, {"sku": sku, "quantity": -diff}))
    for sku, quantity in have.items():
        if sku not in want:
            changes.append((CartItemRemoved.type_name, {"sku": sku, "quantity": quantity}))
    if checkout.is_completed:
        order_id = (
            shop_order_id(connection.platform, connection.shop_domain, checkout.order_id) if checkout.order_id else ""
        )
        changes.append((CartCheckedOut.type_name, {"order_id": order_id}))
    if not changes:
        return False
    customer = _customer_ref(
        connection, checkout.customer, anonymous=f"{connection.platform}-checkout:{checkout.token}"
    )
    occurred_at = (_not_future(checkout.updated_at) or timezone.now()).isoformat()
    items = [
        {
            "id": str(uuid.uuid5(NAMESPACE, f"{delivery.platform}:{delivery.delivery_id}:{n}")),
            "type": type_name,
            "channel": CHANNEL,
            "occurred_at": occurred_at,
            "customer": customer,
            "data": {"cart_id": cart_id, **data},
            "metadata": {"source_system": _actor(connection)},
        }
        for n, (type_name, data) in enumerate(changes)
    ]
    try:
        interactions_ingest(raw_items=items, actor=_actor(connection), source=f"integrations.{connection.platform}")
    except EventValidationError as exc:
        raise Unprocessable("unknown_shape", str(exc)) from None
    return True


def _customer_sync(connection: ShopConnection, person: ShopCustomer) -> None:
    customer = _customer_ref(connection, person, anonymous="")
    if "anonymous_id" in customer:
        raise Unprocessable("unknown_shape", "a customer without a valid id, email or phone")
    try:
        customer_register(customer=customer, channel=CHANNEL, actor=_actor(connection))
    except EventValidationError as exc:
        raise Unprocessable("invalid_identifier", str(exc)) from None


def _not_future(when: datetime | None) -> datetime | None:
    """A shop's clock ahead of ours would be refused by the store: it cannot have happened after it arrived."""
    now = timezone.now()
    return min(when, now) if when else None
