"""Journeys: GET, POST /api/v1/journeys; GET .../{id}; POST .../{id}/publish, .../pause, .../simulate ({customer});
GET .../{id}/report. Roles as campaigns: marketing and admin own them, integration may read."""

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.api.lists import ListApi
from backoffice.api.permissions import HasRole
from backoffice.api.problems import or_not_found
from backoffice.api.validation import validated_input
from customers.selectors import customer_exists

from .. import services
from ..journeys import selectors
from ..journeys.models import Journey, JourneyStatus
from ..journeys.templates import TEMPLATES
from .views import OWNERS, READERS


class JourneyFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JourneyStatus.choices, help_text="one or more statuses")
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="part of the name")

    class Meta:
        model = Journey
        fields = ("status", "name")


class JourneySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField(help_text="the live version people enter; 0 before the first publication")
    objective = serializers.CharField()
    kpi = serializers.CharField()
    holdout_share = serializers.DecimalField(max_digits=4, decimal_places=3)
    attribution_days = serializers.IntegerField()
    definition = serializers.JSONField(help_text="the draft of the next version (the live one if unchanged)")
    template = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class JourneyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    template = serializers.ChoiceField(choices=sorted(TEMPLATES), required=False, help_text="start from a template")
    objective = serializers.CharField(allow_blank=True, required=False)
    kpi = serializers.CharField(max_length=100, allow_blank=True, required=False)
    holdout_share = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=0, max_value=Decimal("0.5"), required=False
    )
    attribution_days = serializers.IntegerField(min_value=1, max_value=90, required=False)
    definition = serializers.DictField(required=False)

    def validate(self, attrs):
        if "template" not in attrs:
            missing = {name: "This field is required." for name in ("name", "definition") if name not in attrs}
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


def _journey(journey_id: uuid.UUID) -> Journey:
    return or_not_found(selectors.journey_get(journey_id=journey_id), "no such journey")


def _body(journey: Journey) -> dict:
    body = JourneySerializer(journey).data
    body["problems"] = services.journey_problems(journey)
    body["people_at_steps"] = selectors.journey_people_at_steps(journey_id=journey.id)
    return body


class JourneyListApi(ListApi):
    allowed_roles = {"GET": READERS, "POST": OWNERS}
    filterset_class = JourneyFilter
    cursor_ordering = ("-created_at", "id")
    serializer_class = JourneySerializer

    def get_queryset(self):
        return selectors.journeys_all()

    @extend_schema(request=JourneyInputSerializer, responses={201: JourneySerializer})
    def post(self, request):
        values = dict(validated_input(JourneyInputSerializer, request.data))
        template = values.pop("template", "")
        if template:
            values = {**TEMPLATES[template], **values}
        journey = services.journey_save(journey_id=None, values=values, actor=request_actor(request), template=template)
        return Response(_body(journey), status=201)


class JourneyDetailApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=JourneySerializer)
    def get(self, request, journey_id: uuid.UUID):
        return Response(_body(_journey(journey_id)))


# A command that takes a journey and nothing else (publish, pause), answering the journey as it is after. (A comment,
# not a docstring: the docstring would become both operations' description in the OpenAPI schema.)
class _JourneyCommandApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OWNERS
    command: ClassVar[Callable[..., Journey]]

    @extend_schema(request=None, responses=JourneySerializer)
    def post(self, request, journey_id: uuid.UUID):
        _journey(journey_id)
        return Response(_body(type(self).command(journey_id=journey_id, actor=request_actor(request))))


class JourneyPublishApi(_JourneyCommandApi):
    command = staticmethod(services.journey_publish)


class JourneyPauseApi(_JourneyCommandApi):
    command = staticmethod(services.journey_pause)


class JourneySimulateApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OWNERS

    class InputSerializer(serializers.Serializer):
        customer = serializers.UUIDField()

        def validate_customer(self, value):
            if not customer_exists(customer_id=value):
                raise serializers.ValidationError("no such customer", code="does_not_exist")
            return value

    @extend_schema(request=InputSerializer, responses=None)
    def post(self, request, journey_id: uuid.UUID):
        _journey(journey_id)
        customer = validated_input(self.InputSerializer, request.data)["customer"]
        return Response(services.journey_simulate(journey_id=journey_id, customer_id=customer))


class JourneyReportApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=None)
    def get(self, request, journey_id: uuid.UUID):
        return Response(selectors.journey_report(journey=_journey(journey_id)))
