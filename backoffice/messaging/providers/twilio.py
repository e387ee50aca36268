"""Twilio's webhooks: inbound SMS and WhatsApp (POST /api/v1/providers/twilio/messages) and status callbacks
(POST /api/v1/providers/twilio/status), form-encoded and signed with X-Twilio-Signature, checked by the library's
`RequestValidator` against TWILIO_AUTH_TOKEN and the URL Twilio called.

- A bad or missing signature is 401 and nothing is read further; a body that is not a form is 415.
- Status: delivered and read become our status events; failed and undelivered a terminal `message.failed` with
  Twilio's error code. Codes saying the number cannot receive (UNREACHABLE_CODES) mark the address undeliverable;
  21610 (the recipient replied STOP to Twilio) withdraws the channel's marketing (the same codes on the create's
  synchronous refusal do the same: backends.twilio). queued, sent... add nothing.
  A callback for a message that is not ours (yet) is acknowledged (Twilio expects a 2xx) and kept for a retry
  (services.unmatched).
- Inbound: the sender (`whatsapp:+34...` on WhatsApp) joins their case through customers' inbound hook; Twilio's
  own opt-out classification (OptOutType=STOP, Advanced Opt-Out) and the STOP/BAJA keywords withdraw marketing;
  OptOutType=START (the person texted START, YES or UNSTOP and Twilio re-subscribed the number) grants it again, and
  neither START nor HELP (Twilio answers it) opens a case.
  The answer is an empty TwiML <Response/>: no automatic reply.
"""

import functools

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from backoffice.eventstore.errors import EventValidationError

from ..backends.twilio import OPTED_OUT_CODES, UNREACHABLE_CODES
from ..services.inbound import provider_inbound_receive
from ..services.received import status_callback_receive
from ..services.status import StatusCallbackData
from ..vocabulary import DeliveryStatus, InboundClassification
from .common import ProviderInputError, problem, too_large, unauthorized

SIGNATURE_HEADER = "X-Twilio-Signature"
STATUSES = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}
# Twilio's Advanced Opt-Out classification of an inbound message (OptOutType): STOP blocked the number, START
# (START, YES, UNSTOP) lifted the block, HELP was answered by Twilio itself.
OPT_OUT_TYPES = {
    "STOP": InboundClassification.OPT_OUT,
    "START": InboundClassification.OPT_IN,
    "HELP": InboundClassification.HELP,
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _verified(request):
    """None when the request is a form signed by Twilio for this URL, else the answer refusing it."""
    if (refusal := too_large(request)) is not None:
        return refusal
    content_type = request.content_type or ""
    if content_type != "application/x-www-form-urlencoded":
        return problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            "Twilio webhooks are application/x-www-form-urlencoded",
            field="Content-Type",
            code="unsupported_media_type",
        )
    if not settings.TWILIO_AUTH_TOKEN:
        return unauthorized("TWILIO_AUTH_TOKEN is not configured", challenge='Signature header="X-Twilio-Signature"')
    signature = request.headers.get(SIGNATURE_HEADER, "")
    try:
        params = request.POST
    except (SuspiciousOperation, ValueError):  # too many fields, undecodable: bad input
        return problem(400, "invalid_payload", "Unusable payload", "the form body cannot be parsed", field="body")
    if not signature or not _validator(settings.TWILIO_AUTH_TOKEN).validate(
        request.build_absolute_uri(), params, signature
    ):
        return unauthorized(
            "the X-Twilio-Signature is missing or does not match", challenge='Signature header="X-Twilio-Signature"'
        )
    account = params.get("AccountSid", "")
    if settings.TWILIO_ACCOUNT_SID and account != settings.TWILIO_ACCOUNT_SID:
        return problem(
            403, "wrong_account", "Wrong account", "the callback is for another Twilio account", field="AccountSid"
        )
    return None


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    """One validator per auth token, made once (a token rotated in the settings gets its own)."""
    return RequestValidator(token)


def _required(params, name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise ProviderInputError(name, "is required")
    return value


def _split_address(address: str) -> tuple[str, str]:
    """("whatsapp", "+34...") or ("sms", "+34...")."""
    if address.startswith("whatsapp:"):
        return "whatsapp", address.removeprefix("whatsapp:")
    return "sms", address


def _status_callback(params) -> StatusCallbackData | None:
    """The status callback in `params` (a signed form), or None for a status that adds nothing for us (queued,
    sending, sent, accepted...). Raises ProviderInputError for a missing field."""
    sid = _required(params, "MessageSid")
    twilio_status = _required(params, "MessageStatus").lower()
    status = STATUSES.get(twilio_status)
    if status is None:
        return None
    channel, address = _split_address(params.get("To", ""))
    code = (params.get("ErrorCode") or "").strip()
    return StatusCallbackData(
        channel=channel,
        provider_message_id=sid[:300],
        status=status,
        reason=f"twilio {twilio_status}" + (f" (error {code})" if code else ""),
        address=address,
        is_undeliverable=status == DeliveryStatus.FAILED and code in UNREACHABLE_CODES,
        withdraws_marketing=status == DeliveryStatus.FAILED and code in OPTED_OUT_CODES,
    )


def _status_receive(callback: StatusCallbackData | None) -> HttpResponse:
    # Twilio posts callbacks by the hundred at once, one per request: each is committed as received and answered,
    # and they are applied together moments later (services.received).
    if callback is not None:
        status_callback_receive(source="twilio.status", callback=callback)
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_status(request):
    if (refusal := _verified(request)) is not None:
        return refusal
    try:
        callback = _status_callback(request.POST)
    except ProviderInputError as exc:
        return problem(400, "invalid_payload", "Unusable payload", exc.message, field=exc.field, code=exc.code)
    return _status_receive(callback)


def twilio_status_fast(request) -> HttpResponse | None:
    """`twilio_status` for a request that has not been through Django's handler (backoffice.wsgi's fast path): the
    same checks and the same receipt for a POSTed form signed by Twilio with every field usable, answered 204; None
    for anything else, which the caller then hands to Django's handler, where `twilio_status` answers it (415, 401,
    400, 403... as ever). Nothing is written before that decision."""
    if request.method != "POST" or _verified(request) is not None:
        return None
    try:
        callback = _status_callback(request.POST)
    except ProviderInputError:
        return None
    return _status_receive(callback)


@csrf_exempt
@require_POST
def twilio_messages(request):
    if (refusal := _verified(request)) is not None:
        return refusal
    params = request.POST
    try:
        sid = _required(params, "MessageSid")
        channel, sender = _split_address(_required(params, "From"))
        text = (params.get("Body") or "").strip()
        if not text:
            media = params.get("NumMedia") or "0"
            text = f"[{media} media]" if media != "0" else "(sin texto)"
        provider_inbound_receive(
            channel=channel,
            provider_message_id=sid[:200],
            sender=sender,
            text=text,
            name=(params.get("ProfileName") or "")[:200],
            classified_as=OPT_OUT_TYPES.get((params.get("OptOutType") or "").strip().upper()),
            actor="provider:twilio",
        )
    except ProviderInputError as exc:
        return problem(400, "invalid_payload", "Unusable payload", exc.message, field=exc.field, code=exc.code)
    except EventValidationError as exc:
        first = exc.errors[0]
        field = {"from": "From", "text": "Body"}.get(first.field, first.field)
        return problem(400, "invalid_payload", "Unusable payload", first.message, field=field, code=first.code)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
