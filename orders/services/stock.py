"""The stock ledger: one stream per (sku, location), `stock-<sku>@<code>`.

No oversell, under any concurrency, on both databases. Every command that takes stock (a reservation, a till
sale, a transfer out) runs in one transaction that
1. locks the StockLevel rows it reads (`select_for_update`, ordered by primary key, so two commands locking
   several rows never deadlock; on SQLite transactions begin IMMEDIATE and hold the only write lock),
2. checks `available = on_hand - reserved` under that lock,
3. appends its events with `expected_version` = the version the locked row says the stream is at, and
4. lets the inline projection update the same rows before commit.
A writer that skipped the lock (or a row that did not exist yet, which cannot be locked) is caught by the expected
version: the store raises ConcurrencyError, and `with_retry` runs the whole command again on fresh data. So the
lock makes contention cheap (waiters queue instead of failing and retrying), and the stream's version makes it
correct even without the lock.
"""

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final, TypeVar

from django.db import connection, transaction

from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError
from backoffice.eventstore.vocabulary import Channel

from ..errors import InsufficientStock, InvalidField, InvalidFields, MovementIdConflict, NotYourLocation
from ..events import StockCounted, StockReceived, StockSold, StockTransferred
from ..models import Location, Product, StockLevel

MOVEMENT_KINDS: Final = ("received", "counted", "sold", "transfer")
# The stock events' bound on a quantity, checked on the request so a refusal names its field.
MAX_MOVEMENT: Final = 1_000_000
RETRIES: Final = 8
NAMESPACE: Final = uuid.UUID("0b7c3d52-5f4e-4c1a-9d8e-6a2f1e7c4b90")

T = TypeVar("T")
Key = tuple[str, str]


def stock_stream(sku: str, location: str) -> str:
    return f"stock-{sku}@{location}"


def off_sale(field: str, sku: str) -> InvalidField:
    """The refusal of a sale of a product withdrawn from sale: one rule for orders and till sales, named or not."""
    return InvalidField(field, f"{sku} is not on sale", "inactive_sku")


def with_retry(command: Callable[[], T]) -> T:
    """Run a command that appends with expected versions; run it again when a stream moved under it."""
    for attempt in range(RETRIES):
        try:
            return command()
        except ConcurrencyError:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def levels_locked(keys: Iterable[Key]) -> dict[Key, StockLevel]:
    """The stock rows of these (sku, location) pairs, locked until commit, in primary-key order.

    Raw SQL: this runs on every order and stock move, and the ORM's query building cost more than the query. The
    rows carry what a check needs (on_hand, reserved, version); `updated_at` is left deferred."""
    keys = set(keys)
    if not keys:
        return {}
    skus, locations = sorted({sku for sku, _ in keys}), sorted({location for _, location in keys})
    # The rows of every (sku, location) in skus x locations: the pairs asked for (usually the whole product: a
    # pickup, a shipment's candidates), and at worst a few more rows locked than needed, never fewer.
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_LOCKED_FIELDS)} FROM {StockLevel._meta.db_table} "  # noqa: S608 - placeholders only
            f"WHERE sku IN ({', '.join(['%s'] * len(skus))}) "
            f"AND location_code IN ({', '.join(['%s'] * len(locations))}) ORDER BY id{lock}",
            [*skus, *locations],
        )
        rows = cursor.fetchall()
    found = (StockLevel.from_db(connection.alias, _LOCKED_FIELDS, row) for row in rows)
    return {(row.sku, row.location_code): row for row in found if (row.sku, row.location_code) in keys}


# In the model's field order: Model.from_db() takes a partial row's values in that order.
_LOCKED_FIELDS: Final = tuple(
    field.attname
    for field in StockLevel._meta.concrete_fields
    if field.attname in {"id", "sku", "location_code", "on_hand", "reserved", "version"}
)


