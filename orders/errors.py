"""Refusals of the orders services. Each is raised before anything is written; the API maps them to problem
details (400 naming the field, 403 for another store's location, 404, 409 with the state that refused)."""

from dataclasses import dataclass, field
from typing import ClassVar


class OrdersError(Exception):
    """Base: a refused command left nothing written."""


@dataclass
class InvalidField(OrdersError):
    field: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class InvalidFields(OrdersError):
    errors: list[InvalidField]

    @classmethod
    def of(cls, field: str, message: str, code: str = "invalid") -> "InvalidFields":
        return cls([InvalidField(field, message, code)])

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)


@dataclass
class NotYourLocation(OrdersError):
    """Store staff act on their own location only."""

    field: str
    location: str

    def __str__(self) -> str:
        return f"{self.field}: store staff act only on their own location, not {self.location}"


@dataclass
class InsufficientStock(OrdersError):
    """Some line cannot be reserved. `lines`: [{sku, requested, available: [{location, kind, available}]}]."""

    lines: list[dict] = field(default_factory=list)

    def __str__(self) -> str:
        return "not enough stock for " + ", ".join(line["sku"] for line in self.lines)


@dataclass
class OrderNotFound(OrdersError):
    order_id: str

    def __str__(self) -> str:
        return f"no order {self.order_id}"


class IdConflict(OrdersError):
    """An id given as idempotency key is taken by something with other content (the API answers 409)."""

    # What the id names, as the API's answer says it ("Order id reused for different content").
    what: ClassVar[str]


@dataclass
class MovementIdConflict(IdConflict):
    """The stock movement id is taken by another movement (or another event)."""

    what = "Movement"
    event_id: str

    def __str__(self) -> str:
        return f"id {self.event_id} was already used for a different movement"


@dataclass
class OrderIdConflict(IdConflict):
    """The order id is taken by an order with other content."""

    what = "Order"
    order_id: str

    def __str__(self) -> str:
        return f"order {self.order_id} already exists with different content"


@dataclass
class StepIdConflict(IdConflict):
    """A lifecycle step's id was used for another step (another action, or a return of other goods)."""

    what = "Step"
    step_id: str
    why: str = ""

    def __str__(self) -> str:
        return f"step id {self.step_id} was already used for a different step" + (f": {self.why}" if self.why else "")


@dataclass
class IllegalTransition(OrdersError):
    order_id: str
    action: str
    status: str
    allowed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"cannot {self.action} order {self.order_id} in status {self.status}"


@dataclass
class AlreadyExists(OrdersError):
    """A location code is already taken by another location."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"
