"""GET, POST /api/v1/products and /api/v1/locations: the catalog and the places that hold stock."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from backoffice.api.problems import invalid

from .. import selectors, services
from ..events import LOCATION_PATTERN, SKU_PATTERN
from ..models import LocationKind
from .base import ALL_STAFF, CATALOG_WRITERS, OrdersApiView, actor

PAGE = 100


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


class ProductListApi(OrdersApiView):
    allowed_roles = {"GET": ALL_STAFF, "POST": CATALOG_WRITERS}

    class InputSerializer(serializers.Serializer):
        sku = serializers.RegexField(SKU_PATTERN, max_length=64)
        name = serializers.CharField(max_length=200)
        category = serializers.CharField(max_length=100, allow_blank=True, default="")
        price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
        active = serializers.BooleanField(default=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("category", OpenApiTypes.STR),
            OpenApiParameter("after", OpenApiTypes.STR, description="the last sku of the previous page"),
        ],
        responses=ProductSerializer(many=True),
    )
    def get(self, request):
        after = request.query_params.get("after", "")
        products = selectors.product_list(category=request.query_params.get("category"), after=after, limit=PAGE)
        next_url = None
        if len(products) == PAGE:
            next_url = request.build_absolute_uri(f"?after={products[-1].sku}")
        return Response({"results": ProductSerializer(products, many=True).data, "next": next_url})

    @extend_schema(request=InputSerializer, responses={201: ProductSerializer, 200: ProductSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        product, created = services.product_save(
            sku=values["sku"],
            name=values["name"],
            category=values["category"],
            price=values["price"],
            is_active=values["active"],
            actor=actor(request),
        )
        return Response(ProductSerializer(product).data, status=201 if created else 200)


class LocationListApi(OrdersApiView):
    allowed_roles = {"GET": ALL_STAFF, "POST": CATALOG_WRITERS}

    class InputSerializer(serializers.Serializer):
        code = serializers.RegexField(LOCATION_PATTERN, max_length=32)
        name = serializers.CharField(max_length=200)
        kind = serializers.ChoiceField(choices=LocationKind.values)
        city = serializers.CharField(max_length=100, allow_blank=True, default="")
        timezone = serializers.CharField(max_length=64, default="Europe/Madrid")

    @extend_schema(parameters=[OpenApiParameter("kind", OpenApiTypes.STR)], responses=LocationSerializer(many=True))
    def get(self, request):
        kind = request.query_params.get("kind")
        if kind is not None and kind not in LocationKind.values:
            raise invalid("kind", f"one of {', '.join(LocationKind.values)}", "invalid_choice")
        locations = selectors.location_list(kind=kind)
        return Response({"results": LocationSerializer(locations, many=True).data, "next": None})

    @extend_schema(request=InputSerializer, responses={201: LocationSerializer, 200: LocationSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        location, created = services.location_create(**payload.validated_data, actor=actor(request))
        return Response(LocationSerializer(location).data, status=201 if created else 200)
