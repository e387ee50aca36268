"""Segments and campaigns: GET, POST /api/v1/segments, GET .../{id}/preview; GET, POST /api/v1/campaigns,
GET .../{id} (`?as_of=TIME`: as it was then), POST .../{id}/approve, POST .../{id}/launch. GET .../{id}/report is
served by backoffice.insights, the owner of what a campaign earned (one layer above this one).

Marketing and admin own them; integration may read. Segment previews carry counts and non-personal samples only.
"""

import uuid
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import Role
from backoffice.api.fields import AwareDateTimeField, as_of_parameter
from backoffice.api.lists import ListApi
from backoffice.api.permissions import HasRole
from backoffice.api.problems import or_not_found
from backoffice.api.validation import validated_input

from .. import selectors, services, worksheet
from ..models import OUTBOUND_CHANNELS, ChannelMode, Segment
from .filters import CampaignFilter, SegmentFilter

OWNERS = (Role.ADMIN, Role.MARKETING)
READERS = (Role.ADMIN, Role.MARKETING, Role.INTEGRATION)


class SegmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField()
    rules = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class SegmentCreatedSerializer(SegmentSerializer):
    count = serializers.IntegerField(help_text="people in the segment now")


class SegmentListApi(ListApi):
    allowed_roles = {"GET": READERS, "POST": OWNERS}
    filterset_class = SegmentFilter
    cursor_ordering = ("-created_at", "id")
    serializer_class = SegmentSerializer

    def get_queryset(self):
        return selectors.segments_all()

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(allow_blank=True, default="")
        rules = serializers.JSONField()

        def validate_name(self, value):
            if Segment.objects.filter(name=value).exists():
                raise serializers.ValidationError("a segment with this name exists", code="unique")
            return value

    @extend_schema(request=InputSerializer, responses={201: SegmentCreatedSerializer})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        segment = services.segment_save(
            name=values["name"], description=values["description"], rules=values["rules"], actor=request_actor(request)
        )
        body = SegmentSerializer(segment).data
        body["count"] = selectors.segment_preview(rules=segment.rules, now=timezone.now(), sample=0)["count"]
        return Response(body, status=201)


class SegmentSampleSerializer(serializers.Serializer):
    """One person of a segment's sample, described by non-personal fields only (no id, name or address)."""

    language = serializers.CharField()
    acquisition_channel = serializers.CharField(allow_blank=True)
    channels_used = serializers.ListField(child=serializers.CharField())
    order_count = serializers.IntegerField()
    value_band = serializers.CharField(help_text="lifetime value band, e.g. '<= 300' or '> 1500'")
    rfm = serializers.CharField(help_text="recency, frequency and monetary scores, e.g. '543'")


class SegmentPreviewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    count = serializers.IntegerField(help_text="people in the segment now")
    sample = SegmentSampleSerializer(many=True)


class SegmentPreviewApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses=SegmentPreviewSerializer)
    def get(self, request, segment_id: uuid.UUID):
        segment = or_not_found(Segment.objects.filter(pk=segment_id).first(), "no such segment")
        return Response({"id": str(segment.id), **selectors.segment_preview(rules=segment.rules, now=timezone.now())})


class CampaignSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.CharField()
    key_message = serializers.CharField()
    intent = serializers.CharField()
    offer_code = serializers.CharField()
    discount = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    segments = serializers.SerializerMethodField()
    exclusions = serializers.SerializerMethodField()
    holdout_share = serializers.DecimalField(max_digits=4, decimal_places=3)
    channels = serializers.ListField(child=serializers.CharField())
    channel_mode = serializers.CharField()
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    send_window_start = serializers.TimeField(allow_null=True)
    send_window_end = serializers.TimeField(allow_null=True)
    variants = serializers.SerializerMethodField()
    objective = serializers.CharField()
    kpi = serializers.CharField()
    target_value = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    attribution_days = serializers.IntegerField()
    costs = serializers.DictField()
    budget = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    sections = serializers.SerializerMethodField()
    created_by = serializers.CharField()
    approved_by = serializers.CharField()
    approved_at = serializers.DateTimeField(allow_null=True)
    launched_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_segments(self, campaign) -> list[str]:
        return [str(s.id) for s in campaign.segments.all()]

    def get_exclusions(self, campaign) -> list[str]:
        return [str(s.id) for s in campaign.exclusions.all()]

    def get_variants(self, campaign) -> dict:
        from ..models import VARIANT_FIELDS

        return {
            channel: {field: getattr(campaign, field) for field, _key in fields}
            for channel, fields in VARIANT_FIELDS.items()
        }

    def get_sections(self, campaign) -> dict:
        problems = worksheet.campaign_problems(campaign, now=timezone.now(), check_audience=False)
        return worksheet.section_state(problems)


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    key_message = serializers.CharField(allow_blank=True, default="")
    intent = serializers.CharField(max_length=300, allow_blank=True, default="")
    offer_code = serializers.CharField(max_length=40, allow_blank=True, default="")
    discount = serializers.CharField(max_length=40, allow_blank=True, default="")
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    segments = serializers.ListField(child=serializers.UUIDField(), default=list)
    exclusions = serializers.ListField(child=serializers.UUIDField(), default=list)
    holdout_share = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=0, max_value=Decimal("0.5"), default="0.100"
    )
    channels = serializers.ListField(child=serializers.ChoiceField(choices=OUTBOUND_CHANNELS), default=list)
    channel_mode = serializers.ChoiceField(choices=ChannelMode.values, default=ChannelMode.BEST)
    starts_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    ends_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    send_window_start = serializers.TimeField(required=False, allow_null=True, default=None)
    send_window_end = serializers.TimeField(required=False, allow_null=True, default=None)
    variants = serializers.DictField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True)), default=dict
    )
    objective = serializers.CharField(allow_blank=True, default="")
    kpi = serializers.CharField(max_length=100, allow_blank=True, default="")
    target_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    attribution_days = serializers.IntegerField(min_value=1, max_value=90, default=7)
    costs = serializers.DictField(
        child=serializers.DecimalField(max_digits=8, decimal_places=4, min_value=0), default=dict
    )
    budget = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )

    def validate_segments(self, value):
        known = set(Segment.objects.filter(id__in=value).values_list("id", flat=True))
        missing = [str(v) for v in value if v not in known]
        if missing:
            raise serializers.ValidationError(f"unknown segments {missing}", code="does_not_exist")
        return value

    validate_exclusions = validate_segments

    def validate_variants(self, value):
        from ..models import VARIANT_FIELDS

        errors = {}
        for channel, fields in value.items():
            allowed = {field for field, _key in VARIANT_FIELDS.get(channel, [])}
            if not allowed:
                errors[channel] = f"one of {', '.join(VARIANT_FIELDS)}"
            elif set(fields) - allowed:
                errors[channel] = f"fields are {', '.join(sorted(allowed))}"
        if errors:
            raise serializers.ValidationError(errors)
        return value

    def validate_costs(self, value):
        unknown = set(value) - set(OUTBOUND_CHANNELS)
        if unknown:
            raise serializers.ValidationError(f"unknown channels {sorted(unknown)}", code="invalid_choice")
        return {channel: str(cost) for channel, cost in value.items()}


class CampaignListApi(ListApi):
    allowed_roles = {"GET": READERS, "POST": OWNERS}
    filterset_class = CampaignFilter
    cursor_ordering = ("-created_at", "id")
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return selectors.campaigns_all()

    @extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer})
    def post(self, request):
        values = dict(validated_input(CampaignInputSerializer, request.data))
        segment_ids, exclusion_ids = values.pop("segments"), values.pop("exclusions")
        for fields in values.pop("variants").values():
            values.update(fields)
        campaign = services.campaign_save(
            campaign=None,
            values=values,
            actor=request_actor(request),
            segment_ids=segment_ids,
            exclusion_ids=exclusion_ids,
        )
        return Response(CampaignSerializer(selectors.campaign_get(campaign_id=campaign.id)).data, status=201)


class CampaignProblemSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()
    code = serializers.CharField()
    section = serializers.CharField(help_text="the QQOQCP section the field belongs to")


class CampaignDetailSerializer(CampaignSerializer):
    problems = serializers.SerializerMethodField(help_text="every reason the campaign cannot be approved now")

    @extend_schema_field(CampaignProblemSerializer(many=True))
    def get_problems(self, campaign) -> list[dict[str, str]]:
        return [p.as_error() for p in worksheet.campaign_problems(campaign, now=timezone.now())]


def _campaign(campaign_id):
    return or_not_found(selectors.campaign_get(campaign_id=campaign_id), "no such campaign")


class CampaignDetailApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "as_of", OpenApiTypes.DATETIME, description="the campaign as it was then, replayed from its events"
            )
        ],
        responses=CampaignDetailSerializer,
    )
    def get(self, request, campaign_id: uuid.UUID):
        campaign = _campaign(campaign_id)
        if "as_of" in request.query_params:
            campaign = _campaign_as_of(campaign_id, request.query_params["as_of"])
        return Response(CampaignDetailSerializer(campaign).data)


def _campaign_as_of(campaign_id: uuid.UUID, raw: str):
    at = as_of_parameter(raw)
    return or_not_found(selectors.campaign_as_of(campaign_id=campaign_id, at=at), "the campaign did not exist then")


class CampaignApproveApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OWNERS

    @extend_schema(request=None, responses=CampaignSerializer)
    def post(self, request, campaign_id: uuid.UUID):
        _campaign(campaign_id)
        campaign = services.campaign_approve(campaign_id=campaign_id, actor=request_actor(request))
        return Response(CampaignSerializer(campaign).data)


class CampaignLaunchApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = OWNERS

    @extend_schema(request=None, responses={202: CampaignSerializer})
    def post(self, request, campaign_id: uuid.UUID):
        _campaign(campaign_id)
        campaign = services.campaign_launch(campaign_id=campaign_id, actor=request_actor(request))
        return Response(CampaignSerializer(campaign).data, status=202)
