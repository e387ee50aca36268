"""GET and POST /api/v1/customers/{id}/consents: the consent ledger of one customer."""

import uuid
from typing import get_args

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.api.fields import AwareDateTimeField
from backoffice.api.permissions import HasRole
from backoffice.api.validation import validated_input
from backoffice.eventstore.schema import CHANNELS

from .. import selectors, services
from ..events import ConsentChannel, ConsentGranted, ConsentPurpose


class ConsentStateSerializer(serializers.Serializer):
    channel = serializers.CharField()
    purpose = serializers.CharField()
    granted = serializers.BooleanField(source="is_granted")
    source_channel = serializers.CharField()
    wording = serializers.CharField()
    changed_at = serializers.DateTimeField()


class ConsentChangeSerializer(serializers.Serializer):
    """One entry of the ledger's history, read from the consent events."""

    id = serializers.UUIDField()
    position = serializers.IntegerField()
    granted = serializers.SerializerMethodField()
    channel = serializers.SerializerMethodField()
    purpose = serializers.SerializerMethodField()
    source_channel = serializers.CharField(source="channel")
    wording = serializers.SerializerMethodField()
    occurred_at = serializers.DateTimeField()
    actor = serializers.SerializerMethodField()

    def get_granted(self, event) -> bool:
        return event.type == ConsentGranted.type_name

    def get_channel(self, event) -> str:
        return event.data["channel"]

    def get_purpose(self, event) -> str:
        return event.data["purpose"]

    def get_wording(self, event) -> str:
        return event.data["wording"]

    def get_actor(self, event) -> str:
        return event.metadata.get("actor", "")


class ConsentLedgerSerializer(serializers.Serializer):
    """What GET answers, and POST after recording a change: the ledger as it is now."""

    customer_id = serializers.UUIDField(help_text="the person the ledger is of (the one a merged id is part of)")
    consents = ConsentStateSerializer(many=True, help_text="the current state per channel and purpose")
    history = ConsentChangeSerializer(many=True, help_text="every grant and withdrawal, from the consent events")


def _ledger(customer_id: uuid.UUID) -> dict:
    return {
        "customer_id": customer_id,
        "consents": ConsentStateSerializer(selectors.consent_states(customer_id=customer_id), many=True).data,
        "history": ConsentChangeSerializer(selectors.consent_history(customer_id=customer_id), many=True).data,
    }


class CustomerConsentsApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {
        "GET": (Role.ADMIN, Role.MARKETING, Role.SUPPORT, Role.STORE, Role.INTEGRATION),
        # Consent is given or withdrawn where the customer is: at the counter, on the phone, by a system's form.
        "POST": (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.INTEGRATION),
    }

    class InputSerializer(serializers.Serializer):
        id = serializers.UUIDField(required=False, help_text="idempotency key; a resend with it changes nothing")
        channel = serializers.ChoiceField(choices=get_args(ConsentChannel))
        purpose = serializers.ChoiceField(choices=get_args(ConsentPurpose))
        granted = serializers.BooleanField()
        source_channel = serializers.ChoiceField(choices=CHANNELS, help_text="where the customer said it")
        wording = serializers.CharField(max_length=2000, allow_blank=True, default="")
        occurred_at = AwareDateTimeField(required=False, help_text="when it was said; default now")

    @extend_schema(responses=ConsentLedgerSerializer)
    def get(self, request, customer_id: uuid.UUID):
        owner = selectors.customer_resolve_id(customer_id=customer_id)
        ledger = _ledger(owner)
        personal_data_access_record(actor=request.user, customer_ids=[owner], surface=AccessSurface.API_CONSENTS)
        return Response(ledger)

    @extend_schema(request=InputSerializer, responses={201: ConsentLedgerSerializer})
    def post(self, request, customer_id: uuid.UUID):
        owner = selectors.customer_resolve_id(customer_id=customer_id)
        values = validated_input(self.InputSerializer, request.data)
        services.consent_record(
            customer_id=owner,
            channel=values["channel"],
            purpose=values["purpose"],
            is_granted=values["granted"],
            source_channel=values["source_channel"],
            wording=values["wording"],
            occurred_at=values.get("occurred_at"),
            event_id=values.get("id"),
            actor=request_actor(request),
        )
        return Response(_ledger(owner), status=status.HTTP_201_CREATED)
