"""RFC 9457 problem details for every API error.

    {"type": ".../problems/validation_error", "title": "...", "status": 400, "detail": "...",
     "errors": [{"field": "events.3.occurred_at", "message": "...", "code": "naive_datetime"}]}

Services raise domain errors; views raise `Problem` (or DRF's exceptions); this handler renders them all.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError as DjangoInterfaceError
from django.db import InternalError as DjangoInternalError
from django.db import OperationalError as DjangoOperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from backoffice.eventstore.errors import ConcurrencyError, EventValidationError, IdempotencyConflict
from backoffice.eventstore.keys import KeyDestroyed

PROBLEM_BASE = "https://backoffice.example/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(exceptions.APIException):
    """An error with a machine-readable type, a status, and optional per-field errors and extra members."""

    def __init__(
        self,
        *,
        status_code: int,
        type: str,
        title: str,
        detail: str = "",
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ):
        self.status_code = status_code
        self.problem_type = type
        self.title = title
        self.errors = errors or []
        self.extra = extra
        super().__init__(detail or title)


_TYPES = {
    exceptions.ParseError: ("malformed_request", "The request body could not be parsed"),
    exceptions.ValidationError: ("validation_error", "The request is invalid"),
    exceptions.NotAuthenticated: ("not_authenticated", "Authentication is required"),
    exceptions.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    exceptions.PermissionDenied: ("permission_denied", "You may not do this"),
    exceptions.NotFound: ("not_found", "Not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "Not acceptable"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    exceptions.Throttled: ("throttled", "Too many requests"),
}


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested error dicts and lists as a flat list with dotted field paths (`lines.0.sku`)."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            field = prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            out.extend(flatten_errors(value, field))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [_field_error(prefix, item) for item in detail]
        out = []
        for index, item in enumerate(detail):
            if item in ({}, [], None):
                continue
            out.extend(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return [_field_error(prefix, detail)]


def _field_error(field: str, message: Any) -> dict[str, str]:
    # A message raised without a code (Django's ValidationError of a list) still says one: the schema's is a string.
    return {"field": field, "message": str(message), "code": getattr(message, "code", None) or "invalid"}


def problem_body(status_code: int, problem_type: str, title: str, detail: str, **members: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + problem_type,
        "title": title,
        "status": status_code,
        "detail": detail,
        **members,
    }


def event_store_problem(exc: Exception, *, field_prefix: str = "") -> "Problem | None":
    """The problem an event-store refusal stands for; `field_prefix` places item errors (`events.3`)."""
    if isinstance(exc, EventValidationError):
        errors = [
            {
                "field": ".".join(p for p in (field_prefix and f"{field_prefix}.{e.index}", e.field) if p),
                "message": e.message,
                "code": e.code,
            }
            for e in exc.errors
        ]
        return validation_failed(errors)
    if isinstance(exc, ConcurrencyError):
        return Problem(
            status_code=409,
            type="concurrency_conflict",
            title="The stream has moved",
            detail=str(exc),
            stream=exc.stream,
            expected_version=exc.expected_version,
            actual_version=exc.actual_version,
        )
    if isinstance(exc, KeyDestroyed):
        return Problem(
            status_code=409,
            type="customer_erased",
            title="The customer was erased",
            detail="personal data about an erased customer cannot be stored",
            customer_id=str(exc.customer_id),
        )
    if isinstance(exc, IdempotencyConflict):
        return Problem(
            status_code=409,
            type="idempotency_conflict",
            title="Event id reused for different content",
            detail=str(exc),
            event_ids=exc.event_ids,
        )
    return None


# Domain refusal class -> the problem it stands for. One registry for every app: an app registers its own error
# classes (in its api/problems.py, imported by its AppConfig.ready), the handler below looks them up by class, most
# specific first. Views then raise or let through domain errors and never translate them by hand.
_registry: dict[type[Exception], Callable[[Any], "Problem"]] = {}


def problem_for_class(*classes: type[Exception]) -> Callable:
    """Register fn(exc) -> Problem as the rendering of these exception classes (and their subclasses)."""

    def register(fn: Callable[[Any], Problem]) -> Callable[[Any], Problem]:
        for klass in classes:
            if klass in _registry and _registry[klass] is not fn:
                raise ValueError(f"{klass.__qualname__} already has a problem type")
            _registry[klass] = fn
        return fn

    return register


def registered_problem(exc: Exception) -> "Problem | None":
    for klass in type(exc).__mro__:
        factory = _registry.get(klass)
        if factory is not None:
            return factory(exc)
    return None


# SQLSTATEs of a database that cannot take the request now, whatever it was: 08 connection exception, 25006
# read-only transaction (a standby, or default_transaction_read_only during maintenance), 40 serialization failure or
# deadlock, 53 insufficient resources, 57014 statement timeout, 57P01-57P03 shutdown or not accepting connections.
_UNAVAILABLE_SQLSTATES = ("08", "25006", "40", "53", "57014", "57P01", "57P02", "57P03")
# SQLite's codes for the same situations: read-only file, busy or locked past the timeout, disk errors, disk full.
_UNAVAILABLE_SQLITE = (
    "SQLITE_READONLY",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database is down, read-only or overloaded (a 503 to retry), not that the request or
    the code is wrong (a 500)."""
    if isinstance(exc, DjangoInterfaceError):
        return True  # the connection is closed or broken
    if not isinstance(exc, (DjangoOperationalError, DjangoInternalError)):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    sqlite_name = getattr(cause, "sqlite_errorname", None)
    if sqlite_name:
        return sqlite_name.startswith(_UNAVAILABLE_SQLITE)
    # psycopg carries no SQLSTATE when there is no connection at all (refused, reset, server gone).
    return isinstance(exc, DjangoOperationalError)


