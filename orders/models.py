"""Read models of the orders app: projections of catalog, location, stock, order and cart events.

Every table here is rebuilt from the log by `manage.py rebuild_projections`. None has a foreign key to another
projection's table (only an order's lines to their order), so each projection is emptied and replayed on its own.
"""

from decimal import Decimal

from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.money import CENT

from .vocabulary import LocationKind as LocationKind  # the models' vocabulary, defined once there
from .vocabulary import OrderStatus as OrderStatus


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, primary_key=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True, default="")
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Location(models.Model):
    code = models.CharField(_("code"), max_length=32, primary_key=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=LocationKind.choices)
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid")
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StockLevel(models.Model):
    """Stock of one sku at one location: the fold of its stream `stock-<sku>@<location>`."""

    sku = models.CharField(_("SKU"), max_length=64)
    location_code = models.CharField(_("location"), max_length=32)
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    # The stream's version after the last event applied: writers append with it as expected_version.
    version = models.PositiveIntegerField(_("version"), default=0)
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["sku", "location_code"], name="orders_stock_sku_location_uniq"),
            models.CheckConstraint(condition=models.Q(on_hand__gte=0), name="orders_stock_on_hand_not_negative"),
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="orders_stock_reserved_not_negative"),
        ]
        indexes = [models.Index(fields=["location_code", "sku"], name="orders_stock_location_sku")]

    def __str__(self) -> str:
        return f"{self.sku}@{self.location_code}"

    @property
    def available(self) -> int:
        # A physical count below what is reserved leaves nothing to sell, not a negative promise.
        return max(self.on_hand - self.reserved, 0)


class Order(models.Model):
    id = models.CharField(_("order"), max_length=64, primary_key=True)
    # Not a foreign key: customers' and orders' projections are rebuilt independently.
    customer_id = models.UUIDField(_("customer"), db_index=True)
    channel = models.CharField(_("channel"), max_length=16)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    fulfilment_method = models.CharField(_("fulfilment"), max_length=8)
    fulfilment_location = models.CharField(_("fulfilment location"), max_length=32, blank=True, default="")
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    refunded = models.DecimalField(_("refunded"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    is_paid = models.BooleanField(_("paid"), default=False)
    placed_at = models.DateTimeField(_("placed at"))
    updated_at = models.DateTimeField(_("updated at"))
    version = models.PositiveIntegerField(_("version"), default=0)
    reminder_cart_id = models.CharField(_("reminder cart"), max_length=64, blank=True, default="", db_index=True)
    attributed_message_id = models.CharField(_("attributed message"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["customer_id", "placed_at"], name="orders_order_customer_placed"),
            models.Index(fields=["fulfilment_location", "status"], name="orders_order_location_status"),
            # An order number typed by hand in any case (orders_with_id_in_any_case): an index lookup, not a scan.
            models.Index(Upper("id"), name="orders_order_id_upper"),
        ]

    def __str__(self) -> str:
        return self.id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)
    location_code = models.CharField(_("location"), max_length=32)
    returned_quantity = models.PositiveIntegerField(_("returned"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}@{self.location_code}"


def order_from_placed(
    *, data: dict, customer_id, channel: str | None, occurred_at, version: int
) -> tuple[Order, list[OrderLine]]:
    """The order and its lines as an `order.placed` event makes them, unsaved. The projection inserts exactly
    these; placement answers them without reading them back (`with_lines`)."""
    order = Order(
        id=data["order_id"],
        customer_id=customer_id,
        channel=channel or "",
        status=OrderStatus.PLACED,
        fulfilment_method=data["fulfilment"]["method"],
        fulfilment_location=data["fulfilment"]["location"],
        total=Decimal(data["total"]).quantize(CENT),
        refunded=Decimal("0.00"),
        currency=data["currency"],
        placed_at=occurred_at,
        updated_at=occurred_at,
        version=version,
        reminder_cart_id=data.get("reminder_cart_id", ""),
        attributed_message_id=data.get("attributed_message_id", ""),
    )
    lines = [
        OrderLine(
            order=order,
            sku=line["sku"],
            quantity=line["quantity"],
            unit_price=Decimal(line["unit_price"]).quantize(CENT),
            location_code=line["location"],
        )
        for line in data["lines"]
    ]
    return order, lines


def with_lines(order: Order, lines: list[OrderLine]) -> Order:
    """The order with these lines on `order.lines.all()`, as prefetch_related() leaves them (Django's own prefetch
    sets these two attributes), so reading them needs no query."""
    cached = order.lines.all()
    cached._result_cache, cached._prefetch_done = lines, True
    order._prefetched_objects_cache = {"lines": cached}
    return order


class CartStatus(models.TextChoices):
    OPEN = "open", _("open")
    CHECKED_OUT = "checked_out", _("checked out")
    ABANDONED = "abandoned", _("abandoned")


class Cart(models.Model):
    """A shopping cart on web, app or an assisted sale: the fold of its stream `cart-<cart_id>`."""

    cart_id = models.CharField(_("cart"), max_length=64, primary_key=True)
    customer_id = models.UUIDField(_("customer"), null=True, blank=True, db_index=True)
    channel = models.CharField(_("channel"), max_length=16, blank=True, default="")
    # {sku: {"quantity": n, "unit_price": "19.90"}}
    items = models.JSONField(_("items"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=CartStatus.choices, default=CartStatus.OPEN)
    started_at = models.DateTimeField(_("started at"))
    last_activity_at = models.DateTimeField(_("last activity"))
    version = models.PositiveIntegerField(_("version"), default=0)
    order_id = models.CharField(_("order"), max_length=64, blank=True, default="")
    abandoned_at = models.DateTimeField(_("abandoned at"), null=True, blank=True)
    reminder_message_id = models.CharField(_("reminder message"), max_length=64, blank=True, default="")
    reminder_channel = models.CharField(_("reminder channel"), max_length=16, blank=True, default="")

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        indexes = [models.Index(fields=["status", "last_activity_at"], name="orders_cart_status_activity")]

    def __str__(self) -> str:
        return self.cart_id
