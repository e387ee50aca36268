"""One pagination for every list: opaque `next` cursors, stable under inserts, no counting of large tables.

A list view is a GenericAPIView whose queryset comes from a selector, filtered by a declared FilterSet
(django-filter) and paged by this class; `cursor_ordering` on the view says the order (unique at its end).
"""

from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination as DrfCursorPagination
from rest_framework.response import Response

from backoffice.eventstore import times


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

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # what the cursor's position is a value of (decode_cursor checks it)
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """A cursor this server did not make is a 400 naming `cursor` (DRF answers 404, as if the list were gone).

        DRF checks only the cursor's envelope and puts its position into the query as it comes: a forged one that is
        not a value of the ordering field, or a time the database cannot compare, was a 500 there."""
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            cursor = None
            valid = False
        else:
            valid = cursor is None or cursor.position is None or self._position_valid(cursor.position)
        if not valid:
            raise exceptions.ValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor

    def _position_valid(self, position: object) -> bool:
        model = getattr(self, "_model", None)
        position = str(position)  # DRF hands it as the text the cursor held
        if "\x00" in position:
            return False
        try:
            field = model._meta.get_field(self.ordering[0].lstrip("-")) if model is not None else None
        except FieldDoesNotExist:
            field = None
        if field is None:
            return True  # a related or computed ordering: nothing to check it against
        try:
            value = field.to_python(position)
            if isinstance(value, datetime):
                # The positions this server gives out are aware and within the product's span of time.
                return timezone.is_aware(value) and times.out_of_range(value) is None
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            return False
        if isinstance(value, int):
            return -(2**63) <= value < 2**63
        return True

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters

    def get_ordering(self, request, queryset, view):
        ordering = getattr(view, "cursor_ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)

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
