"""Products and locations, event-sourced like everything else.

Why events rather than plain tables: prices and assortments change, and an order line, a campaign's offer or a
stock-accuracy figure must be explainable later ("what did it cost on 3 March, when was it withdrawn?"). The log
keeps that history for free, `rebuild_projections` restores the tables, and every app reads the same truth.
Each product is a stream `product-<sku>`, each location `location-<code>`; creation appends with expected
version 0, so two creators of the same sku race to one winner.
"""

from decimal import Decimal
from functools import cache
from zoneinfo import available_timezones

from django.db import transaction

from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError, EventValidationError

from ..errors import AlreadyExists, InvalidField, InvalidFields
from ..events import LocationCreated, ProductCreated, ProductUpdated
from ..models import Location, Product

PRODUCT_FIELDS = ("name", "category", "price", "is_active")
LOCATION_FIELDS = ("name", "kind", "city", "timezone")


def _fields_from(exc: EventValidationError) -> InvalidFields:
    return InvalidFields([InvalidField(e.field.removeprefix("data."), e.message, e.code) for e in exc.errors])


def product_save(
    *, sku: str, name: str, category: str = "", price: Decimal, is_active: bool = True, actor: str
) -> tuple[Product, bool]:
    """Create the product, or record what changed in it. Returns (product, created). Same values: nothing written."""
    with transaction.atomic():
        current = Product.objects.select_for_update().filter(sku=sku).first()
        if current is None:
            try:
                created = ProductCreated(sku=sku, name=name, category=category, price=price, is_active=is_active)
                event = store.NewEvent.of(created, metadata={"actor": actor})
                store.append(f"product-{sku}", [event], expected_version=store.NO_STREAM)
            except EventValidationError as exc:
                raise _fields_from(exc) from None
            except ConcurrencyError:
                raise InvalidFields([InvalidField("sku", "was created meanwhile; send again", "conflict")]) from None
            return Product.objects.get(sku=sku), True
        wanted = {"name": name, "category": category, "price": Decimal(price), "is_active": is_active}
        changes = {key: value for key, value in wanted.items() if getattr(current, key) != value}
        if not changes:
            return current, False
        try:
            event = store.NewEvent.of(ProductUpdated.from_data({"sku": sku, **changes}), metadata={"actor": actor})
            store.append(f"product-{sku}", [event])
        except EventValidationError as exc:
            raise _fields_from(exc) from None
        current.refresh_from_db()
        return current, False


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names (reading them walks the tz database on disk: once per process, not per location)."""
    return frozenset(available_timezones())


def location_create(
    *, code: str, name: str, kind: str, city: str = "", timezone: str = "Europe/Madrid", actor: str
) -> tuple[Location, bool]:
    """Create a location. The same code again with the same values answers it (not created); other values: 409."""
    if timezone not in known_time_zones():
        raise InvalidFields([InvalidField("timezone", f"unknown time zone {timezone!r}", "invalid")])
    with transaction.atomic():
        current = Location.objects.filter(code=code).first()
        if current is not None:
            same = all(
                getattr(current, key) == value
                for key, value in zip(LOCATION_FIELDS, (name, kind, city, timezone), strict=True)
            )
            if same:
                return current, False
            raise AlreadyExists("code", f"location {code} already exists with other values")
        try:
            data = {"code": code, "name": name, "kind": kind, "city": city, "timezone": timezone}
            created = LocationCreated.from_data(data)  # kind as the caller gives it: the schema checks it
            store.append(
                f"location-{code}",
                [store.NewEvent.of(created, metadata={"actor": actor})],
                expected_version=store.NO_STREAM,
            )
        except EventValidationError as exc:
            raise _fields_from(exc) from None
        return Location.objects.get(code=code), True