def database_unavailable_problem() -> "Problem":
    return Problem(
        status_code=503,
        type="database_unavailable",
        title="The database cannot take the request now",
        detail="nothing was changed; retry later with the same ids",
    )


def problem_exception_handler(exc, context):
    if database_unavailable(exc):
        exc = database_unavailable_problem()
    exc = event_store_problem(exc) or registered_problem(exc) or exc
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a 500, which is a bug, and Django reports it
    if isinstance(exc, Problem):
        body = problem_body(exc.status_code, exc.problem_type, exc.title, str(exc.detail), **exc.extra)
        body["errors"] = exc.errors
    else:
        problem_type, title = next(
            (value for klass, value in _TYPES.items() if isinstance(exc, klass)), ("error", "Request failed")
        )
        # A DRF exception may name a more precise problem type of its own (the API's TokenExpired).
        problem_type = getattr(exc, "problem_type", problem_type)
        title = getattr(exc, "problem_title", title)
        if isinstance(exc, exceptions.ValidationError):
            errors = flatten_errors(exc.detail)
            detail = f"{len(errors)} field(s) are invalid: " + ", ".join(e["field"] or "(request)" for e in errors)
        else:
            errors = []
            detail = str(exc.detail)
        members = getattr(exc, "problem_members", {})
        body = problem_body(response.status_code, problem_type, title, detail, errors=errors, **members)
    response.data = body
    response.content_type = CONTENT_TYPE
    if response.status_code == 503:
        response["Retry-After"] = "5"
    return response


def json_not_found(request, exception=None):
    """handler404: API clients get a problem document, browsers Django's page."""
    if request.path.startswith("/api/"):
        body = problem_body(404, "not_found", "Not found", "No such endpoint", errors=[])
        return JsonResponse(body, status=404, content_type=CONTENT_TYPE)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def invalid(field: str, message: str, code: str = "invalid") -> Problem:
    """A 400 naming one field of the request (a query parameter, or a member of the body)."""
    return Problem(
        status_code=400,
        type="validation_error",
        title="The request is invalid",
        detail=f"{field or 'body'}: {message}",
        errors=[{"field": field, "message": message, "code": code}],
    )


def validation_failed(errors: list[dict[str, str]]) -> Problem:
    return Problem(
        status_code=400,
        type="validation_error",
        title="The request is invalid",
        detail=f"{len(errors)} field(s) are invalid",
        errors=errors,
    )


def refused(
    status_code: int, problem_type: str, title: str, *, field: str, message: str, code: str | None = None, **extra: Any
) -> Problem:
    """A request refused for the state of what it acts on (409) or by whom (403): one error naming the field."""
    return Problem(
        status_code=status_code,
        type=problem_type,
        title=title,
        detail=message,
        errors=[{"field": field, "message": message, "code": code or problem_type}],
        **extra,
    )


def not_found(detail: str) -> Problem:
    return Problem(status_code=404, type="not_found", title="Not found", detail=detail)


Found = TypeVar("Found")


def or_not_found(found: Found | None, detail: str) -> Found:
    """What a selector found for an id in the path, or a 404 saying `detail` when it found nothing."""
    if found is None:
        raise not_found(detail)
    return found
