"""How the product says things to staff: channel names and colours, consent purposes, identifier kinds, and the one
sentence of each event type in a customer's timeline ("Pedido DEMO-00142 realizado en la app · 134,70 €"). The one
owner of those words: the staff pages and the admin both read them, so a type reads the same everywhere.

It lives with the customers app because the timeline is the customer's, and the admin of customers (a lower layer
than the staff pages) reads it too. Event types are named by their EventData classes, but those of the orders app (a
layer above) by their type names only, as the customer 360 projection knows them (tests/customers hold those
declared). Plain functions over event data: nothing here reads the database."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from backoffice.eventstore.vocabulary import (  # noqa: F401 - the shared words' labels, read here by their old name
    CHANNEL_LABELS,
    FULFILMENT_LABELS,
    PURPOSE_LABELS,
    SUPPRESSION_REASONS,
    Channel,
)
from backoffice.messaging import events as message_events

from . import events as customer_events
from .vocabulary import IdentifierKind

# One colour per channel, the same in every chart, icon and badge (staff.css's .channel--<code> uses these values).
CHANNEL_COLOURS = {
    Channel.WEB: "#2563eb",
    Channel.APP: "#7c3aed",
    Channel.STORE: "#b45309",
    Channel.PHONE: "#0f766e",
    Channel.EMAIL: "#be185d",
    Channel.SMS: "#0369a1",
    Channel.WHATSAPP: "#15803d",
    Channel.FACEBOOK: "#1e3a8a",
    Channel.INSTAGRAM: "#c026d3",
    Channel.PUSH: "#c2410c",
}
NO_CHANNEL_COLOUR = "#6b7280"


IDENTIFIER_LABELS = {
    IdentifierKind.EMAIL: gettext_lazy("Email"),
    IdentifierKind.PHONE: gettext_lazy("Phone"),
    IdentifierKind.LOYALTY_CARD: gettext_lazy("Loyalty card"),
    IdentifierKind.EXTERNAL: gettext_lazy("External id"),
    IdentifierKind.FACEBOOK_ID: gettext_lazy("Facebook"),
    IdentifierKind.INSTAGRAM_ID: gettext_lazy("Instagram"),
    IdentifierKind.ANONYMOUS_ID: gettext_lazy("Anonymous web/app id"),
}

# Event types, as staff name them (filters, titles). An unknown type reads as "Other activity".
EVENT_LABELS = {
    customer_events.CustomerRegistered.type_name: gettext_lazy("Became a customer"),
    customer_events.CustomerIdentifierAdded.type_name: gettext_lazy("New contact detail"),
    customer_events.CustomerProfileUpdated.type_name: gettext_lazy("Profile updated"),
    customer_events.CustomerAddressUndeliverable.type_name: gettext_lazy("Contact detail not working"),
    customer_events.CustomerIdentified.type_name: gettext_lazy("Identified"),
    customer_events.CustomerAliased.type_name: gettext_lazy("Identified"),
    customer_events.CustomerMerged.type_name: gettext_lazy("Records merged"),
    customer_events.CustomerUnmerged.type_name: gettext_lazy("Records separated"),
    customer_events.CustomerErased.type_name: gettext_lazy("Personal data erased"),
    customer_events.CustomerExported.type_name: gettext_lazy("Personal data handed out"),
    customer_events.ConsentGranted.type_name: gettext_lazy("Consent given"),
    customer_events.ConsentRevoked.type_name: gettext_lazy("Consent withdrawn"),
    customer_events.PageViewed.type_name: gettext_lazy("Viewed a page"),
    customer_events.ProductViewed.type_name: gettext_lazy("Viewed a product"),
    customer_events.SearchPerformed.type_name: gettext_lazy("Searched"),
    customer_events.AppOpened.type_name: gettext_lazy("Opened the app"),
    customer_events.StoreVisited.type_name: gettext_lazy("Visited a store"),
    customer_events.CallReceived.type_name: gettext_lazy("Phone call"),
    customer_events.MessageReceived.type_name: gettext_lazy("Message received"),
    customer_events.ReviewPosted.type_name: gettext_lazy("Posted a review"),
    customer_events.ContentShared.type_name: gettext_lazy("Shared"),
    customer_events.CheckoutStarted.type_name: gettext_lazy("Started checkout"),
    customer_events.CouponApplied.type_name: gettext_lazy("Applied a coupon"),
    customer_events.WishlistItemAdded.type_name: gettext_lazy("Added to wishlist"),
    customer_events.CustomEvent.type_name: gettext_lazy("Other activity"),
    # The orders app's types, by name (a layer above).
    "cart.item_added": gettext_lazy("Added to cart"),
    "cart.item_removed": gettext_lazy("Removed from cart"),
    "cart.checked_out": gettext_lazy("Checked out"),
    "cart.abandoned": gettext_lazy("Cart abandoned"),
    "order.placed": gettext_lazy("Order placed"),
    "order.paid": gettext_lazy("Order paid"),
    "order.ready": gettext_lazy("Order ready for pickup"),
    "order.collected": gettext_lazy("Order collected"),
    "order.shipped": gettext_lazy("Order shipped"),
    "order.delivered": gettext_lazy("Order delivered"),
    "order.cancelled": gettext_lazy("Order cancelled"),
    "order.returned": gettext_lazy("Order returned"),
    message_events.MessageQueued.type_name: gettext_lazy("Message queued"),
    message_events.MessageSent.type_name: gettext_lazy("Message sent"),
    message_events.MessageDeferred.type_name: gettext_lazy("Message postponed"),
    message_events.MessageFailed.type_name: gettext_lazy("Message failed"),
    message_events.MessageSuppressed.type_name: gettext_lazy("Message not sent"),
    message_events.MessageDelivered.type_name: gettext_lazy("Message delivered"),
    message_events.MessageRead.type_name: gettext_lazy("Message read"),
    message_events.MessageClicked.type_name: gettext_lazy("Link clicked"),
    message_events.MessageBounced.type_name: gettext_lazy("Message bounced"),
    message_events.MessageUnsubscribed.type_name: gettext_lazy("Unsubscribed"),
    message_events.MessageComplained.type_name: gettext_lazy("Marked as spam"),
    message_events.MessageDelayed.type_name: gettext_lazy("Message delayed"),
    message_events.MessageReacted.type_name: gettext_lazy("Reacted to a message"),
    customer_events.CaseOpened.type_name: gettext_lazy("Case opened"),
    customer_events.CaseMessageAdded.type_name: gettext_lazy("Case message"),
    customer_events.CaseResolved.type_name: gettext_lazy("Case resolved"),
    customer_events.CaseCsatRecorded.type_name: gettext_lazy("Satisfaction survey answered"),
}

COMPENSATION_LABELS = {
    "none": gettext_lazy("No compensation"),
    "voucher": gettext_lazy("Voucher"),
    "refund": gettext_lazy("Refund"),
    "reshipment": gettext_lazy("Reshipment"),
}


def channel_label(channel: str | None) -> str:
    return str(CHANNEL_LABELS.get(channel or "", channel or ""))


def channel_colour(channel: str | None) -> str:
    return CHANNEL_COLOURS.get(channel or "", NO_CHANNEL_COLOUR)


def event_label(event_type: str) -> str:
    return str(EVENT_LABELS.get(event_type, EVENT_LABELS[customer_events.CustomEvent.type_name]))


def money_text(amount, currency: str | None = "EUR") -> str:
    """134,70 € in Spanish, 134.70 € in English; "" when there is no amount."""
    if amount in (None, ""):
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    symbol = "€" if (currency or "EUR") == "EUR" else currency
    return f"{number_format(value, 2, use_l10n=True, force_grouping=True)} {symbol}"


def local_time_text(moment: datetime | str | None) -> str:
    """A moment in the server's local time, as the page's language writes it ("6 dic 2026, 09:15")."""
    if isinstance(moment, str):
        moment = parse_datetime(moment)
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "j M Y, H:i")


def _quote(text, limit: int = 90) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        return ""
    return "«" + (text if len(text) <= limit else text[: limit - 1] + "…") + "»"


def compensation_text(compensation: dict | None) -> str:
    """ "Voucher 15,00 € (PIZZA15)", "Reshipment", or "" when there is none."""
    if not compensation or compensation.get("kind", "none") == "none":
        return ""
    parts = [str(COMPENSATION_LABELS.get(compensation["kind"], compensation["kind"]))]
    if compensation.get("amount"):
        parts.append(money_text(compensation["amount"], compensation.get("currency")))
    if compensation.get("code"):
        parts.append(f"({compensation['code']})")
    return " ".join(parts)


@dataclass(frozen=True)
class Story:
    """One timeline line: the sentence, and what it belongs to (each page links those its own way)."""

    text: str
    refs: dict = field(default_factory=dict)  # order, case, campaign: ids


def _refs(data: dict) -> dict:
    return {kind: str(data[f"{kind}_id"]) for kind in ("order", "case", "campaign") if data.get(f"{kind}_id")}


def _join(*parts) -> str:
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def _saying(sentence: str, quote: str) -> str:
    """ "Mensaje recibido por WhatsApp: «¿Puedo cambiarla…»" """
    return f"{sentence}: {quote}" if quote else sentence


def _message_sentence(event_type: str, data: dict, channel: str) -> str:
    get = data.get
    by = {"channel": channel}
    content = get("content") if isinstance(get("content"), dict) else {}
    gist = _quote(content.get("subject") or content.get("title") or content.get("text") or content.get("body"))
    sentences = {
        customer_events.MessageReceived.type_name: lambda: _saying(
            _("Message received by %(channel)s") % by, _quote(get("subject") or get("text"))
        ),
        message_events.MessageQueued.type_name: lambda: _saying(_("Message prepared for %(channel)s") % by, gist),
        message_events.MessageSent.type_name: lambda: _("Message sent by %(channel)s") % by,
        message_events.MessageDeferred.type_name: lambda: _join(
            _("Message postponed for quiet hours"),
            _("goes out at %(time)s") % {"time": local_time_text(get("until"))} if get("until") else "",
        ),
        message_events.MessageFailed.type_name: lambda: _join(
            _("Message by %(channel)s could not be sent") % by,
            _("given up") if get("terminal") else _("will be retried"),
        ),
        message_events.MessageSuppressed.type_name: lambda: (
            _("Message by %(channel)s not sent: %(reason)s")
            % {"channel": channel, "reason": SUPPRESSION_REASONS.get(get("reason"), get("reason") or "")}
        ),
        message_events.MessageDelivered.type_name: lambda: _("Message delivered by %(channel)s") % by,
        message_events.MessageRead.type_name: lambda: _("Message opened (%(channel)s)") % by,
        message_events.MessageClicked.type_name: lambda: _join(
            _("Link clicked in a message (%(channel)s)") % by, get("url")
        ),
        message_events.MessageBounced.type_name: lambda: (
            _("Message by %(channel)s bounced: the address does not accept it") % by
        ),
        message_events.MessageUnsubscribed.type_name: lambda: _("Unsubscribed from messages by %(channel)s") % by,
        message_events.MessageComplained.type_name: lambda: _("Marked an email as spam: no more offers by email"),
        message_events.MessageDelayed.type_name: lambda: (
            _("Delivery by %(channel)s delayed by the provider; it keeps trying") % by
        ),
        message_events.MessageReacted.type_name: lambda: _join(
            _("Reacted to a message (%(channel)s)") % by, get("emoji")
        ),
    }
    sentence = sentences.get(event_type)
    return sentence() if sentence else _("Message update (%(channel)s)") % by


def _order_sentence(event_type: str, data: dict, channel: str) -> str:
    get = data.get
    order = get("order_id") or ""
    where = get("location") or (get("fulfilment") or {}).get("location") or ""
    if event_type == "order.placed":
        return _join(
            _("Order %(order)s placed on %(channel)s") % {"order": order, "channel": channel},
            money_text(get("total"), get("currency")),
        )
    if event_type == "order.paid":
        return _join(_("Order %(order)s paid") % {"order": order}, money_text(get("amount"), get("currency")))
    if event_type == "order.ready":
        return _("Order %(order)s ready for pickup at %(location)s") % {"order": order, "location": where}
    if event_type == "order.collected":
        return _("Order %(order)s collected at %(location)s") % {"order": order, "location": where}
    if event_type == "order.shipped":
        return _("Order %(order)s shipped") % {"order": order}
    if event_type == "order.delivered":
        return _("Order %(order)s delivered") % {"order": order}
    if event_type == "order.cancelled":
        return _join(_("Order %(order)s cancelled") % {"order": order}, get("reason"))
    if event_type == "order.returned":
        return _join(
            _("Order %(order)s returned at %(location)s") % {"order": order, "location": where or channel},
            _("refund %(amount)s") % {"amount": money_text(get("refund_amount"), get("currency"))}
            if get("refund_amount")
            else "",
        )
    return event_label(event_type)


def _cart_sentence(event_type: str, data: dict, channel: str) -> str:
    get = data.get
    if event_type in ("cart.item_added", "cart.item_removed"):
        what = {"quantity": get("quantity") or 1, "sku": get("sku") or ""}
        if event_type == "cart.item_added":
            return _join(
                _("Added %(quantity)s × %(sku)s to the cart") % what, money_text(get("unit_price"), get("currency"))
            )
        return _("Removed %(quantity)s × %(sku)s from the cart") % what
    if event_type == "cart.checked_out":
        return _("Checked out the cart: order %(order)s") % {"order": get("order_id") or ""}
    items = sum(int(item.get("quantity") or 0) for item in get("items") or [] if isinstance(item, dict))
    left = ngettext("Left a cart with %(count)s item", "Left a cart with %(count)s items", items) % {"count": items}
    if get("reminder_message_id"):
        return _join(left, _("reminder sent by %(channel)s") % {"channel": channel_label(get("reminder_channel"))})
    return _join(left, _("no reminder") if get("reminder_skipped") else "")


def _case_sentence(event_type: str, data: dict) -> str:
    get = data.get
    if event_type == customer_events.CaseOpened.type_name:
        return _saying(_("Case opened"), _quote(get("subject")))
    if event_type == customer_events.CaseMessageAdded.type_name:
        said = _("We replied on the case") if get("direction") == "out" else _("The customer wrote on the case")
        return _saying(said, _quote(get("text")))
    if event_type == customer_events.CaseResolved.type_name:
        return _join(_("Case resolved"), _quote(get("resolution")), compensation_text(get("compensation")))
    return _join(_("Rated the service %(score)s out of 5") % {"score": get("score") or "?"}, _quote(get("comment")))


def event_sentence(event_type: str, data: dict, channel: str | None) -> Story:
    """The one sentence that says what the event means, in the active language."""
    data = data if isinstance(data, dict) else {}
    get = data.get
    where = channel_label(channel) or _("no channel")
    refs = _refs(data)
    family = event_type.split(".", 1)[0]
    if event_type.startswith("message."):
        text = _message_sentence(event_type, data, where)
    elif family == "order":
        text = _order_sentence(event_type, data, where)
    elif family == "cart":
        text = _cart_sentence(event_type, data, where)
    elif family == "case":
        text = _case_sentence(event_type, data)
    elif family == "consent":
        said = _("Consent given") if event_type == customer_events.ConsentGranted.type_name else _("Consent withdrawn")
        text = _join(
            said,
            _("%(purpose)s by %(channel)s")
            % {
                "purpose": PURPOSE_LABELS.get(get("purpose"), get("purpose") or ""),
                "channel": channel_label(get("channel")),
            },
            _("recorded at %(source)s") % {"source": channel_label(get("source_channel"))}
            if get("source_channel")
            else "",
        )
    else:
        text = _other_sentence(event_type, data, where)
    return Story(text, refs)


def _other_sentence(event_type: str, data: dict, where: str) -> str:
    get = data.get
    identifier = get("identifier") if isinstance(get("identifier"), dict) else {}
    sentences = {
        customer_events.CustomerRegistered.type_name: lambda: (
            _("Became a customer on %(channel)s") % {"channel": where}
        ),
        customer_events.CustomerIdentifierAdded.type_name: lambda: _join(
            _("New contact detail"), IDENTIFIER_LABELS.get(identifier.get("kind"), "")
        ),
        customer_events.CustomerProfileUpdated.type_name: lambda: _("Profile updated"),
        customer_events.CustomerAddressUndeliverable.type_name: lambda: _join(
            _("A contact detail stopped working"), IDENTIFIER_LABELS.get(identifier.get("kind"), ""), get("reason")
        ),
        customer_events.CustomerIdentified.type_name: lambda: _("Identified on %(channel)s") % {"channel": where},
        customer_events.CustomerAliased.type_name: lambda: _("Identified on %(channel)s") % {"channel": where},
        customer_events.CustomerMerged.type_name: lambda: _(
            "Records merged: another profile of the same person joined this one"
        ),
        customer_events.CustomerUnmerged.type_name: lambda: _("Records separated again"),
        customer_events.CustomerErased.type_name: lambda: _("Personal data erased on request"),
        customer_events.CustomerExported.type_name: lambda: _("Personal data handed out (export)"),
        customer_events.PageViewed.type_name: lambda: _join(
            _("Viewed a page on %(channel)s") % {"channel": where}, _quote(get("title") or get("url"))
        ),
        customer_events.ProductViewed.type_name: lambda: (
            _("Viewed product %(sku)s on %(channel)s") % {"sku": get("sku") or "", "channel": where}
        ),
        customer_events.SearchPerformed.type_name: lambda: (
            _("Searched %(query)s (%(count)s results)")
            % {"query": _quote(get("query")), "count": get("results_count") or 0}
        ),
        customer_events.AppOpened.type_name: lambda: _join(_("Opened the app"), get("screen")),
        customer_events.StoreVisited.type_name: lambda: _join(
            _("Visited store %(location)s") % {"location": get("location") or ""},
            _("%(minutes)s min") % {"minutes": get("minutes")} if get("minutes") else "",
        ),
        customer_events.CallReceived.type_name: lambda: _join(
            _("Phone call"), get("reason"), _("%(minutes)s min") % {"minutes": round((get("seconds") or 0) / 60)}
        ),
        customer_events.ReviewPosted.type_name: lambda: _join(
            _("Posted a review") + (" " + "★" * int(get("rating") or 0) if get("rating") else ""),
            get("sku") or get("location"),
            _quote(get("text")),
        ),
        customer_events.ContentShared.type_name: lambda: _join(
            _("Shared on %(network)s") % {"network": get("network") or where}, get("sku") or get("url")
        ),
        customer_events.CheckoutStarted.type_name: lambda: _join(
            _("Started checkout on %(channel)s") % {"channel": where}, money_text(get("value"), get("currency"))
        ),
        customer_events.CouponApplied.type_name: lambda: _("Applied coupon %(code)s") % {"code": get("code") or ""},
        customer_events.WishlistItemAdded.type_name: lambda: (
            _("Added %(sku)s to the wishlist") % {"sku": get("sku") or ""}
        ),
        customer_events.CustomEvent.type_name: lambda: _join(_("Other activity"), get("name")),
    }
    if event_type in sentences:
        return sentences[event_type]()
    return _("Other activity on %(channel)s") % {"channel": where}
