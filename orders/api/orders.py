"""POST /api/v1/orders (place, from any channel), GET /api/v1/orders/{id}, and the lifecycle steps
POST /api/v1/orders/{id}/{pay,ready,collect,ship,deliver,cancel,return}."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from backoffice.accounts.actors import request_actor
from backoffice.api.fields import CustomerField
from backoffice.api.problems import or_not_found
from backoffice.api.validation import validated_input
from backoffice.eventstore.schema import CHANNELS
from backoffice.eventstore.vocabulary import FulfilmentMethod

from .. import selectors, services
from ..errors import InvalidFields
from ..events import ORDER_ID_PATTERN
from .base import ORDER_ROLES, OrdersApiView, acting_location


def order_body(order, *, with_history: bool = True) -> dict:
    lines = list(order.lines.all())
    history = selectors.order_history(order_id=order.id) if with_history else []
    body = {
        "id": order.id,
        "customer_id": order.customer_id,
        "channel": order.channel,
        "status": order.status,
        "fulfilment": {"method": order.fulfilment_method, "location": order.fulfilment_location or None},
        # Plain dicts: on every placement's response, and a serializer per line cost more than the rest of the body.
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "location": line.location_code,
                "returned_quantity": line.returned_quantity,
            }
            for line in lines
        ],
        "locations": sorted({line.location_code for line in lines} | ({order.fulfilment_location} - {""})),
        "total": str(order.total),
        "refunded": str(order.refunded),
        "currency": order.currency,
        "is_paid": order.is_paid,
        "placed_at": order.placed_at,
        "updated_at": order.updated_at,
        "allowed_actions": services.allowed_actions(order),
        "reminder_cart_id": order.reminder_cart_id or None,
        "attributed_message_id": order.attributed_message_id or None,
        "history": [
            {
                "type": event.type,
                "occurred_at": event.occurred_at,
                "channel": event.channel,
                "actor": event.metadata.get("actor", ""),
                "data": event.data,
            }
            for event in history
        ],
    }
    if not with_history:
        del body["history"]
    return body


# A line as a client names it, in an order placed or a return: one rule for both (a comment, not a docstring, which
# the OpenAPI schema would show as the components' description).
class LineInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "OrderLineInput"

    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class OrderPlaceApi(OrdersApiView):
    allowed_roles = {"POST": ORDER_ROLES}

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrderPlaceInput"

        class FulfilmentSerializer(serializers.Serializer):
            class Meta:
                ref_name = "FulfilmentInput"

            method = serializers.ChoiceField(
                choices=[method.value for method in FulfilmentMethod],
                help_text="counter: sold at the store's till, paid and taken at once (no reservation)",
            )
            location = serializers.CharField(max_length=32, required=False, allow_blank=True)

        id = serializers.RegexField(ORDER_ID_PATTERN, max_length=64, required=False, help_text="idempotency key")
        customer = CustomerField()
        channel = serializers.ChoiceField(choices=CHANNELS, help_text="where the order was placed")
        lines = LineInputSerializer(many=True, allow_empty=False, max_length=200)
        fulfilment = FulfilmentSerializer()

    @extend_schema(request=InputSerializer, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)  # the hot path: no serializer per request
        order, created = services.order_place(
            order_id=values.get("id"),
            customer=values["customer"],
            channel=values["channel"],
            lines=[dict(line) for line in values["lines"]],
            fulfilment=dict(values["fulfilment"]),
            actor=request_actor(request),
            acting_location=acting_location(request.user),
        )
        # The history of a new order is its one `order.placed`: GET /orders/{id} has it; placement stays lean.
        return Response(order_body(order, with_history=False), status=201 if created else 200)


class OrderDetailApi(OrdersApiView):
    allowed_roles = {"GET": ORDER_ROLES}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, order_id: str):
        return Response(order_body(or_not_found(selectors.order_get(order_id=order_id), "no such order")))


class OrderActionApi(OrdersApiView):
    allowed_roles = {"POST": ORDER_ROLES}

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OrderActionInput"

        class ReturnLineSerializer(LineInputSerializer):
            class Meta:
                ref_name = "ReturnLineInput"

        id = serializers.UUIDField(
            required=False,
            help_text="idempotency key: the step sent again with the same id is applied once (200, the order as it is)",
        )
        channel = serializers.ChoiceField(choices=CHANNELS, required=False, help_text="where the step happened")
        location = serializers.CharField(max_length=32, required=False, help_text="return: where it came back")
        lines = ReturnLineSerializer(many=True, required=False, help_text="return: what came back (default: all)")
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=OpenApiTypes.OBJECT, operation_id="orders_action")
    def post(self, request, order_id: str, action: str):
        if action not in services.ACTIONS:
            raise InvalidFields.of("action", f"unknown action {action!r}; one of {', '.join(services.ACTIONS)}")
        values = validated_input(self.InputSerializer, request.data)
        order = services.order_act(
            order_id=order_id,
            action=action,
            actor=request_actor(request),
            channel=values.get("channel"),
            acting_location=acting_location(request.user),
            location=values.get("location"),
            lines=[dict(line) for line in values["lines"]] if "lines" in values else None,
            reason=values["reason"],
            step_id=values.get("id"),
        )
        return Response(order_body(order))