def availability(*, skus: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Per sku, every location that has some available, most first (for refusals that name other stores)."""
    skus = set(skus)
    locations = {loc.code: loc for loc in Location.objects.all()}
    found: dict[str, list[dict[str, Any]]] = {sku: [] for sku in skus}
    for row in StockLevel.objects.filter(sku__in=skus).order_by("sku", "location_code"):
        location = locations.get(row.location_code)
        if row.available > 0 and location is not None:
            found[row.sku].append(
                {
                    "location": row.location_code,
                    "name": location.name,
                    "kind": location.kind,
                    "city": location.city,
                    "available": row.available,
                }
            )
    for entries in found.values():
        entries.sort(key=lambda e: (-e["available"], e["location"]))
    return found


def stock_move(
    *,
    sku: str,
    location: str,
    kind: str,
    quantity: int,
    to_location: str | None = None,
    actor: str,
    acting_location: str | None = None,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> list[StockLevel]:
    """Record a movement: goods received, a physical count, a till sale, or a transfer to another location.

    `acting_location` (store staff) must be `location`. Returns the levels after the movement. Raises InvalidFields
    (a sale of a product not on sale: `inactive_sku`, as an order of it), NotYourLocation or InsufficientStock before
    anything is written. Idempotent on `event_id`: the same movement again changes nothing and answers the levels;
    another movement under that id raises MovementIdConflict.
    """
    return stock_move_recorded(
        sku=sku,
        location=location,
        kind=kind,
        quantity=quantity,
        to_location=to_location,
        actor=actor,
        acting_location=acting_location,
        event_id=event_id,
        occurred_at=occurred_at,
    )[0]


def stock_move_recorded(
    *,
    sku: str,
    location: str,
    kind: str,
    quantity: int,
    to_location: str | None = None,
    actor: str,
    acting_location: str | None = None,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> tuple[list[StockLevel], bool]:
    """stock_move(), also saying whether the movement is new (False: the same movement was recorded before)."""
    is_on_sale = _validate_movement(sku, location, kind, quantity, to_location)
    if acting_location is not None and acting_location != location:
        raise NotYourLocation("location", location)
    keys = [(sku, location)] + ([(sku, to_location)] if kind == "transfer" and to_location else [])
    if event_id is not None:
        # Checked before the stock is: a till sale sent twice must answer the first, not "insufficient stock".
        stored = store.stored_events([event_id]).get(event_id)
        if stored is not None:
            if not _same_movement(stored[1], sku, location, kind, quantity, to_location):
                raise MovementIdConflict(str(event_id))
            return _levels(sku, keys), False
    if kind == "sold" and not is_on_sale:
        # After the resend check: a sale recorded before the product was withdrawn still answers as recorded.
        raise InvalidFields([off_sale("sku", sku)])
    moved = with_retry(lambda: _move(sku, location, kind, quantity, to_location, actor, event_id, occurred_at, keys))
    return moved, True


# What each kind of movement records as its first event: (type, the data member holding the quantity).
_MOVEMENT_EVENTS = {
    "received": (StockReceived.type_name, "quantity"),
    "counted": (StockCounted.type_name, "counted"),
    "sold": (StockSold.type_name, "quantity"),
    "transfer": (StockTransferred.type_name, "quantity"),
}


def _same_movement(
    event: store.RecordedEvent, sku: str, location: str, kind: str, quantity: int, to_location: str | None
) -> bool:
    """Whether a stored event is the first event of this very movement (a resend), not of another one. A count is
    compared by what was counted: the `expected` it recorded was the level at that time."""
    type_name, amount = _MOVEMENT_EVENTS[kind]
    data = event.data
    return bool(
        event.type == type_name
        and event.stream == stock_stream(sku, location)
        and data.get("sku") == sku
        and data.get("location") == location
        and data.get(amount) == quantity
        and (kind != "transfer" or (data.get("direction") == "out" and data.get("to_location") == to_location))
    )


def _levels(sku: str, keys: Iterable[Key]) -> list[StockLevel]:
    return list(StockLevel.objects.filter(sku=sku, location_code__in=[k[1] for k in keys]).order_by("pk"))


def stock_receive_many(
    *, receipts: list[tuple[str, str, int, uuid.UUID]], actor: str, occurred_at: datetime | None = None
) -> int:
    """Goods received at many (sku, location) pairs in one transaction: [(sku, location, quantity, event_id)].

    A receipt only adds, so it needs no availability check and appends at any version. Idempotent on each event id;
    returns how many were new. Raises InvalidFields naming the first bad receipt.
    """
    skus = set(Product.objects.filter(sku__in={r[0] for r in receipts}).values_list("sku", flat=True))
    codes = set(Location.objects.filter(code__in={r[1] for r in receipts}).values_list("code", flat=True))
    for index, (sku, location, quantity, _) in enumerate(receipts):
        if sku not in skus:
            raise InvalidFields.of(f"receipts.{index}.sku", f"unknown sku {sku!r}", "unknown_sku")
        if location not in codes:
            raise InvalidFields.of(f"receipts.{index}.location", f"unknown location {location!r}", "unknown_location")
        if quantity <= 0:
            raise InvalidFields.of(f"receipts.{index}.quantity", "must be greater than zero", "min_value")
    appends = [
        store.StreamAppend(
            stock_stream(sku, location),
            [
                store.NewEvent.of(
                    StockReceived(sku=sku, location=location, quantity=quantity),
                    id=event_id,
                    occurred_at=occurred_at,
                    metadata={"actor": actor},
                )
            ],
        )
        for sku, location, quantity, event_id in receipts
    ]
    with transaction.atomic():
        # Rows locked before the append lock, as every stock writer does: a writer that took the append lock first
        # and then waited for a row held by one waiting for the append lock would deadlock.
        levels_locked((sku, location) for sku, location, _, _ in receipts)
        results = store.append_batches(appends)
    return sum(1 for result in results if not result.duplicate)


def _move(
    sku: str,
    location: str,
    kind: str,
    quantity: int,
    to_location: str | None,
    actor: str,
    event_id: uuid.UUID | None,
    occurred_at: datetime | None,
    keys: list[Key],
) -> list[StockLevel]:
    with transaction.atomic():
        rows = levels_locked(keys)
        row = rows.get((sku, location))
        on_hand, reserved, version = (row.on_hand, row.reserved, row.version) if row else (0, 0, 0)
        first_id = event_id or uuid.uuid4()
        meta = {"actor": actor}
        if kind in ("sold", "transfer") and quantity > on_hand - reserved:
            found = availability(skus=[sku])
            raise InsufficientStock(
                [
                    {
                        "sku": sku,
                        "requested": quantity,
                        "available_here": max(on_hand - reserved, 0),
                        "available": found[sku],
                    }
                ]
            )
        if kind == "received":
            received = StockReceived(sku=sku, location=location, quantity=quantity)
            event = store.NewEvent.of(received, id=first_id, occurred_at=occurred_at, metadata=meta)
            appends = [_append(sku, location, version, event)]
        elif kind == "counted":
            counted = StockCounted(
                sku=sku, location=location, counted=quantity, expected=on_hand, shrinkage=on_hand - quantity
            )
            event = store.NewEvent.of(counted, id=first_id, occurred_at=occurred_at, metadata=meta)
            appends = [_append(sku, location, version, event)]
        elif kind == "sold":
            # A till sale: the customer walks out with it, so it leaves on-hand now, not at the day's close.
            sold = StockSold(sku=sku, location=location, quantity=quantity)
            event = store.NewEvent.of(sold, id=first_id, channel=Channel.STORE, occurred_at=occurred_at, metadata=meta)
            appends = [_append(sku, location, version, event)]
        else:
            to_location = to_location or ""  # a transfer names where it goes (_validate_movement)
            target = rows.get((sku, to_location))
            ends = {"from_location": location, "to_location": to_location}
            out = StockTransferred(sku=sku, location=location, quantity=quantity, direction="out", **ends)
            into = StockTransferred(sku=sku, location=to_location, quantity=quantity, direction="in", **ends)
            appends = [
                _append(
                    sku, location, version, store.NewEvent.of(out, id=first_id, occurred_at=occurred_at, metadata=meta)
                ),
                _append(
                    sku,
                    to_location,
                    target.version if target else 0,
                    store.NewEvent.of(into, id=uuid.uuid5(first_id, "in"), occurred_at=occurred_at, metadata=meta),
                ),
            ]
        store.append_batches(appends)
        return _levels(sku, keys)


def _append(sku: str, location: str, version: int, event: store.NewEvent) -> store.StreamAppend:
    return store.StreamAppend(stock_stream(sku, location), [event], expected_version=version)


def _validate_movement(sku: str, location: str, kind: str, quantity: int, to_location: str | None) -> bool:
    """Raises InvalidFields; returns whether the product is on sale (its stock still moves when it is not: received,
    counted, transferred, but not sold)."""
    errors = []
    if kind not in MOVEMENT_KINDS:
        errors.append(
            InvalidField("kind", f"unknown kind {kind!r}; one of {', '.join(MOVEMENT_KINDS)}", "invalid_choice")
        )
    is_active = Product.objects.filter(sku=sku).values_list("is_active", flat=True).first()
    if is_active is None:
        errors.append(InvalidField("sku", f"unknown sku {sku!r}", "unknown_sku"))
    if not Location.objects.filter(code=location).exists():
        errors.append(InvalidField("location", f"unknown location {location!r}", "unknown_location"))
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        errors.append(InvalidField("quantity", "must be an integer", "invalid"))
    elif kind == "counted" and quantity < 0:
        errors.append(InvalidField("quantity", "a count cannot be negative", "min_value"))
    elif kind != "counted" and quantity <= 0:
        errors.append(InvalidField("quantity", "must be greater than zero", "min_value"))
    elif quantity > MAX_MOVEMENT:
        errors.append(InvalidField("quantity", f"at most {MAX_MOVEMENT} in one movement", "max_value"))
    if kind == "transfer":
        if not to_location:
            errors.append(InvalidField("to_location", "a transfer needs the destination", "required"))
        elif to_location == location:
            errors.append(InvalidField("to_location", "must differ from location", "invalid"))
        elif not Location.objects.filter(code=to_location).exists():
            errors.append(InvalidField("to_location", f"unknown location {to_location!r}", "unknown_location"))
    elif to_location:
        errors.append(InvalidField("to_location", "only a transfer has a destination", "invalid"))
    if errors:
        raise InvalidFields(errors)
    return bool(is_active)
