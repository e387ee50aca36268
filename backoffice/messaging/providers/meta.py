"""Meta's webhook for one app: WhatsApp Cloud API, Messenger and Instagram (GET, POST /api/v1/providers/meta/webhook).

- GET is the subscription handshake: `hub.mode=subscribe` with `hub.verify_token` equal to META_VERIFY_TOKEN is
  answered with `hub.challenge`, anything else 403.
- Every POST carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with META_APP_SECRET>`; a missing
  or wrong one is 401 and nothing is read further. A body that is not a JSON object is 400.
- WhatsApp (`object: whatsapp_business_account`): `messages` join the sender's case (customers' inbound hook; a
  `reaction` to one of our messages is recorded on it as `message.reacted`, never as a case), `statuses` (sent,
  delivered, read, failed) become our status events. A failure with code 131026 (the number cannot receive) marks
  it undeliverable; 131050 (the person stopped marketing messages) withdraws WhatsApp marketing. The
  `user_preferences` field (the person tapped "Stop promotions" in WhatsApp) withdraws it at once, without waiting
  for a send to fail; WhatsApp's `system` notices in `messages` open no case.
- Messenger (`object: page`) and Instagram (`object: instagram`): `messaging` items with a `message` join the case
  (echoes of our own messages are skipped), `delivery` and `read` with message ids and `reaction` are status events.
- Everything in one POST is recorded together or not at all. Statuses and reactions about messages that are not
  ours, and objects or fields we do not use, are acknowledged with 200 and ignored (Meta retries anything else for
  days); the same POST again records nothing new.
"""

import hashlib
import hmac
import logging
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from backoffice.eventstore.errors import EventValidationError

