"""Service cases: the inbox, one case with its cross-channel thread and the customer's story, replies on any
reachable channel, resolution with compensation, and satisfaction."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.api.fields import CustomerField
from backoffice.api.lists import ListApi
from backoffice.api.permissions import HasRole
from backoffice.api.problems import invalid, or_not_found, validation_failed
from backoffice.api.validation import validated_input
from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.schema import CHANNELS

from .. import selectors
from ..events import Compensation
from ..models import Case
from ..services import cases as case_services
from ..services.ingestion import customer_register
from ..vocabulary import IdentifierKind
from .customers import TimelineEventSerializer
from .filters import CaseFilter

# Every agent, whatever channel they work on, sees and acts on cases; systems (a call-centre tool) too.
CASE_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.INTEGRATION)
THREAD_TIMELINE_EVENTS = 20


class CaseSerializer(serializers.ModelSerializer):
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "customer_id",
            "channel",
            "subject",
            "order_ref",
            "status",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "last_message_at",
            "message_count",
            "resolution",
            "compensation",
            "csat_score",
            "csat_comment",
            "csat_at",
            "sla",
        ]

    def get_sla(self, case) -> dict:
        return selectors.case_sla(case)


class CaseMessageSerializer(serializers.Serializer):
    direction = serializers.CharField()
    channel = serializers.CharField()
    text = serializers.CharField()
    actor = serializers.CharField()
    message_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class CustomerOrderSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    channel = serializers.CharField()
    placed_at = serializers.DateTimeField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=14, decimal_places=2)
    is_cancelled = serializers.BooleanField()


class CaseListApi(ListApi):
    allowed_roles = {"GET": CASE_ROLES, "POST": CASE_ROLES}
    filterset_class = CaseFilter
    cursor_ordering = ("opened_at", "id")  # the inbox: oldest first
    serializer_class = CaseSerializer

    def get_queryset(self):
        return Case.objects.none()  # CaseFilter asks selectors.case_list for the cases

    class InputSerializer(serializers.Serializer):
        id = serializers.UUIDField(required=False, help_text="idempotency key: the same id again answers the case")
        customer = CustomerField(required=False, help_text="the customer's id, or their identifiers")
        customer_id = serializers.UUIDField(required=False, help_text="the first spelling of `customer` (an id)")
        channel = serializers.ChoiceField(choices=CHANNELS, help_text="where the customer raised it")
        subject = serializers.CharField(max_length=300)
        text = serializers.CharField(max_length=10000, required=False, allow_blank=True, default="")
        order_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

        def validate(self, attrs):
            if not attrs.get("customer_id") and not attrs.get("customer"):
                raise serializers.ValidationError({"customer": "give the customer's id or their identifiers"})
            return attrs

    @extend_schema(request=InputSerializer, responses={201: CaseSerializer, 200: CaseSerializer})
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        actor = request_actor(request)
        customer = values.get("customer")
        customer_id = customer if isinstance(customer, uuid.UUID) else values.get("customer_id")
        if customer_id is None and values.get("id") and selectors.case_get(case_id=values["id"]) is not None:
            # A resend of an opening by identifiers: whom they name now, without registering anyone (the service
            # answers the case, or 409 when they name someone else).
            customer_id = _named_customer(values["customer"])
            if customer_id is None:  # someone nobody knows: not the person whose case this id opened
                raise case_services.CaseRefused(
                    "id", "this case id was used to open another case", "idempotency_conflict", status=409
                )
        if customer_id is None:
            try:
                customer_id, _ = customer_register(customer=values["customer"], channel=values["channel"], actor=actor)
            except EventValidationError as exc:
                raise validation_failed(
                    [
                        {"field": f"customer.{e.field}".rstrip("."), "message": e.message, "code": e.code}
                        for e in exc.errors
                    ]
                ) from None
        case_id = values.get("id") or uuid.uuid4()
        existed = selectors.case_get(case_id=case_id) is not None
        try:
            case = case_services.case_open(
                customer_id=customer_id,
                channel=values["channel"],
                subject=values["subject"],
                text=values["text"],
                order_ref=values["order_ref"],
                actor=actor,
                case_id=case_id,
            )
        except selectors.CustomerNotFound:
            field = "customer" if "customer" in values else "customer_id"
            raise invalid(field, "no such customer", "not_found") from None
        return Response(CaseSerializer(case).data, status=200 if existed else 201)


def _named_customer(customer: dict) -> uuid.UUID | None:
    """The customer one of these identifiers belongs to, if any (no one is registered)."""
    for kind, value in customer.items():
        if isinstance(value, str) and kind in IdentifierKind.__members__.values():
            found = selectors.customer_id_by_identifier(kind=kind, value=value)
            if found is not None:
                return found
    return None


def _case_or_404(case_id: uuid.UUID) -> Case:
    return or_not_found(selectors.case_get(case_id=case_id), "no such case")


class CaseDetailApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": CASE_ROLES}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id: uuid.UUID):
        """The case, its thread across channels, and the customer's story: their orders from every channel and
        their recent timeline, so the agent on any channel sees what the others saw."""
        case = _case_or_404(case_id)
        owner = selectors.customer_resolve_id(customer_id=case.customer_id)
        personal_data_access_record(actor=request.user, customer_ids=[owner], surface=AccessSurface.API_CASE)
        return Response(
            {
                **CaseSerializer(case).data,
                "thread": CaseMessageSerializer(selectors.case_thread(case_id=case.id), many=True).data,
                "customer": {
                    "id": owner,
                    "orders": CustomerOrderSerializer(selectors.customer_orders(customer_id=owner), many=True).data,
                    "recent_timeline": TimelineEventSerializer(
                        selectors.customer_timeline(customer_id=owner, limit=THREAD_TIMELINE_EVENTS), many=True
                    ).data,
                },
            }
        )


class CaseMessageApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": CASE_ROLES}

    class InputSerializer(serializers.Serializer):
        id = serializers.UUIDField(required=False, help_text="idempotency key of this message")
        channel = serializers.ChoiceField(choices=CHANNELS)
        text = serializers.CharField(max_length=10000)
        direction = serializers.ChoiceField(
            choices=["out", "in"],
            default="out",
            help_text="out: a reply to the customer, sent on `channel`; in: what the customer said (on the phone, "
            "at the counter), recorded by the agent",
        )

    @extend_schema(request=InputSerializer, responses={201: CaseSerializer})
    def post(self, request, case_id: uuid.UUID):
        _case_or_404(case_id)
        values = validated_input(self.InputSerializer, request.data)
        actor = request_actor(request)
        if values["direction"] == "in":
            case = case_services.case_message_receive(
                case_id=case_id,
                channel=values["channel"],
                text=values["text"],
                actor=actor,
                event_id=values.get("id"),
            )
        else:
            case = case_services.case_reply(
                case_id=case_id,
                channel=values["channel"],
                text=values["text"],
                actor=actor,
                reply_id=values.get("id"),
            )
        return Response(CaseSerializer(case).data, status=201)


class CaseResolveApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": CASE_ROLES}

    class CompensationSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=["none", "voucher", "refund", "reshipment"], default="none")
        amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
        currency = serializers.RegexField(r"^[A-Z]{3}$", default="EUR")
        code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

        def validate(self, attrs):
            if attrs["kind"] in ("voucher", "refund") and attrs.get("amount") is None:
                raise serializers.ValidationError({"amount": f"a {attrs['kind']} needs an amount"})
            if attrs["kind"] == "voucher" and not attrs.get("code"):
                raise serializers.ValidationError({"code": "a voucher needs its code"})
            return attrs

    class InputSerializer(serializers.Serializer):
        resolution = serializers.CharField(max_length=4000)
        compensation = serializers.DictField(required=False)
        channel = serializers.ChoiceField(choices=CHANNELS, required=False, help_text="where it was resolved")

    @extend_schema(request=InputSerializer, responses={200: CaseSerializer})
    def post(self, request, case_id: uuid.UUID):
        _case_or_404(case_id)
        values = validated_input(self.InputSerializer, request.data)
        compensation = None
        if "compensation" in values:
            given = self.CompensationSerializer(data=values["compensation"])
            if not given.is_valid():
                raise validation_failed(
                    [
                        {
                            "field": f"compensation.{name}",
                            "message": " ".join(str(m) for m in messages),
                            "code": "invalid",
                        }
                        for name, messages in given.errors.items()
                    ]
                )
            data = given.validated_data
            compensation = Compensation(
                kind=data["kind"],
                amount=str(data["amount"]) if data.get("amount") is not None else "",
                currency=data["currency"],
                code=data["code"],
            ).model_dump()
        case = case_services.case_resolve(
            case_id=case_id,
            resolution=values["resolution"],
            compensation=compensation,
            channel=values.get("channel"),
            actor=request_actor(request),
        )
        return Response(CaseSerializer(case).data)


class CaseCsatApi(APIView):
    permission_classes = [HasRole]
    allowed_roles = {"POST": CASE_ROLES}

    class InputSerializer(serializers.Serializer):
        score = serializers.IntegerField(min_value=1, max_value=5)
        comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        channel = serializers.ChoiceField(choices=CHANNELS, help_text="where the customer answered")

    @extend_schema(request=InputSerializer, responses={201: CaseSerializer})
    def post(self, request, case_id: uuid.UUID):
        _case_or_404(case_id)
        values = validated_input(self.InputSerializer, request.data)
        case = case_services.case_csat_record(
            case_id=case_id,
            score=values["score"],
            comment=values["comment"],
            channel=values["channel"],
            actor=request_actor(request),
        )
        return Response(CaseSerializer(case).data, status=201)
