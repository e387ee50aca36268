"""The base of every list endpoint: role-checked, its queryset from a selector (`get_queryset`), filtered by the
view's declared FilterSet (`filterset_class`) and paged by the cursor pagination (`cursor_ordering`)."""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from .permissions import HasRole


class ListApi(GenericAPIView):
    permission_classes = [HasRole]
    filter_backends = [DjangoFilterBackend]

    def list_page(self) -> list:
        """The rows of the page the request's cursor names, of the filtered queryset."""
        return self.paginate_queryset(self.filter_queryset(self.get_queryset()))

    def list_response(self) -> Response:
        """That page rendered by the view's `serializer_class`, with its `next` and `previous` links."""
        return self.get_paginated_response(self.serializer_class(self.list_page(), many=True).data)
