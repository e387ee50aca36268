"""What the shop platforms send, in our terms: a customer, an order, a checkout (a cart), a refund.

The Shopify and WooCommerce readers turn a webhook's JSON into these; a shape they do not know raises
Unprocessable, and the delivery goes to the dead-letter list with the reason.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class Unprocessable(Exception):
    """Valid (signed) but not applicable now: kept in the dead-letter list with `code` and the reason."""

    def __init__(self, code: str, reason: str):
        self.code = code
        super().__init__(reason)


@dataclass(frozen=True)
class ShopCustomer:
    platform_id: str = ""
    email: str = ""
    phone: str = ""
    name: str = ""


@dataclass(frozen=True)
class ShopLine:
    sku: str
    quantity: int
    price: Decimal = Decimal("0")


@dataclass(frozen=True)
class ShopOrder:
    platform_id: str
    customer: ShopCustomer
    lines: list[ShopLine]
    location_id: str = ""
    created_at: datetime | None = None
    is_paid: bool = False
    is_fulfilled: bool = False
    is_cancelled: bool = False
    is_refunded: bool = False


@dataclass(frozen=True)
class ShopCheckout:
    token: str
    customer: ShopCustomer
    lines: list[ShopLine]
    currency: str = "EUR"
    is_completed: bool = False
    order_id: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ShopRefund:
    """A refund's lines by what happens to the goods: `lines` come back to stock (returned), `kept_lines` are
    refunded while the customer keeps them (no restock), `cancelled_lines` never left (an unfulfilled order's
    cancellation: its reservation is released)."""

    platform_id: str
    order_platform_id: str
    lines: list[ShopLine] = field(default_factory=list)
    location_id: str = ""
    created_at: datetime | None = None
    kept_lines: list[ShopLine] = field(default_factory=list)
    cancelled_lines: list[ShopLine] = field(default_factory=list)


def need(payload: Any, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if not isinstance(payload, dict) or key not in payload or not isinstance(payload[key], kind):
        raise Unprocessable("unknown_shape", f"{where}{key}: missing or not a {getattr(kind, '__name__', kind)}")
    return payload[key]


def text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# What our money fields hold (12 digits, 2 of them decimals): a price past it is no price a shop sells at.
MONEY_LIMIT = Decimal("1e10")


def money(value: Any, *, where: str = "price") -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Unprocessable("unknown_shape", f"{where}: not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Unprocessable("unknown_shape", f"{where}: not a number") from None
    if not amount.is_finite() or abs(amount) >= MONEY_LIMIT:
        raise Unprocessable("unknown_shape", f"{where}: {value!r} is not an amount")
    return amount


def when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def lines_of(items: Any, *, where: str) -> list[ShopLine]:
    if not isinstance(items, list) or not items:
        raise Unprocessable("unknown_shape", f"{where}: no line items")
    lines = []
    for index, item in enumerate(items):
        sku = text(item.get("sku")) if isinstance(item, dict) else ""
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not sku:
            raise Unprocessable("missing_sku", f"{where}.{index}: a line without sku cannot be matched to a product")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise Unprocessable("unknown_shape", f"{where}.{index}.quantity: not a positive integer")
        lines.append(ShopLine(sku, quantity, money(item.get("price"), where=f"{where}.{index}.price")))
    return lines
