"""The customer as one person across channels: search, the 360 view and the timeline."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import AccessSurface, Role
from backoffice.accounts.services import personal_data_access_record
from backoffice.api.fields import as_of_parameter
from backoffice.api.lists import ListApi
from backoffice.api.permissions import HasRole
from backoffice.api.problems import invalid, not_found, or_not_found, validation_failed
from backoffice.api.schema import page_of
from backoffice.api.validation import CheckedQueryParameters, validated_input
from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.schema import CHANNELS

from .. import selectors
from ..models import Customer
from ..services.ingestion import customer_register as register_customer
from ..timeline_cursor import BadCursor, cursor_decode, cursor_encode
from .consents import ConsentStateSerializer
from .filters import CustomerFilter

# Who may see a person's details: those who serve them, and systems. Marketing works with segments, not people.
PEOPLE_READERS = (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.INTEGRATION)
RECENT_EVENTS = 10


class TimelineEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    type = serializers.CharField()
    channel = serializers.CharField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    stream = serializers.CharField()
    data = serializers.JSONField()


class CustomerSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    registered_at = serializers.DateTimeField()
    acquisition_channel = serializers.CharField()
    channels_used = serializers.ListField(child=serializers.CharField())
    interaction_count = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    identifiers = serializers.SerializerMethodField(help_text="of every customer the person is made of (merges)")

    def get_identifiers(self, customer) -> list[dict]:
        return [{"kind": i.kind, "value": i.value} for i in self.context["identifiers"][customer.id]]

    def to_representation(self, customer):
        # The activity of the person, every customer merged into them included (the row's counters are its own).
        data = super().to_representation(customer)
        person = self.context["figures"][customer.id]
        data["channels_used"] = list(person.channels_used)
        data["interaction_count"] = person.interaction_count
        data["last_interaction_at"] = (
            self.fields["last_interaction_at"].to_representation(person.last_interaction_at)
            if person.last_interaction_at
            else None
        )
        return data


def _summaries(customers: list[Customer]) -> list[dict]:
    """Each person's summary, with the identifiers and activity of every customer merged into them: read once for
    the page."""
    owner_ids = {c.id for c in customers}
    context = {
        "identifiers": selectors.people_identifiers(owner_ids=owner_ids),
        "figures": selectors.people_figures(owner_ids=owner_ids),
    }
    return CustomerSummarySerializer(customers, many=True, context=context).data


class CustomerListApi(ListApi):
    allowed_roles = {"GET": PEOPLE_READERS, "POST": PEOPLE_READERS}
    filterset_class = CustomerFilter
    cursor_ordering = ("registered_at", "id")
    serializer_class = CustomerSummarySerializer

    def get_queryset(self):
        return selectors.customers_all()

    class RegisterSerializer(serializers.Serializer):
        customer = serializers.DictField(help_text="identifiers: email, phone, loyalty_card, external_id, ...")
        channel = serializers.ChoiceField(choices=CHANNELS, help_text="where the customer registered")

    @extend_schema(
        request=RegisterSerializer, responses={201: CustomerSummarySerializer, 200: CustomerSummarySerializer}
    )
    def post(self, request):
        values = validated_input(self.RegisterSerializer, request.data)
        try:
            customer_id, created = register_customer(
                customer=values["customer"],
                channel=values["channel"],
                actor=request_actor(request),
            )
        except EventValidationError as exc:
            errors = [
                {
                    "field": e.field if e.field == "channel" else ".".join(filter(None, ("customer", e.field))),
                    "message": e.message,
                    "code": e.code,
                }
                for e in exc.errors
            ]
            raise validation_failed(errors) from exc
        customer = Customer.objects.get(id=customer_id)
        if not created:
            # A known identifier answers the person it belongs to, with every identifier they have: a lookup by email
            # or phone, recorded as the search is.
            personal_data_access_record(
                actor=request.user, customer_ids=[customer_id], surface=AccessSurface.API_SEARCH
            )
        return Response(_summaries([customer])[0], status=201 if created else 200)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="search by email, phone, loyalty card, social id or name (the 20 best matches, `next` "
                "null); without it, every customer page by page, oldest first (merged ones are part of another)",
            )
        ],
        responses=CustomerSummarySerializer(many=True),
    )
    def get(self, request):
        if "q" in request.query_params:
            return _search_answer(request, request.query_params["q"])
        page = self.list_page()
        personal_data_access_record(
            actor=request.user, customer_ids=[c.id for c in page], surface=AccessSurface.API_LIST
        )
        return self.get_paginated_response(_summaries(page))


class CustomerSearchApi(APIView):
    """The same search with the query in the body: an email or a phone in a URL ends up in access logs, proxies and
    browser histories; a body does not. The server's own logs mask `q` either way (backoffice.logs)."""

    permission_classes = [HasRole]
    allowed_roles = {"POST": PEOPLE_READERS}

    class InputSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=200, trim_whitespace=False, help_text="email, phone, loyalty card or id")

    @extend_schema(request=InputSerializer, responses=page_of("CustomerSearchPage", CustomerSummarySerializer))
    def post(self, request):
        values = validated_input(self.InputSerializer, request.data)
        return _search_answer(request, values["q"])


