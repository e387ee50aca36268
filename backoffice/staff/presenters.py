"""How staff pages say things: labels for channels, identifiers and event types, one-line summaries of events,
the consent grid, and the timeline's keyset cursor. Plain functions over what the selectors return."""

import json
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from backoffice.eventstore.vocabulary import Purpose
from customers import wording
from customers.events import ConsentChannel, ConsentPurpose
from customers.timeline_cursor import BadCursor, cursor_decode, cursor_encode  # noqa: F401 - the API's cursor
from customers.vocabulary import IdentifierKind
from orders import selectors as order_selectors

CONSENT_CHANNELS: tuple[str, ...] = ConsentChannel.__args__
CONSENT_PURPOSES: tuple[str, ...] = ConsentPurpose.__args__

# How channels, purposes, identifiers and events are said: one owner, shared with the admin (customers.wording).
CHANNEL_LABELS = wording.CHANNEL_LABELS
PURPOSE_LABELS = wording.PURPOSE_LABELS
IDENTIFIER_LABELS = wording.IDENTIFIER_LABELS
EVENT_LABELS = wording.EVENT_LABELS
channel_label = wording.channel_label
event_label = wording.event_label
event_sentence = wording.event_sentence


def identifier_value(kind: str, value: str) -> str:
    """Phones as people read them (+34 600 11 12 22); everything else as stored."""
    if kind != IdentifierKind.PHONE:
        return value
    try:
        return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value


def timeline_items(events, *, role: str | None) -> list[dict]:
    """The lines of a staff timeline, asking the orders app once which of their order ids it holds."""
    events = list(events)
    stories = [wording.event_sentence(event.type, event.data, event.channel) for event in events]
    held = order_selectors.order_ids_held(order_ids=(story.refs.get("order") for story in stories))
    return [
        timeline_item(event, role=role, held_order_ids=held, story=story)
        for event, story in zip(events, stories, strict=True)
    ]


def timeline_item(event, *, role: str | None, held_order_ids=frozenset(), story=None) -> dict:
    """One line of a staff timeline: the event's sentence (customers.wording), its channel, a link to the order or
    case it belongs to, and for admins only the raw data behind a "details" toggle. Only orders the orders app holds
    (`held_order_ids`) are linked: another system's order number ("2026/000123") stays text in the sentence."""
    if story is None:
        story = wording.event_sentence(event.type, event.data, event.channel)
    link_url = link_text = ""
    if story.refs.get("order") in held_order_ids:
        link_url = reverse("staff:order_detail", args=[story.refs["order"]])
        link_text = _("Open the order")
    elif "case" in story.refs:
        link_url = reverse("staff:case_detail", args=[story.refs["case"]])
        link_text = _("Open the case")
    elif "campaign" in story.refs and role in ("admin", "marketing"):
        link_url = reverse("admin:campaigns_campaign_change", args=[story.refs["campaign"]])
        link_text = _("Open the campaign")
    return {
        "event": event,
        "channel": event.channel,
        "channel_label": channel_label(event.channel),
        "label": event_label(event.type),
        "sentence": story.text,
        "link_url": link_url,
        "link_text": link_text,
        "raw": json.dumps(event.data, ensure_ascii=False, indent=1, default=str) if role == "admin" else "",
    }


@dataclass(frozen=True)
class ConsentCell:
    channel: str
    purpose: str
    is_allowed: bool
    state: str  # granted | revoked | default
    source_channel: str
    changed_at: datetime | None
    wording: str

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def purpose_label(self) -> str:
        return PURPOSE_LABELS[self.purpose]

    @property
    def source_label(self) -> str:
        return channel_label(self.source_channel)


def consent_grid(states) -> list[dict]:
    """Every consent channel with its two purposes, recorded or not. Without a record, marketing is not allowed
    and service is (customers.selectors.consent_allows says the same)."""
    by_key = {(s.channel, s.purpose): s for s in states}
    rows = []
    for channel in CONSENT_CHANNELS:
        cells = []
        for purpose in CONSENT_PURPOSES:
            state = by_key.get((channel, purpose))
            if state is None:
                cell = ConsentCell(channel, purpose, purpose == Purpose.SERVICE, "default", "", None, "")
            else:
                cell = ConsentCell(
                    channel,
                    purpose,
                    state.is_granted,
                    "granted" if state.is_granted else "revoked",
                    state.source_channel,
                    state.changed_at,
                    state.wording,
                )
            cells.append(cell)
        rows.append({"channel": channel, "cells": cells})
    return rows


CONSENT_WORDING = {
    ("marketing", True): _("I agree to receive offers and news by %(channel)s."),
    ("marketing", False): _("I no longer want to receive offers and news by %(channel)s."),
    ("service", True): _("I agree to receive messages about my orders and requests by %(channel)s."),
    ("service", False): _("I no longer want to receive messages about my orders and requests by %(channel)s."),
}


def consent_wording(*, channel: str, purpose: str, is_granted: bool) -> str:
    """The sentence staff read out at the counter or on the phone, in the language of the page."""
    return str(CONSENT_WORDING[(purpose, is_granted)]) % {"channel": channel_label(channel)}


def compensation_label(compensation: dict | None) -> str:
    """ "Vale 15,00 € (PIZZA15)" ("Voucher 15.00 €" in English), "Reshipment", or "" when there is none: money as the
    timeline beside it writes it."""
    if not compensation or compensation.get("kind", "none") == "none":
        return ""
    parts = [str(wording.COMPENSATION_LABELS.get(compensation["kind"], compensation["kind"]))]
    if compensation.get("amount"):
        parts.append(wording.money_text(compensation["amount"], compensation.get("currency")))
    if compensation.get("code"):
        parts.append(f"({compensation['code']})")
    return " ".join(parts)
