"""One pagination for every list: opaque `next` cursors, stable under inserts, no counting of large tables.

A list view is a GenericAPIView whose queryset comes from a selector, filtered by a declared FilterSet
(django-filter) and paged by this class; `cursor_ordering` on the view says the order (unique at its end).
"""

from rest_framework.pagination import CursorPagination as DrfCursorPagination
from rest_framework.response import Response


class CursorPagination(DrfCursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = "-pk"

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
