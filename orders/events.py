"""Event types written by the orders app.

Streams: `product-<sku>`, `location-<code>`, `stock-<sku>@<code>`, `order-<id>`, `cart-<cart_id>`.
Cart events arrive as interactions from web, app and assisted sales (ingestible); everything else is written by
the orders services, which validate it first. Money is a decimal string with its currency.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backoffice.eventstore.schema import EventData

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LOCATION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
LocationCode = Annotated[str, Field(pattern=LOCATION_PATTERN)]
OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
LocationKind = Literal["store", "warehouse"]
# An order names at most MAX_ORDER_SKUS products (the API takes 200 lines; its returns and oversold units list each
# product once). Placement may split a product over several locations, one `order.placed` line per (sku, location):
# that bound leaves room for it, and by default the store's event size (EVENTSTORE_MAX_EVENT_BYTES) binds first.
MAX_ORDER_SKUS = 200
MAX_PLACED_LINES = 2000
# counter: a sale at a store's till to a named customer, paid and taken away at once (no reservation).
FulfilmentMethod = Literal["ship", "pickup", "counter"]


# --- Catalog and locations ----------------------------------------------------------------------------------------


class ProductCreated(EventData):
    type_name = "product.created"
    sku: Sku
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(default="", max_length=100)
    price: Money
    currency: Currency = "EUR"
    is_active: bool = True


class ProductUpdated(EventData):
    """The new values of what changed; absent fields are unchanged."""

    type_name = "product.updated"
    sku: Sku
    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    is_active: bool | None = None


class LocationCreated(EventData):
    type_name = "location.created"
    code: LocationCode
    name: str = Field(min_length=1, max_length=200)
    kind: LocationKind
    city: str = Field(default="", max_length=100)
    timezone: str = Field(default="Europe/Madrid", max_length=64)


# --- Stock: one stream per (sku, location) ------------------------------------------------------------------------


class _StockEvent(EventData):
    sku: Sku
    location: LocationCode


class StockReceived(_StockEvent):
    type_name = "stock.received"
    quantity: int = Field(gt=0, le=1_000_000)


class StockCounted(_StockEvent):
    """A physical count: on-hand becomes `counted`; `shrinkage` = expected - counted (negative: more was found)."""

    type_name = "stock.counted"
    counted: int = Field(ge=0, le=1_000_000)
    expected: int = Field(ge=0)
    shrinkage: int


class StockSold(_StockEvent):
    """Units leave on-hand: a till sale (at once), or an order collected or shipped (`from_reservation`)."""

    type_name = "stock.sold"
    quantity: int = Field(gt=0, le=1_000_000)
    order_id: str = Field(default="", max_length=64)
    from_reservation: bool = False


class StockReserved(_StockEvent):
    type_name = "stock.reserved"
    quantity: int = Field(gt=0, le=1_000_000)
    order_id: str = Field(min_length=1, max_length=64)


class StockReleased(_StockEvent):
    type_name = "stock.released"
    quantity: int = Field(gt=0, le=1_000_000)
    order_id: str = Field(min_length=1, max_length=64)


class StockTransferred(_StockEvent):
    """One event on each end's stream: `out` at the origin (on-hand down), `in` at the destination (up)."""

    type_name = "stock.transferred"
    quantity: int = Field(gt=0, le=1_000_000)
    direction: Literal["out", "in"]
    from_location: LocationCode
    to_location: LocationCode


class StockReturned(_StockEvent):
    type_name = "stock.returned"
    quantity: int = Field(gt=0, le=1_000_000)
    order_id: str = Field(default="", max_length=64)


# --- Orders -------------------------------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderLine(_Frozen):
    sku: Sku
    quantity: int = Field(gt=0, le=10_000)
    unit_price: Money
    location: LocationCode


class Fulfilment(_Frozen):
    method: FulfilmentMethod
    location: str = Field(default="", max_length=32)


class ReturnedLine(_Frozen):
    sku: Sku
    quantity: int = Field(gt=0, le=10_000)


class OversoldLine(_Frozen):
    sku: Sku
    location: LocationCode
    quantity: int = Field(gt=0, le=10_000)


class OrderPlaced(EventData):
    type_name = "order.placed"
    order_id: OrderId
    lines: list[OrderLine] = Field(min_length=1, max_length=MAX_PLACED_LINES)
    total: Money
    currency: Currency = "EUR"
    fulfilment: Fulfilment
    # Attribution: the abandoned-cart reminder this customer got before ordering, if any.
    reminder_cart_id: str = Field(default="", max_length=64)
    attributed_message_id: str = Field(default="", max_length=64)
    # Units a shop platform sold that the location did not have: reserved all the same, shown to staff as an alert.
    oversold: list[OversoldLine] = Field(default_factory=list, max_length=MAX_ORDER_SKUS)


class OrderPaid(EventData):
    type_name = "order.paid"
    order_id: OrderId
    amount: Money
    currency: Currency = "EUR"


class OrderReady(EventData):
    type_name = "order.ready"
    order_id: OrderId
    location: LocationCode


class OrderCollected(EventData):
    type_name = "order.collected"
    order_id: OrderId
    location: LocationCode


class OrderShipped(EventData):
    type_name = "order.shipped"
    order_id: OrderId


class OrderDelivered(EventData):
    type_name = "order.delivered"
    order_id: OrderId


class OrderCancelled(EventData):
    type_name = "order.cancelled"
    order_id: OrderId
    reason: str = Field(default="", max_length=200)


class OrderReturned(EventData):
    """Units refunded. `restocked` (true in events written before it existed): they came back to `location` (a
    `stock.returned` per line follows); false: refunded while the customer keeps the goods (damaged, goodwill; a
    shop's "no restock" refund), recorded at `location` with no stock movement."""

    type_name = "order.returned"
    order_id: OrderId
    location: LocationCode
    lines: list[ReturnedLine] = Field(min_length=1, max_length=MAX_ORDER_SKUS)
    refund_amount: Money
    currency: Currency = "EUR"
    restocked: bool = True


# --- Carts --------------------------------------------------------------------------------------------------------


class _CartEvent(EventData):
    ingestible = True
    cart_id: str = Field(min_length=1, max_length=64)

    @classmethod
    def stream_name(cls, data: dict[str, Any], customer_id: Any) -> str:
        return f"cart-{data['cart_id']}"


class CartItemAdded(_CartEvent):
    type_name = "cart.item_added"
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class CartItemRemoved(_CartEvent):
    type_name = "cart.item_removed"
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000)


class CartCheckedOut(_CartEvent):
    type_name = "cart.checked_out"
    order_id: str = Field(default="", max_length=64)


class CartItem(_Frozen):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class CartAbandoned(EventData):
    """Written by the abandonment job (not ingestible): the cart sat idle past the threshold."""

    type_name = "cart.abandoned"
    cart_id: str = Field(min_length=1, max_length=64)
    items: list[CartItem] = Field(max_length=200)
    idle_minutes: int = Field(ge=0)
    reminder_message_id: str = Field(default="", max_length=64)
    reminder_channel: str = Field(default="", max_length=16)
    # Why no reminder went out: ordered_since | too_old | no_channel | no_customer | journey (a journey reminds) |
    # "" (one was sent).
    reminder_skipped: str = Field(default="", max_length=40)
