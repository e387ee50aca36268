"""POST /api/v1/channels/{channel}/inbound: a message a customer sent on a channel, from its provider (HMAC-signed)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.roles import Role
from backoffice.api.authentication import TokenAuthentication
from backoffice.api.permissions import HasRole
from backoffice.api.problems import event_store_problem, invalid
from backoffice.eventstore.errors import EventValidationError
from backoffice.messaging.api.authentication import SignedWebhookMixin, WebhookSignatureAuthentication, unknown_channel

from ..services.inbound import INBOUND_CHANNELS, inbound_message_receive


class ChannelInboundApi(SignedWebhookMixin, APIView):
    authentication_classes = [WebhookSignatureAuthentication, TokenAuthentication]
    permission_classes = [HasRole]
    allowed_roles = {"POST": (Role.INTEGRATION,)}

    @extend_schema(
        request=inline_serializer(
            "InboundMessage",
            {
                "provider_message_id": serializers.CharField(),
                "from": serializers.CharField(help_text="email, phone, or Facebook / Instagram id, per channel"),
                "text": serializers.CharField(),
                "subject": serializers.CharField(required=False),
                "name": serializers.CharField(required=False),
                "received_at": serializers.DateTimeField(required=False),
                "is_opt_out": serializers.BooleanField(
                    required=False, help_text="the provider classified the message as an opt-out (withdraws marketing)"
                ),
            },
        ),
        responses={
            200: inline_serializer(
                "InboundResult",
                {
                    "event_id": serializers.UUIDField(),
                    "customer_id": serializers.UUIDField(),
                    "action": serializers.ChoiceField(
                        choices=["case_opened", "case_message", "unsubscribed", "csat", "duplicate"]
                    ),
                    "case_id": serializers.UUIDField(allow_null=True),
                    "duplicate": serializers.BooleanField(),
                },
            )
        },
        description="A customer's message: recorded on their timeline, then STOP/BAJA withdraws marketing on the "
        "channel, a bare 1-5 answers a recent satisfaction survey, anything else joins their open case or opens "
        "one. Signed like the status webhook; the same provider message twice is handled once.",
    )
    def post(self, request, channel: str):
        self.check_signed(request, channel)
        if channel not in INBOUND_CHANNELS:
            raise unknown_channel(channel)
        if not isinstance(request.data, dict):
            raise invalid("", "the body must be a JSON object", "not_an_object")
        try:
            result = inbound_message_receive(channel=channel, payload=dict(request.data), actor=f"webhook:{channel}")
        except EventValidationError as exc:
            raise event_store_problem(exc) from None
        return Response(
            {
                "event_id": result.event_id,
                "customer_id": result.customer_id,
                "action": result.action,
                "case_id": result.case_id,
                "duplicate": result.duplicate,
            }
        )
