"""POST /api/v1/channels/{channel}/status: a provider's delivery callback, HMAC-signed."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.roles import Role
from backoffice.api.authentication import TokenAuthentication
from backoffice.api.fields import AwareDateTimeField
from backoffice.api.permissions import HasRole
from backoffice.api.problems import Problem, event_store_problem
from backoffice.eventstore.errors import EventStoreError

from .. import services
from ..services.status import GENERIC_STATUSES
from .authentication import SignedWebhookMixin, WebhookSignatureAuthentication


class ChannelStatusApi(SignedWebhookMixin, APIView):
    authentication_classes = [WebhookSignatureAuthentication, TokenAuthentication]
    permission_classes = [HasRole]
    allowed_roles = {"POST": (Role.INTEGRATION,)}

    class ChannelStatusInputSerializer(serializers.Serializer):
        provider_message_id = serializers.CharField(max_length=300)
        status = serializers.ChoiceField(choices=sorted(status.value for status in GENERIC_STATUSES))
        occurred_at = AwareDateTimeField(required=False, help_text="when it happened at the provider; default now")
        url = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema(
        request=ChannelStatusInputSerializer,
        responses={
            200: inline_serializer(
                "ChannelStatusResult",
                {
                    "message_id": serializers.UUIDField(),
                    "event_id": serializers.UUIDField(),
                    "duplicate": serializers.BooleanField(),
                },
            )
        },
        description="Delivery callback: delivered, read, clicked, bounced, failed or unsubscribed, by provider "
        "message id. Signed with X-Signature (t=<unix>,v1=<hex HMAC-SHA256 of '<t>.'+body>); the same callback "
        "twice records once.",
    )
    def post(self, request, channel: str):
        self.check_signed(request, channel)
        payload = self.ChannelStatusInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        try:
            result = services.message_status_record(
                channel=channel,
                provider_message_id=values["provider_message_id"],
                status=values["status"],
                occurred_at=values.get("occurred_at"),
                url=values["url"],
                reason=values["reason"],
            )
        except services.UnknownMessage:
            raise Problem(
                status_code=404,
                type="unknown_message",
                title="Unknown message",
                detail=f"no {channel} message has this provider message id",
                errors=[{"field": "provider_message_id", "message": "matches no message", "code": "not_found"}],
            ) from None
        except EventStoreError as exc:
            raise event_store_problem(exc) or exc from None
        body = {"message_id": result.message_id, "event_id": result.event_id, "duplicate": result.duplicate}
        return Response(body, status=200)