def _search_answer(request, query: str) -> Response:
    if len(query.strip()) < 3:
        raise invalid("q", "at least 3 characters", "min_length")
    customers = selectors.customer_search(query=query)
    personal_data_access_record(
        actor=request.user, customer_ids=[c.id for c in customers], surface=AccessSurface.API_SEARCH
    )
    return Response({"results": _summaries(customers), "next": None, "previous": None})


class RfmSerializer(serializers.Serializer):
    recency = serializers.IntegerField(help_text="1 (long ago) to 5 (recent); 0 without orders")
    frequency = serializers.IntegerField(help_text="1 to 5 by number of orders; 0 without orders")
    monetary = serializers.IntegerField(help_text="1 to 5 by net value; 0 without orders")
    code = serializers.CharField(help_text='the three scores, e.g. "545"')


class Customer360Serializer(serializers.Serializer):
    id = serializers.UUIDField()
    merged_into = serializers.UUIDField(allow_null=True, default=None)
    name = serializers.CharField()
    language = serializers.CharField()
    time_zone = serializers.CharField()
    birthday = serializers.DateField(allow_null=True, default=None, help_text="from the profile or identify's trait")
    registered_at = serializers.DateTimeField()
    acquisition_channel = serializers.CharField()
    erased_at = serializers.DateTimeField(allow_null=True)
    merged_from = serializers.ListField(child=serializers.UUIDField(), help_text="customers merged into this one")
    identifiers = serializers.ListField(child=serializers.DictField())
    channels_used = serializers.ListField(child=serializers.CharField())
    interaction_count = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    order_count = serializers.IntegerField()
    lifetime_value = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="net of refunds")
    currency = serializers.CharField(default="EUR")
    first_order_at = serializers.DateTimeField(allow_null=True)
    last_order_at = serializers.DateTimeField(allow_null=True)
    rfm = RfmSerializer()
    open_cases = serializers.ListField(child=serializers.DictField(), default=list)
    consents = ConsentStateSerializer(many=True)
    recent_timeline = TimelineEventSerializer(many=True)


class CustomerConsentAsOfSerializer(serializers.Serializer):
    channel = serializers.CharField()
    purpose = serializers.CharField()
    granted = serializers.BooleanField()
    source_channel = serializers.CharField()
    wording = serializers.CharField()
    changed_at = serializers.DateTimeField()


class CustomerAsOfSerializer(serializers.Serializer):
    """`?as_of=`: the view folded from the log as it stood then (what the log can tell, no current tables)."""

    id = serializers.UUIDField()
    as_of = serializers.DateTimeField()
    name = serializers.CharField()
    registered_at = serializers.DateTimeField()
    acquisition_channel = serializers.CharField()
    merged_from = serializers.ListField(child=serializers.UUIDField())
    identifiers = serializers.ListField(child=serializers.DictField())
    channels_used = serializers.ListField(child=serializers.CharField())
    interaction_count = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    order_count = serializers.IntegerField()
    lifetime_value = serializers.DecimalField(max_digits=14, decimal_places=2, help_text="net of refunds")
    last_order_at = serializers.DateTimeField(allow_null=True)
    rfm = RfmSerializer()
    consents = CustomerConsentAsOfSerializer(many=True)
    recent_timeline = TimelineEventSerializer(many=True)


