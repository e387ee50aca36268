"""Filters every list shares (django-filter), strict: a value that means nothing is a 400, never ignored."""

import django_filters

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
