"""The doors: the Segment-spec tracking API at /v1/* and the shop webhooks at /integrations/*/webhooks.

Plain Django views, not DRF: the answers follow the specs (Segment's `{"success": true}`, with our `refused` list
naming the messages of a batch left out, and its error shape `{"success": false, "code", "message"}`, with our
`errors` list naming each field), and the webhooks must see the raw body their signature covers. Authentication is
the write key (Basic) or the platform's HMAC signature.
"""

import base64
import binascii
import zlib
from urllib.parse import urlparse

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services
from .models import Platform


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str, errors: list | None = None):
        self.status, self.code, self.errors = status, code, errors or []
        super().__init__(message)


def _segment_error(exc: _Refused) -> JsonResponse:
    body = {"success": False, "code": exc.code, "message": str(exc)}
    if exc.errors:
        body["errors"] = exc.errors
    return JsonResponse(body, status=exc.status)


def _read_body(request: HttpRequest, limit: int) -> bytes:
    """The body, inflated when gzip-encoded; at most `limit` bytes either way (a gzip bomb stops there)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise _Refused(400, "payload_too_large", f"the body is {length} bytes; at most {limit}")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise _Refused(400, "payload_too_large", f"the body is over {limit} bytes")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise _Refused(400, "unsupported_encoding", f"Content-Encoding {encoding!r}: only gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
        if not inflater.eof:
            if len(body) > limit:
                raise _Refused(400, "payload_too_large", f"the inflated body is over {limit} bytes")
            raise _Refused(400, "invalid_gzip", "the body ends before its gzip stream does")
    except zlib.error:
        raise _Refused(400, "invalid_gzip", "Content-Encoding is gzip but the body is not gzip") from None
    return body


def _write_key(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, _password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return username


@csrf_exempt
@require_POST
def tracking(request: HttpRequest, kind: str | None) -> HttpResponse:
    """POST /v1/<kind>: one Segment call; kind None is /v1/batch."""
    received_at = timezone.now()
    try:
        key = _write_key(request)
        source = services.tracking_source_for_key(key) if key else None
        if key is not None and source is None:
            raise _Refused(401, "invalid_write_key", "the write key is unknown or revoked")
        body = _read_body(request, settings.TRACKING_MAX_BODY_BYTES)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _Refused(400, "invalid_json", "the body is not JSON") from None
        if not isinstance(payload, dict):
            raise _Refused(400, "invalid_request", "the body must be a JSON object")
        if source is None:
            # Browsers (analytics.js) put the key in the body to avoid a preflight request.
            body_key = payload.get("writeKey")
            source = services.tracking_source_for_key(body_key) if isinstance(body_key, str) else None
            if source is None:
                raise _Refused(401, "invalid_write_key", "give the write key as the Basic auth username")
        if kind is None:
            messages = payload.get("batch")
            if not isinstance(messages, list) or not messages:
                raise _Refused(
                    400,
                    "invalid_request",
                    "batch must be a non-empty array",
                    [{"field": "batch", "message": "must be a non-empty array", "code": "required"}],
                )
            if len(messages) > settings.EVENTSTORE_MAX_BATCH:
                raise _Refused(400, "invalid_request", f"at most {settings.EVENTSTORE_MAX_BATCH} messages per batch")
        try:
            if kind is None:
                result = services.tracking_batch_receive(
                    source=source,
                    messages=messages,
                    received_at=received_at,
                    sent_at=payload.get("sentAt"),
                    context=payload.get("context"),
                )
            else:
                result = services.tracking_call_receive(
                    source=source, kind=kind, message=payload, received_at=received_at
                )
        except services.TrackingRefused as exc:
            raise _Refused(400, "invalid_request", str(exc)[:1000], exc.errors) from None
    except _Refused as exc:
        return _segment_error(exc)
    answer: dict = {"success": True}
    if result.refused:
        # Messages of a batch left out: Segment answers 200 all the same (on a 400 the SDKs drop the whole batch, and
        # never retry it), so the others are stored and these are named for the sender.
        answer["refused"] = [{"index": r.index, "errors": r.errors} for r in result.refused]
    return JsonResponse(answer)


def _webhook(request: HttpRequest, platform: str, *, topic: str, delivery_id: str, shop_domain: str, signature: str):
    try:
        body = _read_body(request, settings.INTEGRATIONS_WEBHOOK_MAX_BYTES)
        outcome = services.shop_webhook_receive(
            platform=platform,
            shop_domain=shop_domain,
            topic=topic,
            delivery_id=delivery_id,
            body=body,
            signature=signature,
        )
    except _Refused as exc:
        return JsonResponse(
            {"code": exc.code, "message": str(exc)}, status=413 if exc.code == "payload_too_large" else exc.status
        )
    except services.ShopWebhookRefused as exc:
        return JsonResponse({"code": exc.code, "message": str(exc)}, status=exc.status)
    return JsonResponse({"outcome": str(outcome)})


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> HttpResponse:
    meta = request.META
    return _webhook(
        request,
        Platform.SHOPIFY,
        topic=meta.get("HTTP_X_SHOPIFY_TOPIC", ""),
        delivery_id=meta.get("HTTP_X_SHOPIFY_WEBHOOK_ID", ""),
        shop_domain=meta.get("HTTP_X_SHOPIFY_SHOP_DOMAIN", ""),
        signature=meta.get("HTTP_X_SHOPIFY_HMAC_SHA256", ""),
    )


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest) -> HttpResponse:
    meta = request.META
    source = meta.get("HTTP_X_WC_WEBHOOK_SOURCE", "")
    topic = meta.get("HTTP_X_WC_WEBHOOK_TOPIC", "")
    if not topic and request.META.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        # The ping WooCommerce sends when a webhook is saved (`webhook_id=<n>`, unsigned): nothing to store.
        return JsonResponse({"outcome": "ignored"})
    return _webhook(
        request,
        Platform.WOOCOMMERCE,
        topic=topic,
        delivery_id=meta.get("HTTP_X_WC_WEBHOOK_DELIVERY_ID", ""),
        shop_domain=urlparse(source).hostname or source,
        signature=meta.get("HTTP_X_WC_WEBHOOK_SIGNATURE", ""),
    )
