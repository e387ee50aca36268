"""POST /api/v1/customers/{id}/erase and GET /api/v1/customers/{id}/export: GDPR erasure and access."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.api.permissions import HasRole
from backoffice.api.problems import Problem

from .. import services

# Acting on a person's rights is for staff who answer them; stores and systems only serve the customer.
GDPR_ROLES = (Role.ADMIN, Role.SUPPORT)


class CustomerEraseApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": GDPR_ROLES}

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="customer_id")
        erased_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses={200: OutputSerializer},
        description="Destroy the customer's key and scrub their personal data. Irreversible; 409 if already erased.",
    )
    def post(self, request, customer_id: uuid.UUID):
        try:
            erasure = services.customer_erase(customer_id=customer_id, actor=request_actor(request))
        except services.CustomerAlreadyErased as exc:
            raise Problem(
                status_code=409,
                type="already_erased",
                title="The customer is already erased",
                detail=str(exc),
                erased_at=exc.erased_at.isoformat(),
            ) from None
        return Response(self.OutputSerializer(erasure).data)


class CustomerExportApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": GDPR_ROLES}

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        description="Everything held about the customer, decrypted; for an erased customer, only that they were.",
    )
    def get(self, request, customer_id: uuid.UUID):
        body = services.customer_export(customer_id=customer_id, actor=request_actor(request))
        personal_data_access_record(actor=request.user, customer_ids=[customer_id], surface=AccessSurface.API_EXPORT)
        return Response(body)
