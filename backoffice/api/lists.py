"""The base of every list endpoint: role-checked, its queryset from a selector (`get_queryset`), filtered by the
view's declared FilterSet (`filterset_class`) and paged by the cursor pagination (`cursor_ordering`).

GET answers the page of `serializer_class` rows, and the schema documents it as that page (a list view); a view
overrides `get` only when its GET does more (the customer list's search and access record)."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.generics import ListAPIView

from .permissions import HasRole
from .validation import CheckedQueryParameters


class ListApi(CheckedQueryParameters, ListAPIView):
    permission_classes = [HasRole]
    filter_backends = [DjangoFilterBackend]

    def list_page(self) -> list:
        """The rows of the page the request's cursor names, of the filtered queryset."""
        return self.paginate_queryset(self.filter_queryset(self.get_queryset()))
