"""GET /api/v1/stock?sku=&location= (live levels) and POST /api/v1/stock/movements (received, counted, sold,
transfer)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from backoffice.accounts.actors import request_actor
from backoffice.api.problems import invalid
from backoffice.api.schema import page_of
from backoffice.api.validation import validated_input

from .. import selectors, services
from .base import ALL_STAFF, STOCK_WRITERS, OrdersApiView, acting_location


class StockLevelSerializer(serializers.Serializer):
    sku = serializers.CharField()
    location = serializers.CharField()
    location_name = serializers.CharField()
    kind = serializers.CharField()
    city = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    live = serializers.BooleanField()
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)


class StockApi(OrdersApiView):
    allowed_roles = {"GET": ALL_STAFF}

    @extend_schema(
        parameters=[
            OpenApiParameter("sku", OpenApiTypes.STR),
            OpenApiParameter("location", OpenApiTypes.STR),
            OpenApiParameter("after", OpenApiTypes.STR, description="sku@location of the last row (location only)"),
        ],
        responses=page_of("StockPage", StockLevelSerializer),
    )
    def get(self, request):
        sku = request.query_params.get("sku") or None
        location = request.query_params.get("location") or None
        if sku is None and location is None:
            raise invalid("sku", "give a sku, a location, or both", "required")
        after = None
        if "after" in request.query_params:
            after_sku, _, after_location = request.query_params["after"].partition("@")
            after = (after_sku, after_location)
        try:
            levels = selectors.stock_levels(sku=sku, location=location, after=after)
        except selectors.UnknownReference as exc:
            raise invalid(exc.field, str(exc), f"unknown_{exc.field}") from None
        next_url = None
        if sku is None and len(levels) > 200:
            levels = levels[:200]
            last = levels[-1]
            next_url = request.build_absolute_uri(f"?location={location}&after={last['sku']}@{last['location']}")
        # The selector's rows are already the response's shape (StockLevelSerializer documents it): serialising 50
        # rows field by field through DRF cost more than the query.
        return Response({"results": levels, "next": next_url})


MovementAnswer = inline_serializer("StockMovementAnswer", {"levels": StockLevelSerializer(many=True)})


class StockMovementApi(OrdersApiView):
    allowed_roles = {"POST": STOCK_WRITERS}

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "StockMovementInput"

        id = serializers.UUIDField(required=False, help_text="idempotency key; a resend with it changes nothing")
        sku = serializers.CharField(max_length=64)
        location = serializers.CharField(max_length=32)
        kind = serializers.ChoiceField(choices=services.MOVEMENT_KINDS)
        quantity = serializers.IntegerField(help_text="units; for `counted`, the number counted (0 or more)")
        to_location = serializers.CharField(max_length=32, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={201: MovementAnswer, 200: MovementAnswer})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        rows, created = services.stock_move_recorded(
            sku=values["sku"],
            location=values["location"],
            kind=values["kind"],
            quantity=values["quantity"],
            to_location=values.get("to_location") or None,
            actor=request_actor(request),
            acting_location=acting_location(request.user),
            event_id=values.get("id"),
        )
        levels = [level for row in rows for level in selectors.stock_levels(sku=row.sku, location=row.location_code)]
        return Response({"levels": StockLevelSerializer(levels, many=True).data}, status=201 if created else 200)
