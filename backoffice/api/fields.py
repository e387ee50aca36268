import uuid
from datetime import datetime

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from backoffice.eventstore import times

from .problems import invalid


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset, within the span of time the product accepts (backoffice.eventstore.times). A time
    without an offset is refused rather than guessed in the server's zone."""

    default_error_messages = {
        "naive": "a time zone offset is required (e.g. 2026-11-20T10:00:00+01:00)",
        "out_of_range": "{reason}",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well-formed but impossible ("10:61"): Django raises instead of answering None
                self.fail("invalid", format="ISO 8601 with an offset")
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        moment = super().to_internal_value(value)
        reason = times.out_of_range(moment)
        if reason is not None:
            self.fail("out_of_range", reason=reason)
        return moment


def as_of_parameter(raw: str) -> datetime:
    """The `?as_of=` of a read as it was then: an aware date-time, or a 400 naming the parameter."""
    try:
        return AwareDateTimeField().run_validation(raw)
    except serializers.ValidationError as exc:
        raise invalid("as_of", " ".join(str(m) for m in exc.detail)) from None


class CustomerField(serializers.JSONField):
    """How every endpoint names a customer: our id (a UUID string, or {"id": ...}), or an object of identifiers
    ({"email": ..., "phone": ..., "loyalty_card": ...}) resolved like any interaction's sender."""

    def to_internal_value(self, data):
        if not isinstance(data, str | dict) or not data:
            raise serializers.ValidationError("a customer id or an object of identifiers")
        if isinstance(data, dict) and set(data) == {"id"}:
            data = data["id"]
        if isinstance(data, str):
            try:
                return uuid.UUID(data)
            except ValueError:
                raise serializers.ValidationError("is not a customer id", code="invalid") from None
        return data
