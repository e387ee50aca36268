"""Errors raised by the event store. The API maps them to problem details (409 for conflicts, 400 for invalid)."""

from dataclasses import dataclass, field


class EventStoreError(Exception):
    """Base class: every refusal of the store leaves nothing written."""


@dataclass(frozen=True)
class FieldError:
    """One reason an event was refused: `field` is a dotted path inside the submitted item (`data.sku`)."""

    index: int
    field: str
    message: str
    code: str = "invalid"


class EventValidationError(EventStoreError):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.index}.{e.field}: {e.message}" for e in errors))


@dataclass
class ConcurrencyError(EventStoreError):
    """The stream moved since the writer read it: expected_version is not the stream's current version."""

    stream: str
    expected_version: int
    actual_version: int

    def __str__(self) -> str:
        return f"stream {self.stream} is at version {self.actual_version}, not {self.expected_version}"


@dataclass
class IdempotencyConflict(EventStoreError):
    """An event id is already stored with different content: the id was reused for another event."""

    event_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"event id already stored with different content: {', '.join(self.event_ids)}"


class UnknownEventType(EventStoreError):
    pass
