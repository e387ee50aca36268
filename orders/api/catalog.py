"""GET, POST /api/v1/products and /api/v1/locations: the catalog and the places that hold stock."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from backoffice.accounts.actors import request_actor
from backoffice.api.lists import ListApi
from backoffice.api.validation import validated_input

from .. import selectors, services
from ..events import LOCATION_PATTERN, SKU_PATTERN
from ..models import LocationKind
from .base import ALL_STAFF, CATALOG_WRITERS
from .filters import LocationFilter, ProductFilter


class ProductSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    active = serializers.BooleanField(source="is_active")


class LocationSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    city = serializers.CharField()
    timezone = serializers.CharField()


class ProductListApi(ListApi):
    allowed_roles = {"GET": ALL_STAFF, "POST": CATALOG_WRITERS}
    filterset_class = ProductFilter
    cursor_ordering = "sku"
    serializer_class = ProductSerializer

    def get_queryset(self):
        return selectors.products_all()

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ProductSaveInput"

        sku = serializers.RegexField(SKU_PATTERN, max_length=64)
        name = serializers.CharField(max_length=200)
        category = serializers.CharField(max_length=100, allow_blank=True, default="")
        price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
        active = serializers.BooleanField(default=True)

    @extend_schema(request=InputSerializer, responses={201: ProductSerializer, 200: ProductSerializer})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        product, created = services.product_save(
            sku=values["sku"],
            name=values["name"],
            category=values["category"],
            price=values["price"],
            is_active=values["active"],
            actor=request_actor(request),
        )
        return Response(ProductSerializer(product).data, status=201 if created else 200)


class LocationListApi(ListApi):
    allowed_roles = {"GET": ALL_STAFF, "POST": CATALOG_WRITERS}
    filterset_class = LocationFilter
    cursor_ordering = "code"
    serializer_class = LocationSerializer

    def get_queryset(self):
        return selectors.locations_all()

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LocationCreateInput"

        code = serializers.RegexField(LOCATION_PATTERN, max_length=32)
        name = serializers.CharField(max_length=200)
        kind = serializers.ChoiceField(choices=LocationKind.values)
        city = serializers.CharField(max_length=100, allow_blank=True, default="")
        timezone = serializers.CharField(max_length=64, default="Europe/Madrid")

    @extend_schema(request=InputSerializer, responses={201: LocationSerializer, 200: LocationSerializer})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        location, created = services.location_create(**values, actor=request_actor(request))
        return Response(LocationSerializer(location).data, status=201 if created else 200)
