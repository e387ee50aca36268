"""POST /api/v1/customers/merge and POST /api/v1/customers/{id}/unmerge: one person, or two again."""

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.api.permissions import HasRole
from backoffice.api.validation import validated_input

from .. import selectors, services
from .customers import Customer360Serializer

# Deciding that two records are one person is for staff who talk to customers, and for systems that know.
MERGE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.INTEGRATION)


class CustomerMergeApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": MERGE_ROLES}

    class InputSerializer(serializers.Serializer):
        customer_ids = serializers.ListField(child=serializers.UUIDField(), min_length=2, max_length=2)
        into = serializers.UUIDField(required=False, help_text="the customer to keep; default the older")
        note = serializers.CharField(max_length=500, allow_blank=True, default="", help_text="why (evidence)")

    @extend_schema(
        request=InputSerializer,
        responses={200: Customer360Serializer},
        description="Merge two customers who are one person (the younger into the older unless `into` says). "
        "Both histories stay; `POST /customers/{id}/unmerge` undoes it.",
    )
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        merge = services.customer_merge(
            customer_ids=tuple(values["customer_ids"]),
            into=values.get("into"),
            note=values["note"],
            actor=request_actor(request),
        )
        view = Customer360Serializer(selectors.customer_360(customer_id=merge.survivor)).data
        # The answer is the person's 360 view: a read of both customers' personal data, recorded as any 360 view.
        personal_data_access_record(
            actor=request.user,
            customer_ids=[merge.survivor, *values["customer_ids"]],
            surface=AccessSurface.API_CUSTOMER,
        )
        return Response(view)


class CustomerUnmergeApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": MERGE_ROLES}

    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        customer = Customer360Serializer()
        was_merged_into = Customer360Serializer()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request, customer_id: uuid.UUID):
        values = validated_input(self.InputSerializer, request.data)
        event = services.customer_unmerge(
            customer_id=customer_id, reason=values["reason"], actor=request_actor(request)
        )
        other = selectors.customer_resolve_id(customer_id=event.customer_id)
        body = {
            "customer": Customer360Serializer(selectors.customer_360(customer_id=customer_id)).data,
            "was_merged_into": Customer360Serializer(selectors.customer_360(customer_id=other)).data,
        }
        personal_data_access_record(
            actor=request.user, customer_ids=[customer_id, other], surface=AccessSurface.API_CUSTOMER
        )
        return Response(body)