from ..services import UnknownMessage
from ..services.inbound import provider_inbound_receive, provider_marketing_stopped
from ..services.status import StatusCallbackData, message_statuses_record
from ..vocabulary import DeliveryStatus
from .common import ProviderInputError, from_unix, problem, too_large, unauthorized

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
UNDELIVERABLE_CODES = frozenset({131026})
STOPPED_MARKETING_CODES = frozenset({131050})
OBJECT_CHANNELS = {"page": "facebook", "instagram": "instagram"}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_webhook(request):
    if request.method == "GET":
        return _handshake(request)
    if (refusal := too_large(request)) is not None:
        return refusal
    secret = settings.META_APP_SECRET
    if not secret:
        return unauthorized("META_APP_SECRET is not configured", challenge=f'Signature header="{SIGNATURE_HEADER}"')
    body = request.body
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, not a mismatch).
    if not hmac.compare_digest(expected.encode(), request.headers.get(SIGNATURE_HEADER, "").encode()):
        return unauthorized(
            f"the {SIGNATURE_HEADER} header is missing or does not match",
            challenge=f'Signature header="{SIGNATURE_HEADER}"',
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return problem(400, "invalid_json", "Not JSON", "the body is not JSON", field="body", code="invalid_json")
    if not isinstance(payload, dict) or not isinstance(payload.get("entry", []), list):
        return problem(
            400, "invalid_payload", "Unusable payload", "expected an object with an entry list", field="entry"
        )
    counts = {"messages": 0, "statuses": 0, "preferences": 0, "ignored": 0}
    try:
        with transaction.atomic():
            kind = payload.get("object")
            statuses: list[StatusCallbackData] = []
            for n, entry in enumerate(payload.get("entry") or []):
                if not isinstance(entry, dict):
                    raise ProviderInputError(f"entry.{n}", "must be an object")
                if kind == "whatsapp_business_account":
                    _whatsapp_entry(entry, counts, statuses, f"entry.{n}")
                elif kind in OBJECT_CHANNELS:
                    _messaging_entry(entry, OBJECT_CHANNELS[kind], counts, statuses, f"entry.{n}")
                else:
                    counts["ignored"] += 1
            # Every status of the POST in one go: one lookup, one append (Meta sends them by the dozen).
            for result in (
                message_statuses_record(callbacks=statuses, source="meta.webhook", keep_unmatched=True)
                if statuses
                else []
            ):
                counts["ignored" if isinstance(result, UnknownMessage) else "statuses"] += 1
    except ProviderInputError as exc:
        return problem(400, "invalid_payload", "Unusable payload", exc.message, field=exc.field, code=exc.code)
    return JsonResponse(counts)


def _handshake(request):
    mode = request.GET.get("hub.mode", "")
    token = request.GET.get("hub.verify_token", "")
    challenge = request.GET.get("hub.challenge", "")
    expected = settings.META_VERIFY_TOKEN
    if mode == "subscribe" and expected and challenge and hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse(challenge[:200], content_type="text/plain")
    return problem(
        403,
        "verification_failed",
        "Verification failed",
        "wrong hub.mode or hub.verify_token",
        field="hub.verify_token",
    )


def _list(container: dict, name: str, where: str) -> list:
    value = container.get(name) or []
    if not isinstance(value, list):
        raise ProviderInputError(f"{where}.{name}", "must be a list")
    return value


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProviderInputError(where, "must be an object")
    return value


def _text(value, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int) or (required and not str(value).strip()):
        raise ProviderInputError(where, "is required" if value in (None, "") else "must be a string")
    return str(value)


def _whatsapp_entry(entry: dict, counts: dict, statuses: list, where: str) -> None:
    for c, change in enumerate(_list(entry, "changes", where)):
        at = f"{where}.changes.{c}"
        change = _object(change, at)
        if change.get("field") == "user_preferences":
            value = _object(change.get("value"), f"{at}.value")
            for p, preference in enumerate(_list(value, "user_preferences", f"{at}.value")):
                where_p = f"{at}.value.user_preferences.{p}"
                _whatsapp_preference(_object(preference, where_p), counts, where_p)
            continue
        if change.get("field") != "messages":
            counts["ignored"] += 1
            continue
        value = _object(change.get("value"), f"{at}.value")
        names = {}
        for contact in _list(value, "contacts", f"{at}.value"):
            if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
                names[str(contact.get("wa_id"))] = str(contact["profile"].get("name") or "")[:200]
        for m, message in enumerate(_list(value, "messages", f"{at}.value")):
            _whatsapp_message(
                _object(message, f"{at}.value.messages.{m}"), names, counts, statuses, f"{at}.value.messages.{m}"
            )
        for s, status in enumerate(_list(value, "statuses", f"{at}.value")):
            _whatsapp_status(_object(status, f"{at}.value.statuses.{s}"), counts, statuses, f"{at}.value.statuses.{s}")


def _whatsapp_message(message: dict, names: dict, counts: dict, statuses: list, where: str) -> None:
    sender = _text(message.get("from"), f"{where}.from")
    message_id = _text(message.get("id"), f"{where}.id")
    received_at = from_unix(message.get("timestamp"), f"{where}.timestamp")
    kind = message.get("type")
    if kind == "system":
        # WhatsApp's own notice in the chat (the person changed number, or their marketing preferences, which the
        # user_preferences field says): nothing the person wrote, so no case.
        counts["ignored"] += 1
        return
    if kind == "reaction":
        reaction = _object(message.get("reaction"), f"{where}.reaction")
        _status(
            statuses,
            "whatsapp",
            _text(reaction.get("message_id"), f"{where}.reaction.message_id"),
            "reacted",
            received_at,
            emoji=_text(reaction.get("emoji"), f"{where}.reaction.emoji", required=False),
        )
        return
    text = _message_text(message, kind)
    _inbound("whatsapp", message_id, f"+{sender.lstrip('+')}", text, received_at, names.get(sender, ""), where)
    counts["messages"] += 1


def _message_text(message: dict, kind) -> str:
    """What the person said: the text, a button or list choice, a caption; else what they sent."""
    part = message.get(kind) if isinstance(kind, str) else None
    if kind == "text" and isinstance(part, dict):
        return str(part.get("body") or "")
    if kind == "button" and isinstance(part, dict):
        return str(part.get("text") or "")
    if kind == "interactive" and isinstance(part, dict):
        reply = part.get("button_reply") or part.get("list_reply") or {}
        return str(reply.get("title") or "") if isinstance(reply, dict) else ""
    if isinstance(part, dict) and part.get("caption"):
        return str(part["caption"])
    return f"[{kind}]" if isinstance(kind, str) else "[message]"


def _whatsapp_status(status: dict, counts: dict, statuses: list, where: str) -> None:
    message_id = _text(status.get("id"), f"{where}.id")
    state = _text(status.get("status"), f"{where}.status")
    occurred_at = from_unix(status.get("timestamp"), f"{where}.timestamp")
    if state not in ("delivered", "read", "failed"):
        counts["ignored"] += 1  # sent (accepted by WhatsApp), deleted, warning: nothing new for us
        return
    codes, reason = set(), ""
    if state == "failed":
        errors = [(n, e) for n, e in enumerate(_list(status, "errors", where)) if isinstance(e, dict)]
        for n, error in errors:
            if not isinstance(error.get("code"), int | str | None):
                raise ProviderInputError(f"{where}.errors.{n}.code", "must be a number")
        codes = {e.get("code") for _, e in errors}
        reason = "; ".join(f"meta {e.get('code')}: {e.get('title') or ''}".strip() for _, e in errors)[:500]
    _status(
        statuses,
        "whatsapp",
        message_id,
        state,
        occurred_at,
        reason=reason or ("meta failed" if state == "failed" else ""),
        address=f"+{status['recipient_id']}" if isinstance(status.get("recipient_id"), str) else "",
        is_undeliverable=bool(codes & UNDELIVERABLE_CODES),
        withdraws_marketing=bool(codes & STOPPED_MARKETING_CODES),
    )


def _whatsapp_preference(preference: dict, counts: dict, where: str) -> None:
    """A person stopped (or resumed) WhatsApp marketing messages from us in WhatsApp itself ("Stop promotions"). A stop
    withdraws WhatsApp marketing, as a failed send with 131050 would later; each change is named by the person and
    its time, so a resend changes nothing. A resume records nothing: Meta documents it only as the person allowing
    WhatsApp to deliver marketing again, not as consent given to us (marketing needs a grant of our own)."""
    if preference.get("category") != "marketing_messages" or preference.get("value") != "stop":
        counts["ignored"] += 1
        return
    wa_id = _text(preference.get("wa_id"), f"{where}.wa_id")
    timestamp = _text(preference.get("timestamp"), f"{where}.timestamp")
    # WhatsApp's times are whole seconds: the stop happened within that second, maybe after a grant recorded in it
    # to the microsecond. Dated at the second's end (customers caps it at now), it is not taken as the older one.
    stopped_at = from_unix(timestamp, f"{where}.timestamp") + timedelta(seconds=1, microseconds=-1)
    try:
        result = provider_marketing_stopped(
            channel="whatsapp",
            reference=f"user_preferences:{wa_id}:{timestamp}"[:200],
            sender=f"+{wa_id.lstrip('+')}",
            occurred_at=stopped_at,
            actor="provider:meta",
        )
    except EventValidationError as exc:
        first = exc.errors[0]
        field = {"from": "wa_id", "received_at": "timestamp"}.get(first.field, first.field)
        raise ProviderInputError(f"{where}.{field}", first.message, first.code) from None
    counts["preferences" if getattr(result, "action", "") in ("unsubscribed", "duplicate") else "ignored"] += 1


def _messaging_entry(entry: dict, channel: str, counts: dict, statuses: list, where: str) -> None:
    for n, item in enumerate(_list(entry, "messaging", where)):
        at = f"{where}.messaging.{n}"
        item = _object(item, at)
        occurred_at = _from_millis(item.get("timestamp"), f"{at}.timestamp")
        sender = _object(item.get("sender"), f"{at}.sender")
        if isinstance(item.get("message"), dict):
            message = item["message"]
            if message.get("is_echo"):
                counts["ignored"] += 1  # our own message, echoed back to the page
                continue
            text = str(message.get("text") or "") or ("[attachment]" if message.get("attachments") else "[message]")
            _inbound(
                channel,
                _text(message.get("mid"), f"{at}.message.mid"),
                _text(sender.get("id"), f"{at}.sender.id"),
                text,
                occurred_at,
                "",
                at,
            )
            counts["messages"] += 1
        elif isinstance(item.get("delivery"), dict):
            for mid in _list(item["delivery"], "mids", f"{at}.delivery"):
                _status(statuses, channel, _text(mid, f"{at}.delivery.mids"), DeliveryStatus.DELIVERED, occurred_at)
        elif isinstance(item.get("read"), dict) and item["read"].get("mid"):
            _status(statuses, channel, _text(item["read"]["mid"], f"{at}.read.mid"), DeliveryStatus.READ, occurred_at)
        elif isinstance(item.get("reaction"), dict) and item["reaction"].get("action", "react") == "react":
            reaction = item["reaction"]
            emoji = _text(reaction.get("emoji") or reaction.get("reaction"), f"{at}.reaction.emoji", required=False)
            _status(
                statuses, channel, _text(reaction.get("mid"), f"{at}.reaction.mid"), "reacted", occurred_at, emoji=emoji
            )
        else:
            counts["ignored"] += 1  # a read by watermark only, postbacks, referrals...: nothing we record


def _from_millis(value, where: str):
    """Messenger and Instagram times are Unix milliseconds."""
    if value is None:
        return None
    try:
        seconds = int(value) // 1000
    except (TypeError, ValueError):
        raise ProviderInputError(where, "must be a Unix time in milliseconds") from None
    return from_unix(seconds, where)


def _status(statuses: list, channel: str, provider_id: str, status: str, occurred_at, **extra) -> None:
    statuses.append(
        StatusCallbackData(
            channel=channel, status=status, provider_message_id=provider_id[:300], occurred_at=occurred_at, **extra
        )
    )


def _inbound(channel: str, message_id: str, sender: str, text: str, received_at, name: str, where: str) -> None:
    try:
        provider_inbound_receive(
            channel=channel,
            provider_message_id=message_id[:200],
            sender=sender,
            text=text[:10000] or "[message]",
            name=name,
            received_at=received_at,
            actor="provider:meta",
        )
    except EventValidationError as exc:
        first = exc.errors[0]
        raise ProviderInputError(f"{where}.{first.field}", first.message, first.code) from None
