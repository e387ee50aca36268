"""POST /api/v1/events (ingest interactions) and GET /api/v1/events?after= (the global log)."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.accounts.actors import request_actor
from backoffice.accounts.roles import Role
from backoffice.api.permissions import HasRole
from backoffice.api.problems import Problem, event_store_problem, invalid
from backoffice.api.validation import CheckedQueryParameters
from backoffice.eventstore import selectors as event_selectors
from backoffice.eventstore.errors import EventStoreError

from .. import services


class EventOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    id = serializers.UUIDField()
    stream = serializers.CharField()
    version = serializers.IntegerField()
    type = serializers.CharField()
    schema_version = serializers.IntegerField()
    channel = serializers.CharField(allow_null=True)
    customer_id = serializers.UUIDField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    data = serializers.JSONField()
    metadata = serializers.JSONField()


class EventsApi(CheckedQueryParameters, APIView):
    permission_classes = [HasRole]
    allowed_roles = {"GET": (Role.ADMIN, Role.INTEGRATION), "POST": (Role.ADMIN, Role.INTEGRATION)}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.INT,
                description="only the events whose position is above this (then follow `next`; the links keep it)",
            ),
            OpenApiParameter(
                "cursor",
                OpenApiTypes.STR,
                description="where the previous page ended, as its `next` or `resume` link gives it: pages follow "
                "commit order, so an event that commits late under parallel writers is never skipped",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="at most this many (1 to 1000, default 100)"),
        ],
        responses=inline_serializer(
            "EventPage",
            {
                "results": EventOutputSerializer(many=True),
                "next": serializers.CharField(
                    allow_null=True, help_text="the next page, while this one is full; null on the last page"
                ),
                "resume": serializers.CharField(
                    help_text="where to ask again later for what commits after this page, on every page (the last "
                    "one too): a reader that follows the log keeps it instead of a position"
                ),
            },
        ),
    )
    def get(self, request):
        # A position is a bigint: a larger `after` was a 500 (found by the fuzzer), now a 400 naming it.
        limit = _int_param(request, "limit", default=100, low=1, high=1000)
        after = _int_param(request, "after", default=0, low=0, high=2**63 - 1)
        cursor = _cursor_param(request) if "cursor" in request.query_params else (0, 0)
        # Every page in commit order, the first one too: read by position, a first page could pass an event of a
        # transaction still open, whose position is lower, and its cursor would then sort after it for good.
        events = event_selectors.events_committed_after(cursor=cursor, limit=limit, above=after)
        if events:
            cursor = (events[-1].transaction_id, events[-1].position)
        link = f"{request.path}?" + (f"after={after}&" if after else "")
        link += f"cursor={cursor[0]}.{cursor[1]}&" if cursor != (0, 0) else ""
        resume = request.build_absolute_uri(f"{link}limit={limit}")
        return Response(
            {
                "results": EventOutputSerializer(events, many=True).data,
                "next": resume if len(events) == limit else None,
                "resume": resume,
            }
        )

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            201: inline_serializer(
                "IngestResults",
                {
                    "results": inline_serializer(
                        "IngestResult",
                        {
                            "id": serializers.UUIDField(),
                            "position": serializers.IntegerField(),
                            "customer_id": serializers.UUIDField(),
                            "duplicate": serializers.BooleanField(),
                            "stream": serializers.CharField(),
                            "version": serializers.IntegerField(),
                        },
                        many=True,
                    )
                },
            )
        },
        description='Ingest one interaction, or {"events": [...]} up to 1000 atomically. Idempotent on each id.',
    )
    def post(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.EVENTSTORE_MAX_BATCH * settings.EVENTSTORE_MAX_EVENT_BYTES + 64 * 1024
        if length > limit:
            raise Problem(
                status_code=413,
                type="payload_too_large",
                title="Request too large",
                detail=f"the body is {length} bytes; at most {limit}",
            )
        body = request.data
        is_batch = isinstance(body, dict) and "events" in body
        if is_batch:
            items = body["events"]
            if not isinstance(items, list) or not items:
                raise invalid("events", "must be a non-empty list of events", "invalid")
            if len(items) > settings.EVENTSTORE_MAX_BATCH:
                raise invalid("events", f"at most {settings.EVENTSTORE_MAX_BATCH} events per batch", "too_many")
            extra = sorted(set(body) - {"events"})
            if extra:
                raise invalid(extra[0], "unexpected field next to events", "unexpected")
        elif isinstance(body, dict):
            items = [body]
        else:
            raise invalid("", 'the body must be an event object or {"events": [...]}', "invalid")
        try:
            results = services.interactions_ingest(raw_items=items, actor=request_actor(request))
        except EventStoreError as exc:
            problem = event_store_problem(exc, field_prefix="events" if is_batch else "")
            raise problem from exc
        body = {
            "results": [
                {
                    "id": r.id,
                    "position": r.position,
                    "customer_id": r.customer_id,
                    "duplicate": r.duplicate,
                    "stream": r.stream,
                    "version": r.version,
                }
                for r in results
            ]
        }
        created = any(not r.duplicate for r in results)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _int_param(request, name: str, *, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "must be an integer", "invalid") from None
    if value < low or (high is not None and value > high):
        raise invalid(name, f"must be between {low} and {high}" if high else f"must be at least {low}", "out_of_range")
    return value


def _cursor_param(request) -> tuple[int, int]:
    """`<transaction id>.<position>` of the last event of the previous page."""
    raw = request.query_params.get("cursor", "")
    parts = raw.split(".")
    # ASCII digits only: "²" is a digit to str.isdigit() and not to int().
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() and len(part) <= 19 for part in parts):
        raise invalid("cursor", "a cursor as the previous page's `next` link gives it", "invalid")
    transaction_id, position = (int(part) for part in parts)
    if transaction_id > 2**63 - 1 or position > 2**63 - 1:
        raise invalid("cursor", "a cursor as the previous page's `next` link gives it", "invalid")
    return transaction_id, position
