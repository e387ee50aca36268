"""One pagination for every list: opaque `next` cursors, stable under inserts, no counting of large tables.

A list view is a GenericAPIView whose queryset comes from a selector, filtered by a declared FilterSet
(django-filter) and paged by this class; `cursor_ordering` on the view says the order, unique at its end (a time,
then the id).

The cursor is a keyset: it holds the whole ordering key of the row a page ended on (every field of the ordering), and
the next page is the rows after that key. DRF's own cursor holds only the first field and steps over rows that share
it with an offset it caps at 1,000: more than 1,000 customers registered in the same instant (an import) were paged
over and over, `next` never null, and some never shown.
"""

import json
from base64 import b64decode, b64encode
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.pagination import Cursor
from rest_framework.pagination import CursorPagination as DrfCursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from backoffice.eventstore import times


def _reversed(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)


class CursorPagination(DrfCursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = "-pk"

    def get_page_size(self, request):
        """`?limit=` from 1 to 1000; anything else is a 400 naming it (DRF would quietly use the default)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= self.max_page_size:
            raise exceptions.ValidationError({"limit": [f"an integer from 1 to {self.max_page_size}"]})
        return limit

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)

    # -- the keyset -------------------------------------------------------------------------------------------------

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self._fields = [self._field(queryset.model, name.lstrip("-")) for name in self.ordering]
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)
        key = self.cursor.position if self.cursor else None
        order = _reversed(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*order)
        if key is not None:
            queryset = queryset.filter(self._after(key, order))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
        first, last = (self._key(self.page[0]), self._key(self.page[-1])) if self.page else (None, None)
        # Forward: more rows after the last, and rows before the first when this page started from a cursor.
        # Backward (a `previous` link followed): the other way round.
        self.has_next, self.has_previous = (key is not None, more) if reverse else (more, key is not None)
        self.next_position = last if self.page else key
        self.previous_position = first if self.page else key
        self.display_page_controls = self.has_next or self.has_previous
        return self.page

    def _after(self, key: list[Any], order: tuple[str, ...]) -> Q:
        """The rows after `key` in `order`: the first field past it, or equal and the next past it, and so on."""
        alternatives = []
        for depth, name in enumerate(order):
            field = name.lstrip("-")
            past = Q(**{f"{field}__{'lt' if name.startswith('-') else 'gt'}": key[depth]})
            same = Q(**{prior.lstrip("-"): key[n] for n, prior in enumerate(order[:depth])})
            alternatives.append(same & past)
        return reduce(or_, alternatives)

    def _key(self, row: Any) -> list[Any]:
        names = [name.lstrip("-") for name in self.ordering]
        return [row[name] if isinstance(row, dict) else getattr(row, name) for name in names]

    def get_next_link(self):
        if not self.has_next:
            return None
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=self.next_position))

    def get_previous_link(self):
        if not self.has_previous:
            return None
        return self.encode_cursor(Cursor(offset=0, reverse=True, position=self.previous_position))

    # -- the cursor's text ------------------------------------------------------------------------------------------

    def encode_cursor(self, cursor):
        tokens = {"p": json.dumps([self._text(value) for value in cursor.position])}
        if cursor.reverse:
            tokens["r"] = "1"
        encoded = b64encode(parse.urlencode(tokens).encode("ascii")).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    @staticmethod
    def _text(value: Any) -> str:
        return value.isoformat() if isinstance(value, datetime) else str(value)

    def decode_cursor(self, request):
        """The cursor's key, each value checked against its field: one this server did not give out is a 400 naming
        `cursor` (DRF answers 404, as if the list were gone; a position it did not check was a 500 in the query)."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse.parse_qs(b64decode(encoded.encode("ascii"), validate=True).decode("ascii"))
            texts = json.loads(tokens["p"][0])
            reverse = tokens.get("r", ["0"])[0] == "1"
            if not isinstance(texts, list) or len(texts) != len(self._fields):
                raise ValueError("a key of another ordering")
            key = [self._value(field, text) for field, text in zip(self._fields, texts, strict=True)]
        except (ValueError, TypeError, KeyError, UnicodeError, DjangoValidationError, OverflowError):
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]}) from None
        return Cursor(offset=0, reverse=reverse, position=key)

    @staticmethod
    def _value(field: Field | None, text: Any) -> Any:
        if not isinstance(text, str) or "\x00" in text:
            raise ValueError("not a value this server gives out")
        if field is None:
            return text  # a computed ordering: nothing to check it against
        value = field.to_python(text)
        if isinstance(value, datetime) and (timezone.is_naive(value) or times.out_of_range(value) is not None):
            raise ValueError("a time this server never gives out")  # aware, and within the product's span
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise ValueError("past a bigint")
        return value

    @staticmethod
    def _field(model, name: str) -> Field | None:
        try:
            field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if isinstance(field, Field) else None

    # -- schema and response ----------------------------------------------------------------------------------------

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters

    def get_paginated_response_schema(self, schema):
        # What every page answers: the items, and the next and previous pages' URLs (null at either end).
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})
