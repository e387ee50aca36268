"""How staff pages say things: labels for channels, identifiers and event types, one-line summaries of events,
the consent grid, and the timeline's keyset cursor. Plain functions over what the selectors return."""

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from django.utils.translation import gettext_lazy as _

from customers.events import ConsentChannel, ConsentPurpose
from customers.timeline_cursor import BadCursor, cursor_decode, cursor_encode  # noqa: F401 - the API's cursor

CONSENT_CHANNELS: tuple[str, ...] = ConsentChannel.__args__
CONSENT_PURPOSES: tuple[str, ...] = ConsentPurpose.__args__

CHANNEL_LABELS = {
    "web": _("Web"),
    "app": _("App"),
    "store": _("Store"),
    "phone": _("Phone"),
    "email": _("Email"),
    "sms": _("SMS"),
    "whatsapp": _("WhatsApp"),
    "facebook": _("Facebook"),
    "instagram": _("Instagram"),
    "push": _("Push notification"),
}

PURPOSE_LABELS = {"marketing": _("Offers and news"), "service": _("Orders and service")}

IDENTIFIER_LABELS = {
    "email": _("Email"),
    "phone": _("Phone"),
    "loyalty_card": _("Loyalty card"),
    "external": _("External id"),
    "facebook_id": _("Facebook"),
    "instagram_id": _("Instagram"),
    "anonymous_id": _("Anonymous web/app id"),
}

# Event types, as staff say them. Types from apps still being built are named ahead; an unknown type shows as is.
EVENT_LABELS = {
    "customer.registered": _("Became a customer"),
    "customer.identifier_added": _("New contact detail"),
    "customer.merged": _("Records merged"),
    "customer.unmerged": _("Records separated"),
    "customer.erased": _("Personal data erased"),
    "customer.exported": _("Personal data handed out"),
    "consent.granted": _("Consent given"),
    "consent.revoked": _("Consent withdrawn"),
    "page.viewed": _("Viewed a page"),
    "product.viewed": _("Viewed a product"),
    "search.performed": _("Searched"),
    "app.opened": _("Opened the app"),
    "store.visited": _("Visited a store"),
    "call.received": _("Phone call"),
    "message.received": _("Message received"),
    "review.posted": _("Posted a review"),
    "content.shared": _("Shared"),
    "cart.item_added": _("Added to cart"),
    "cart.item_removed": _("Removed from cart"),
    "cart.checked_out": _("Checked out"),
    "cart.abandoned": _("Cart abandoned"),
    "order.placed": _("Order placed"),
    "order.paid": _("Order paid"),
    "order.ready_for_pickup": _("Order ready for pickup"),
    "order.collected": _("Order collected"),
    "order.shipped": _("Order shipped"),
    "order.delivered": _("Order delivered"),
    "order.cancelled": _("Order cancelled"),
    "order.returned": _("Order returned"),
    "message.queued": _("Message queued"),
    "message.sent": _("Message sent"),
    "message.failed": _("Message failed"),
    "message.suppressed": _("Message not sent"),
    "message.delivered": _("Message delivered"),
    "message.read": _("Message read"),
    "message.clicked": _("Link clicked"),
    "case.opened": _("Case opened"),
    "case.message_added": _("Case message"),
    "case.resolved": _("Case resolved"),
    "case.csat_answered": _("Satisfaction survey answered"),
}


def channel_label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", channel or "")


def event_label(event_type: str) -> str:
    return EVENT_LABELS.get(event_type, event_type)


def identifier_value(kind: str, value: str) -> str:
    """Phones as people read them (+34 600 11 12 22); everything else as stored."""
    if kind != "phone":
        return value
    try:
        return phonenumbers.format_number(phonenumbers.parse(value), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return value


def _shorten(text, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_summary(event_type: str, data: dict) -> str:
    """One line of what happened, from the fields that say most; empty when there is nothing to add."""
    get = data.get
    if event_type.startswith("consent."):
        return f"{PURPOSE_LABELS.get(get('purpose'), get('purpose'))} · {channel_label(get('channel'))}"
    if event_type.startswith("cart.item_"):
        price = f" · {get('unit_price')} {get('currency', 'EUR')}" if get("unit_price") else ""
        return f"{get('quantity', '')} × {get('sku', '')}{price}"
    if event_type == "review.posted":
        stars = "★" * int(get("rating") or 0)
        return _shorten(" ".join(filter(None, [stars, get("sku") or get("location"), get("text")])))
    if event_type == "search.performed":
        return _shorten(f"«{get('query', '')}» ({get('results_count', 0)})")
    if event_type == "product.viewed":
        return str(get("sku", ""))
    if event_type == "page.viewed":
        return _shorten(get("title") or get("url") or "")
    if event_type in ("store.visited", "call.received"):
        minutes = get("minutes") if event_type == "store.visited" else round((get("seconds") or 0) / 60)
        what = get("location") if event_type == "store.visited" else get("reason")
        return _shorten(" · ".join(filter(None, [what, f"{minutes} min" if minutes else ""])))
    if event_type == "customer.identifier_added":
        identifier = get("identifier")
        return str(IDENTIFIER_LABELS.get(identifier.get("kind"), "")) if isinstance(identifier, dict) else ""
    preferred = ("subject", "text", "reason", "title", "url", "sku", "location", "screen", "network", "order_id")
    parts = [str(get(key)) for key in preferred if get(key) not in (None, "")]
    return _shorten(" · ".join(parts[:2]))


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
                cell = ConsentCell(channel, purpose, purpose == "service", "default", "", None, "")
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

COMPENSATION_LABELS = {
    "none": _("No compensation"),
    "voucher": _("Voucher"),
    "refund": _("Refund"),
    "reshipment": _("Reshipment"),
}


def compensation_label(compensation: dict | None) -> str:
    """ "Voucher 15.00 EUR (PIZZA15)", "Reshipment", or "" when there is none."""
    if not compensation or compensation.get("kind", "none") == "none":
        return ""
    parts = [str(COMPENSATION_LABELS.get(compensation["kind"], compensation["kind"]))]
    if compensation.get("amount"):
        parts.append(f"{compensation['amount']} {compensation.get('currency', 'EUR')}")
    if compensation.get("code"):
        parts.append(f"({compensation['code']})")
    return " ".join(parts)
