from rest_framework.pagination import CursorPagination as DrfCursorPagination


class CursorPagination(DrfCursorPagination):
    """Opaque `next` cursors: stable under inserts, no counting of large tables."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = "-pk"
