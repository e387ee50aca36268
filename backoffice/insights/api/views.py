"""GET /api/v1/metrics (every figure for a range), GET, POST /api/v1/metrics/spend (acquisition spend) and
GET /api/v1/campaigns/{id}/report (what one campaign did, from the same figures as the metrics)."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import Role
from backoffice.api.permissions import HasRole
from backoffice.api.problems import invalid, or_not_found
from backoffice.eventstore.schema import CHANNELS
from campaigns.selectors import campaign_get

from .. import campaign_figures, selectors
from ..models import AcquisitionSpend
from ..params import RangeInvalid, metrics_query
from ..services import SpendInvalid, acquisition_spend_set

READERS = (Role.ADMIN, Role.MARKETING, Role.INTEGRATION)
SPEND_EDITORS = (Role.ADMIN, Role.MARKETING)


def jsonable(value):
    """Money and ratios as decimal strings (exact), dates as ISO dates."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


class MetricsApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": READERS}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="first day (local), default 364 days before to; days from 1970-01-01 to 2099-12-31",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="last day (local, included), default today; at most 2099-12-31"
            ),
            OpenApiParameter("channel", str, enum=list(CHANNELS), description="only this channel"),
            OpenApiParameter("churn_days", int, description="churn window in days (default setting)"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        try:
            query = metrics_query(request.query_params)
        except RangeInvalid as exc:
            raise invalid(exc.field, exc.message, exc.code) from exc
        report = selectors.metrics_report(
            start=query.start, end=query.end, channel=query.channel, churn_days=query.churn_days
        )
        return Response(jsonable(report))


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2026-11"})
class YearMonthField(serializers.DateField):
    """A month as YYYY-MM (the first day of the month is what is stored)."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m", **kwargs)


class SpendApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": READERS, "POST": SPEND_EDITORS}

    class InputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(choices=CHANNELS)
        # Years 1970-2099, the span of time the product accepts anywhere (year 0 cannot even be a date).
        month = serializers.RegexField(r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$", help_text="YYYY-MM")
        amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))

    class OutputSerializer(serializers.Serializer):
        channel = serializers.CharField()
        month = YearMonthField()
        amount = serializers.DecimalField(max_digits=14, decimal_places=2)
        updated_by = serializers.CharField()
        updated_at = serializers.DateTimeField()

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request):
        return Response(self.OutputSerializer(AcquisitionSpend.objects.all(), many=True).data)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        year, month = (int(part) for part in values["month"].split("-"))
        try:
            spend = acquisition_spend_set(
                channel=values["channel"],
                month=date(year, month, 1),
                amount=values["amount"],
                actor=request_actor(request),
            )
        except SpendInvalid as exc:
            raise invalid(exc.field, exc.message, exc.code) from exc
        return Response(self.OutputSerializer(spend).data)


class CampaignReportApi(APIView):
    """Sent, delivered, opened (read), clicked, converted, orders, revenue, cost and ROI per channel; lift against
    the holdout. Money and ratios as decimal strings, as in GET /api/v1/metrics: the same figures."""

    permission_classes = [HasRole]
    allowed_roles = READERS

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, campaign_id: uuid.UUID):
        campaign = or_not_found(campaign_get(campaign_id=campaign_id), "no such campaign")
        return Response(jsonable(campaign_figures.campaign_report(campaign=campaign)))
