"""Event types written by the orders app. Cart events arrive as interactions from web, app and assisted sales."""

from decimal import Decimal

from pydantic import Field

from backoffice.eventstore.schema import EventData


class _CartEvent(EventData):
    ingestible = True
    cart_id: str = Field(min_length=1, max_length=64)

    @classmethod
    def stream_name(cls, data: dict, customer_id) -> str:
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
