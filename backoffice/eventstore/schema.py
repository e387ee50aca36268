"""Event types and their data schemas, and the upcasters that lift old shapes on read.

An app declares each event type it writes once, in its events.py, as a subclass of EventData:

    class OrderPlaced(EventData):
        type_name = "order.placed"
        schema_version = 1
        personal_fields = ("delivery_address",)
        order_id: UUID
        ...

Subclassing registers the type. The store refuses any type it does not know, and any data that does not match the
type's schema, with the reason. Fields named in `personal_fields` are encrypted with the customer's key.
No Django here: event types are plain typed schemas.
"""

from collections.abc import Callable
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import EventValidationError, FieldError
from .vocabulary import CHANNELS as CHANNELS  # re-exported: the channels, defined once in vocabulary

_types: dict[str, type["EventData"]] = {}
_upcasters: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


class EventData(BaseModel):
    """Base of every event's data schema. Subclasses with a `type_name` register themselves."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    type_name: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1
    # Accepted from other systems through POST /api/v1/events (interactions); the rest come from services only.
    ingestible: ClassVar[bool] = False
    # Top-level fields holding personal data (names, emails, phones, addresses, free text).
    personal_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, /, **data: Any) -> None:
        # A writer building its event with a bad value gets the store's refusal (field `data.<name>`), as when it
        # appended the same data as a dict; pydantic's own error would reach the API as a 500.
        try:
            # BaseModel.__init__'s one statement, without its extra frame (writers build an event per append).
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except ValidationError as exc:
            raise EventValidationError(field_errors(exc)) from None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Self:
        """The event built from plain data (nested parts as dicts, as a request gives them); a bad value raises
        EventValidationError naming `data.<path>`, as building it field by field does."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise EventValidationError(field_errors(exc)) from None

    # Pydantic's validator calls a custom __init__ on every model_validate (the store's own validation of dict
    # data): marked as the base one, it runs only when a writer builds an event, and model_validate stays as fast.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]  # pydantic's marker, set as it sets its own

    @classmethod
    def stream_name(cls, data: dict[str, Any], customer_id: Any) -> str:
        """The stream an ingested event of this type goes to; interactions default to the customer's stream."""
        return f"customer-{customer_id}"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Pydantic's hook runs once the fields are known, so personal_fields can be checked against them.
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("type_name"):
            registered = _types.get(cls.type_name)
            if registered is not None and registered.__qualname__ != cls.__qualname__:
                raise ValueError(f"event type {cls.type_name!r} is declared twice ({registered} and {cls})")
            unknown = set(cls.personal_fields) - set(cls.model_fields)
            if unknown:
                raise ValueError(f"{cls.type_name}: personal_fields names unknown fields {sorted(unknown)}")
            _types[cls.type_name] = cls


def field_errors(exc: ValidationError, *, index: int = 0) -> list[FieldError]:
    """Pydantic's reasons as the store's, with paths inside the event (`data.lines.0.sku`)."""
    return [
        FieldError(index, ".".join(["data", *(str(part) for part in err["loc"])]), err["msg"], err["type"])
        for err in exc.errors(include_url=False)
    ]


def event_type(type_name: str) -> type[EventData]:
    try:
        return _types[type_name]
    except KeyError:
        raise LookupError(type_name) from None


def is_known_type(type_name: str) -> bool:
    return type_name in _types


def ingestible_types() -> list[str]:
    return sorted(name for name, schema in _types.items() if schema.ingestible)


def registered_types() -> dict[str, type[EventData]]:
    return dict(_types)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register fn(data) -> data lifting `type_name` data from `from_version` to `from_version + 1`."""

    def register(fn: Upcaster) -> Upcaster:
        _upcasters[(type_name, from_version)] = fn
        return fn

    return register


def upcast(type_name: str, schema_version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Lift stored data to the type's current schema version. Stored rows are never rewritten."""
    schema = _types.get(type_name)
    if schema is None:
        return schema_version, data
    while schema_version < schema.schema_version:
        step = _upcasters.get((type_name, schema_version))
        if step is None:
            raise LookupError(f"no upcaster for {type_name} v{schema_version}")
        data = step(data)
        schema_version += 1
    return schema_version, data
