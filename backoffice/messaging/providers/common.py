"""What every provider adapter shares: problem answers, the body size limit, and the error a receiver raises for a
payload it cannot use."""

from datetime import UTC, datetime

from django.conf import settings
from django.http import JsonResponse

from backoffice.api.problems import CONTENT_TYPE, problem_body


class ProviderInputError(ValueError):
    """The provider's payload is well signed but unusable: answered 400 naming the field, nothing written."""

    def __init__(self, field: str, message: str, code: str = "invalid"):
        self.field, self.message, self.code = field, message, code
        super().__init__(f"{field}: {message}")


def problem(status: int, problem_type: str, title: str, detail: str, *, field: str = "", code: str = "", **extra):
    errors = [{"field": field, "message": detail, "code": code or problem_type}] if field or code else []
    response = JsonResponse(
        problem_body(status, problem_type, title, detail, errors=errors), status=status, content_type=CONTENT_TYPE
    )
    for header, value in extra.get("headers", {}).items():
        response[header] = value
    return response


def unauthorized(detail: str, *, challenge: str) -> JsonResponse:
    return problem(
        401,
        "invalid_signature",
        "Not authenticated",
        detail,
        code="invalid_signature",
        headers={"WWW-Authenticate": challenge},
    )


def too_large(request, limit: int | None = None) -> JsonResponse | None:
    """413 when the declared body is over the limit (read before anything else, so it is never buffered)."""
    limit = limit or settings.MESSAGING_PROVIDER_MAX_BODY
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return problem(400, "invalid_request", "Bad request", "Content-Length is not a number", field="Content-Length")
    if length > limit:
        return problem(
            413, "body_too_large", "Body too large", f"the body is over {limit} bytes", field="body", code="too_large"
        )
    return None


def aware(value: datetime | None) -> datetime | None:
    """A provider's time as an aware datetime; one further in the future than the event store accepts is a bad
    input (answered 400), not a crash."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value > datetime.now(UTC) + settings.EVENTSTORE_MAX_FUTURE_SKEW:
        raise ProviderInputError("timestamp", "is in the future", "future_timestamp")
    return value


def from_unix(value, field: str = "timestamp") -> datetime:
    try:
        return aware(datetime.fromtimestamp(int(value), tz=UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        raise ProviderInputError(field, "must be a Unix time in seconds") from None
