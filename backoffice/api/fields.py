from django.utils.dateparse import parse_datetime
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset. A time without one is refused rather than guessed in the server's zone."""

    default_error_messages = {"naive": "a time zone offset is required (e.g. 2026-11-20T10:00:00+01:00)"}

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)
