"""Channel rules: what a message must hold on each channel, checked before anything is written.

- email: `subject` and `body` required.
- sms: `text` required; length in segments by encoding: GSM 03.38 (7-bit, extension characters count twice) fits
  160 characters in one part and 153 per part when concatenated; anything else is UCS-2, 70 and 67 (UTF-16 code
  units: an emoji takes two). At most MESSAGING_SMS_MAX_SEGMENTS parts (or the channel setting's override).
- whatsapp: `text` (with up to 3 reply `buttons`: an interactive message), or `template` with `parameters`;
  outside the 24-hour window opened by the customer's last
  message only a template may be sent.
- push: `title` and `body`; facebook, instagram: `text`.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from backoffice.eventstore.vocabulary import Channel, Purpose

from .errors import ChannelRuleError
from .events import OUTBOUND_CHANNELS as OUTBOUND_CHANNELS  # re-exported

WHATSAPP_WINDOW: Final = timedelta(hours=24)

_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")

# Allowed keys and limits per channel: {key: (required, max length)}.
_FIELDS: Final[dict[str, dict[str, tuple[bool, int]]]] = {
    Channel.EMAIL: {"subject": (True, 200), "body": (True, 100_000), "html": (False, 200_000)},
    Channel.SMS: {"text": (True, 10_000)},
    Channel.WHATSAPP: {"text": (False, 4096), "template": (False, 512), "language": (False, 16)},
    Channel.PUSH: {"title": (True, 100), "body": (True, 1000), "url": (False, 2000)},
    Channel.FACEBOOK: {"text": (True, 2000)},
    Channel.INSTAGRAM: {"text": (True, 1000)},
}


def content_for(
    channel: str, *, text: str, subject: str = "", title: str = "", template: str = "", parameters=()
) -> dict[str, Any]:
    """The shape of a message on `channel`, built from one text: email `subject` and `body`; push `title` (the
    subject when no title is given) and `body`; WhatsApp an approved `template` with its `parameters` when one is
    given, else `text`; SMS, Facebook and Instagram `text`. The one place that knows the shapes `check` validates."""
    if channel == Channel.EMAIL:
        return {"subject": subject, "body": text}
    if channel == Channel.PUSH:
        return {"title": title or subject, "body": text}
    if channel == Channel.WHATSAPP and template:
        return {"template": template, "parameters": list(parameters)}
    return {"text": text}


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_length(text: str) -> SmsLength:
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        single, part = 160, 153
        encoding = "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
        encoding = "UCS-2"
    segments = 1 if units <= single else math.ceil(units / part)
    return SmsLength(encoding, units, segments)


def check(
    *,
    channel: str,
    purpose: str,
    content: Any,
    max_sms_segments: int,
    last_inbound_at: datetime | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The content, cleaned, or ChannelRuleError naming the field that breaks a rule."""
    if channel not in OUTBOUND_CHANNELS:
        raise ChannelRuleError("channel", f"messages cannot be sent on {channel!r}", "unknown_channel")
    if purpose not in tuple(Purpose):
        raise ChannelRuleError("purpose", "must be marketing or service", "invalid_choice")
    if not isinstance(content, dict):
        raise ChannelRuleError("content", "must be an object", "invalid")
    fields = _FIELDS[channel]
    allowed = set(fields) | ({"parameters", "buttons"} if channel == Channel.WHATSAPP else set())
    for key in content:
        if key not in allowed:
            raise ChannelRuleError(f"content.{key}", f"is not a field of a {channel} message", "unknown_field")
    cleaned: dict[str, Any] = {}
    for key, (required, limit) in fields.items():
        value = content.get(key)
        if value is None or value == "":
            if required:
                raise ChannelRuleError(f"content.{key}", f"is required for {channel}", "required")
            continue
        if not isinstance(value, str):
            raise ChannelRuleError(f"content.{key}", "must be a string", "invalid")
        if key != "body" and key != "html" and not value.strip():
            raise ChannelRuleError(f"content.{key}", f"is required for {channel}", "required")
        if len(value) > limit:
            raise ChannelRuleError(f"content.{key}", f"is longer than {limit} characters", "max_length")
        cleaned[key] = value
    if channel == Channel.SMS:
        length = sms_length(cleaned["text"])
        if length.segments > max_sms_segments:
            raise ChannelRuleError(
                "content.text",
                f"needs {length.segments} SMS segments ({length.units} {length.encoding} characters), "
                f"over the limit of {max_sms_segments}",
                "too_many_segments",
            )
    if channel == Channel.WHATSAPP:
        cleaned.update(_whatsapp(content, cleaned, last_inbound_at=last_inbound_at, now=now))
    return cleaned


def _whatsapp(content: dict, cleaned: dict, *, last_inbound_at: datetime | None, now: datetime) -> dict:
    template, text = cleaned.get("template"), cleaned.get("text")
    parameters = content.get("parameters")
    buttons = content.get("buttons")
    extra: dict = {}
    if buttons is not None:
        # An interactive message: reply buttons under a text (WhatsApp: 1 to 3, titles up to 20 characters).
        if template or not text:
            raise ChannelRuleError("content.buttons", "buttons go with a text, not a template", "invalid")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ChannelRuleError("content.buttons", "must be a list of 1 to 3 button titles", "invalid")
        for index, title in enumerate(buttons):
            if not isinstance(title, str) or not title.strip() or len(title) > 20:
                raise ChannelRuleError(f"content.buttons.{index}", "must be 1 to 20 characters", "invalid")
        extra = {"buttons": list(buttons)}
    if template and text:
        raise ChannelRuleError("content.text", "send either a text or a template, not both", "invalid")
    if parameters is not None and not template:
        raise ChannelRuleError("content.template", "parameters need a template", "required")
    if template:
        if parameters is None:
            raise ChannelRuleError(
                "content.parameters", "is required with a template (a list, maybe empty)", "required"
            )
        if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
            raise ChannelRuleError("content.parameters", "must be a list of strings", "invalid")
        for index, parameter in enumerate(parameters):
            if not parameter.strip() or len(parameter) > 1024:
                raise ChannelRuleError(f"content.parameters.{index}", "must be 1 to 1024 characters", "invalid")
        return {"parameters": list(parameters)}
    if not text:
        raise ChannelRuleError("content.text", "a text or a template is required for whatsapp", "required")
    if not whatsapp_window_open(last_inbound_at, now=now):
        raise ChannelRuleError(
            "content.template",
            "is required: the customer has not written on WhatsApp in the last 24 hours",
            "template_required",
        )
    return extra


def whatsapp_window_open(last_inbound_at: datetime | None, *, now: datetime) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


def needs_whatsapp_window(channel: str, content: dict) -> bool:
    return channel == Channel.WHATSAPP and not content.get("template")
