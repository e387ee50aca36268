"""Journeys: GET, POST /api/v1/journeys; GET .../{id}; POST .../{id}/publish, .../pause, .../simulate ({customer});
GET .../{id}/report. Roles as campaigns: marketing and admin own them, integration may read."""

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
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


class JourneyProblemSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="where in the definition, naming the step: steps.<id>.<field>")
    message = serializers.CharField()
    code = serializers.CharField()


class JourneyDetailSerializer(JourneySerializer):
    problems = serializers.SerializerMethodField(help_text="what stops the draft from being published")
    people_at_steps = serializers.SerializerMethodField(help_text="people in the journey now, per step id")

    @extend_schema_field(JourneyProblemSerializer(many=True))
    def get_problems(self, journey: Journey) -> list[dict[str, str]]:
        return services.journey_problems(journey)

    @extend_schema_field(serializers.DictField(child=serializers.IntegerField()))
    def get_people_at_steps(self, journey: Journey) -> dict[str, int]:
        return selectors.journey_people_at_steps(journey_id=journey.id)


# What GET .../report answers (campaigns.journeys.selectors.journey_report), documented here.
class JourneyReportGroupSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    converted = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    conversion_rate = serializers.FloatField(allow_null=True, help_text="null when nobody entered")


class JourneyReportExitsSerializer(serializers.Serializer):
    goal = serializers.IntegerField()
    completed = serializers.IntegerField()


class JourneyReportBranchSerializer(serializers.Serializer):
    outcome = serializers.CharField(help_text="yes, no, path:<name>, event or timeout")
    next = serializers.CharField(help_text="the step it leads to")
    entered = serializers.IntegerField()
    converted = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    conversion_rate = serializers.FloatField(allow_null=True)
    lift = serializers.FloatField(allow_null=True, help_text="the path's conversion rate minus the holdout's")


class JourneyReportStepSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField()
    at = serializers.IntegerField(help_text="people at the step now")
    through = serializers.IntegerField(help_text="passes through the step")
    outcomes = serializers.DictField(child=serializers.IntegerField(), help_text="passes per outcome")
    sent = serializers.IntegerField()
    converted = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    branches = JourneyReportBranchSerializer(many=True, required=False, help_text="steps that choose a path only")


class JourneyReportSerializer(serializers.Serializer):
    journey = serializers.UUIDField()
    version = serializers.IntegerField()
    entered = serializers.IntegerField()
    in_journey = serializers.IntegerField()
    exited = JourneyReportExitsSerializer()
    treated = JourneyReportGroupSerializer()
    holdout = JourneyReportGroupSerializer()
    lift = serializers.FloatField(allow_null=True, help_text="treated conversion rate minus the holdout's")
    steps = JourneyReportStepSerializer(many=True)


# What POST .../simulate answers (campaigns.journeys.services.journey_simulate).
class JourneySimulatedStepSerializer(serializers.Serializer):
    step = serializers.CharField()
    kind = serializers.CharField()
    outcome = serializers.CharField()
    channel = serializers.CharField(allow_blank=True, help_text="where a message would go; blank for other steps")
    content = serializers.DictField(help_text="the message as it would be sent")
    at = serializers.DateTimeField()
    next_step = serializers.CharField(allow_blank=True)


class JourneySimulationSerializer(serializers.Serializer):
    journey = serializers.UUIDField()
    version = serializers.IntegerField()
    customer = serializers.UUIDField()
    is_holdout = serializers.BooleanField(help_text="held out: the customer would get no step")
    steps = JourneySimulatedStepSerializer(many=True)
    ends = serializers.CharField(help_text="completed, unfinished (stopped after many steps) or holdout")


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
    return JourneyDetailSerializer(journey).data


class JourneyListApi(ListApi):
    allowed_roles = {"GET": READERS, "POST": OWNERS}
    filterset_class = JourneyFilter
    cursor_ordering = ("-created_at", "id")
    serializer_class = JourneySerializer

    def get_queryset(self):
        return selectors.journeys_all()

    @extend_schema(request=JourneyInputSerializer, responses={201: JourneyDetailSerializer})
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

    @extend_schema(responses=JourneyDetailSerializer)
    def get(self, request, journey_id: uuid.UUID):
        return Response(_body(_journey(journey_id)))


# A command that takes a journey and nothing else (publish, pause), answering the journey as it is after. (A comment,
# not a docstring: the docstring would become both operations' description in the OpenAPI schema.)
class _JourneyCommandApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OWNERS
    command: ClassVar[Callable[..., Journey]]

    @extend_schema(request=None, responses=JourneyDetailSerializer)
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

    @extend_schema(request=InputSerializer, responses=JourneySimulationSerializer)
    def post(self, request, journey_id: uuid.UUID):
        _journey(journey_id)
        customer = validated_input(self.InputSerializer, request.data)["customer"]
        return Response(services.journey_simulate(journey_id=journey_id, customer_id=customer))


class JourneyReportApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=JourneyReportSerializer)
    def get(self, request, journey_id: uuid.UUID):
        return Response(selectors.journey_report(journey=_journey(journey_id)))
