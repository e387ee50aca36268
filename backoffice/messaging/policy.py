"""The decisions messaging asks of higher layers, and quiet hours.

The recipient policy (setting MESSAGING_RECIPIENT_POLICY, a dotted path to a class or an object; customers provides
`customers.reachability.RecipientPolicy`) answers, for a customer:

    address(customer_id, channel) -> str | None            where to send (None: no address on that channel)
    allows(customer_id, channel, purpose, at) -> bool      consent
    time_zone(customer_id) -> str                          IANA zone for quiet hours
    last_inbound_at(customer_id, channel) -> datetime | None   the WhatsApp 24-hour window
    identifier_key(channel, address) -> str     the key of the customer identifier a provider's address would be
                                                ("" for none): how an erasure finds what messaging keeps of it

It may also offer `recipients(queries) -> list[Recipient]` to answer a whole batch in a few queries; the pipeline
uses it when present, and the four methods otherwise.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.module_loading import import_string

from backoffice.eventstore.vocabulary import Channel, Purpose

from .channels import whatsapp_window_open
from .models import ChannelSetting


class RecipientPolicy(Protocol):
    def address(self, customer_id: uuid.UUID, channel: str) -> str | None: ...
    def allows(self, customer_id: uuid.UUID, channel: str, purpose: str, at: datetime) -> bool: ...
    def time_zone(self, customer_id: uuid.UUID) -> str: ...
    def last_inbound_at(self, customer_id: uuid.UUID, channel: str) -> datetime | None: ...
    def identifier_key(self, channel: str, address: str) -> str: ...


@dataclass(frozen=True)
class RecipientQuery:
    customer_id: uuid.UUID
    channel: str
    purpose: str
    needs_inbound_window: bool = False


@dataclass(frozen=True)
class Recipient:
    address: str | None
    is_allowed: bool
    time_zone: str
    last_inbound_at: datetime | None = None
    is_erased: bool = False


def recipient_policy() -> RecipientPolicy:
    return _load(settings.MESSAGING_RECIPIENT_POLICY)


@lru_cache(maxsize=8)
def _load(path: str) -> Any:
    hook = import_string(path)
    return hook() if isinstance(hook, type) else hook


def recipients(queries: Sequence[RecipientQuery], *, at: datetime) -> list[Recipient]:
    """What the policy says about each query, in order: batched when the policy can, one by one otherwise."""
    policy = recipient_policy()
    batched = getattr(policy, "recipients", None)
    if batched is not None:
        return batched(queries, at=at)
    answers = []
    for query in queries:
        answers.append(
            Recipient(
                address=policy.address(query.customer_id, query.channel),
                is_allowed=policy.allows(query.customer_id, query.channel, query.purpose, at),
                time_zone=policy.time_zone(query.customer_id),
                last_inbound_at=(
                    policy.last_inbound_at(query.customer_id, query.channel) if query.needs_inbound_window else None
                ),
            )
        )
    return answers


# --- Channel settings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelRules:
    channel: str
    is_enabled: bool
    sender: str
    reply_to: str
    quiet_start: time | None
    quiet_end: time | None
    quiet_hours_for_service: bool
    max_sms_segments: int
    max_attempts: int


def paused_channels() -> list[str]:
    """Channels operations paused: their messages stay queued, untouched, until resumed."""
    return list(ChannelSetting.objects.filter(is_paused=True).values_list("channel", flat=True))


def channel_rules(channel: str) -> ChannelRules:
    return channel_rules_all([channel])[channel]


def channel_rules_all(channels: Sequence[str]) -> dict[str, ChannelRules]:
    """The effective rules per channel: its ChannelSetting row over the settings' defaults (one query)."""
    rows = {row.channel: row for row in ChannelSetting.objects.filter(channel__in=set(channels))}
    default_start, default_end = parse_quiet_hours(settings.MESSAGING_QUIET_HOURS)
    out = {}
    for channel in channels:
        row = rows.get(channel)
        has_override = row is not None and row.quiet_hours_start is not None
        out[channel] = ChannelRules(
            channel=channel,
            is_enabled=row.is_enabled if row else True,
            sender=row.sender if row else "",
            reply_to=row.reply_to if row else "",
            quiet_start=row.quiet_hours_start if has_override else default_start,
            quiet_end=row.quiet_hours_end if has_override else default_end,
            quiet_hours_for_service=row.quiet_hours_for_service if row else True,
            max_sms_segments=(row.max_sms_segments if row and row.max_sms_segments else None)
            or settings.MESSAGING_SMS_MAX_SEGMENTS,
            max_attempts=(row.max_attempts if row and row.max_attempts else None) or settings.MESSAGING_MAX_ATTEMPTS,
        )
    return out


# --- Quiet hours --------------------------------------------------------------------------------------------------


def parse_quiet_hours(value: str) -> tuple[time | None, time | None]:
    """ "21:00-09:00" -> (21:00, 09:00); "" or "off" -> no quiet hours."""
    value = (value or "").strip()
    if not value or value.lower() in ("off", "none"):
        return None, None
    start, _, end = value.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def held_until(now: datetime, *, purpose: str, time_zone: str, rules: ChannelRules) -> datetime | None:
    """Until when quiet hours hold a message of `purpose` on the channel of `rules` (None: it may leave now).
    Marketing always waits for them; service only where the channel's rules say so. The drain defers by this."""
    if purpose != Purpose.MARKETING and not rules.quiet_hours_for_service:
        return None
    return quiet_until(now, time_zone=time_zone, start=rules.quiet_start, end=rules.quiet_end)


def whatsapp_window_open_when_sent(*, customer_id: uuid.UUID, purpose: str, now: datetime) -> bool:
    """Whether a free-text WhatsApp message queued now still finds the customer's 24-hour window open when the drain
    lets it go: now, or when quiet hours end if they hold it (the drain suppresses it as whatsapp_window_closed
    otherwise). A caller with a template for it sends the template instead."""
    policy = recipient_policy()
    last_inbound_at = policy.last_inbound_at(customer_id, Channel.WHATSAPP)
    if not whatsapp_window_open(last_inbound_at, now=now):
        return False
    rules = channel_rules(Channel.WHATSAPP)
    held = held_until(now, purpose=purpose, time_zone=policy.time_zone(customer_id), rules=rules)
    return held is None or whatsapp_window_open(last_inbound_at, now=held)


def quiet_until(now: datetime, *, time_zone: str, start: time | None, end: time | None) -> datetime | None:
    """When quiet hours end, if `now` falls inside them in that zone; None when sending now is fine.

    The window is [start, end) in local wall-clock time and wraps midnight when start > end (21:00-09:00).
    """
    if start is None or end is None or start == end:
        return None
    tz = zone(time_zone)
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    # Built from the wall clock, so a DST change between now and then lands on the right local hour.
    return datetime.combine(day, end, tzinfo=tz)
