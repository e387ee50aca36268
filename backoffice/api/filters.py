"""Filters every list shares (django-filter), strict: a value that means nothing is a 400, never ignored."""

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

from .fields import AwareDateTimeField

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


class StrictBooleanFilter(django_filters.ChoiceFilter):
    """true/false (or 1/0, yes/no); anything else is refused, where django-filter's BooleanFilter ignores it."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [(value, value) for value in _TRUE + _FALSE])
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        return super().filter(qs, str(value).lower() in _TRUE)

    @staticmethod
    def as_bool(value: str) -> bool:
        return str(value).lower() in _TRUE


class _AwareIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        # The API's one rule for a time from outside (AwareDateTimeField): an offset required, within the span the
        # product accepts; a time at the calendar's edge overflowed in the query's conversion to UTC (a 500).
        try:
            return AwareDateTimeField().run_validation(value)
        except serializers.ValidationError as exc:
            # One error with its code (a list of messages would carry none: a problem's `code` is never null).
            raise forms.ValidationError(" ".join(str(message) for message in exc.detail), code="invalid") from None


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time with an offset, as every time of the API's bodies: anything else is a 400 naming it."""

    field_class = _AwareIsoDateTimeField
