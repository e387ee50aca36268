"""What the commands of segments, campaigns and journeys share: their refusal, and their one event built from plain
data (a worksheet, a segment's rules, a journey's plan) and appended, a bad value refused naming each field."""

from collections.abc import Callable
from typing import Any, ClassVar, Self

from backoffice.eventstore import store
from backoffice.eventstore.errors import EventValidationError, FieldError
from backoffice.eventstore.schema import EventData

FieldErrors = list[dict[str, str]]


class CommandRefused(Exception):
    """A command the state or content of what it changes does not allow; `errors` name the fields ([{field,
    message, code}]), `code` says why as a whole."""

    # What the command changes, as the refusal of invalid content names it ("the campaign is invalid").
    noun: ClassVar[str] = "command"

    def __init__(self, code: str, message: str, errors: FieldErrors | None = None):
        self.code, self.message, self.errors = code, message, errors or []
        super().__init__(message)

    @classmethod
    def invalid(cls, errors: FieldErrors) -> Self:
        return cls("invalid", f"the {cls.noun} is invalid", errors)


def data_field(path: str) -> str:
    """`data.rules.0.value` is the command's `rules.0.value`."""
    return path.removeprefix("data.")


def append_from_data(
    stream: str,
    event_type: type[EventData],
    data: dict[str, Any],
    *,
    actor: str,
    refused: Callable[[FieldErrors], Exception],
    expected_version: store.ExpectedVersion = store.ANY,
    field: Callable[[str], str] = data_field,
) -> None:
    """Append one `event_type` event of `data` to `stream`, the actor in its metadata. Data the event refuses raises
    `refused(errors)` (each error's field as `field` names it), with nothing appended."""
    try:
        event = store.NewEvent.of(event_type.from_data(data), metadata={"actor": actor})
        store.append(stream, [event], expected_version=expected_version)
    except EventValidationError as exc:
        raise refused(_field_errors(exc.errors, field)) from None


def check_from_data(
    event_type: type[EventData],
    data: dict[str, Any],
    *,
    refused: Callable[[FieldErrors], Exception],
    field: Callable[[str], str] = data_field,
) -> None:
    """Raise `refused(errors)` when append_from_data would refuse this data (its schema, its size in the log, its
    characters), appending nothing: what a form asks before it saves, to show the reasons on its fields."""
    try:
        event = store.NewEvent.of(event_type.from_data(data))
    except EventValidationError as exc:
        raise refused(_field_errors(exc.errors, field)) from None
    _data, errors = store.validate_event(event)
    if errors:
        raise refused(_field_errors(errors, field))


def _field_errors(errors: list[FieldError], field: Callable[[str], str]) -> FieldErrors:
    return [{"field": field(e.field), "message": e.message, "code": e.code} for e in errors]