class CustomerMergedIntoSerializer(serializers.Serializer):
    """A customer merged into another: the person it is part of now."""

    id = serializers.UUIDField()
    merged_into = serializers.UUIDField()


class CustomerDetailApi(CheckedQueryParameters, APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": PEOPLE_READERS}

    @extend_schema(
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATETIME, description="the view as it was then")],
        # Three answers, one schema each (found by the fuzzer: the point-in-time view was documented as the 360).
        responses=PolymorphicProxySerializer(
            component_name="CustomerView",
            serializers=[Customer360Serializer, CustomerAsOfSerializer, CustomerMergedIntoSerializer],
            resource_type_field_name=None,
        ),
    )
    def get(self, request, customer_id: uuid.UUID):
        merged_into = Customer.objects.filter(id=customer_id).values_list("merged_into_id", flat=True)
        if not merged_into:
            raise not_found("no such customer")
        if "as_of" in request.query_params:
            body = _view_as_of(customer_id, request.query_params["as_of"])
        elif merged_into[0]:
            # The person it is part of now, at the end of any chain of merges (ids only: no personal data read).
            merged = {"id": customer_id, "merged_into": selectors.customer_resolve_id(customer_id=customer_id)}
            return Response(CustomerMergedIntoSerializer(merged).data)
        else:
            body = Customer360Serializer(selectors.customer_360(customer_id=customer_id)).data
        personal_data_access_record(actor=request.user, customer_ids=[customer_id], surface=AccessSurface.API_CUSTOMER)
        return Response(body)


class CustomerTimelineApi(CheckedQueryParameters, APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": PEOPLE_READERS}

    @extend_schema(
        parameters=[
            OpenApiParameter("channel", OpenApiTypes.STR, enum=list(CHANNELS)),
            OpenApiParameter("type", OpenApiTypes.STR, description="event type, e.g. cart.item_added"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="the `next` of the previous page"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1 to 200, default 50"),
        ],
        responses=page_of("TimelinePage", TimelineEventSerializer),
    )
    def get(self, request, customer_id: uuid.UUID):
        if not Customer.objects.filter(id=customer_id).exists():
            raise not_found("no such customer")
        params = request.query_params
        channel = params.get("channel") or None
        if channel is not None and channel not in CHANNELS:
            raise invalid("channel", f"unknown channel; one of {', '.join(CHANNELS)}")
        limit = params.get("limit", "50")
        if not limit.isdigit() or not 1 <= int(limit) <= 200:
            raise invalid("limit", "must be an integer from 1 to 200")
        try:
            before = cursor_decode(params["cursor"]) if params.get("cursor") else None
        except BadCursor:
            raise invalid("cursor", "is not a cursor this API gave out") from None
        events = selectors.customer_timeline(
            customer_id=customer_id,
            channel=channel,
            type=params.get("type") or None,
            before=before,
            limit=int(limit) + 1,
        )
        page, more = events[: int(limit)], len(events) > int(limit)
        next_url = None
        if more:
            query = params.copy()
            query["cursor"] = cursor_encode(page[-1].occurred_at, page[-1].position)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        personal_data_access_record(actor=request.user, customer_ids=[customer_id], surface=AccessSurface.API_TIMELINE)
        return Response({"results": TimelineEventSerializer(page, many=True).data, "next": next_url})


def _view_as_of(customer_id: uuid.UUID, raw: str) -> dict:
    view = selectors.customer_view_as_of(customer_id=customer_id, at=as_of_parameter(raw))
    return CustomerAsOfSerializer(or_not_found(view, "the customer did not exist then")).data
