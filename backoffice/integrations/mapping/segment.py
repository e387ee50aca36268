"""Segment HTTP Tracking API messages -> our interactions (the envelope POST /api/v1/events takes).

Pure translation, no database: `translate` turns one message into an interaction dict, or raises MessageRefused
naming every field that is wrong, with Segment's field names. The table of docs/integrations.md is the `TRACK`
mapping below plus identify, alias, page, screen and group.

Spec points kept:
- `messageId` is the idempotency key: the event id derives from the source and it, so a resent message is the same
  event. A message without one gets an id derived from its content (a resend of identical bytes is still one event).
- Clock skew: with `sentAt` (the message's or the batch's) and the device's time (`originalTimestamp`, else
  `timestamp`), the event happened at receivedAt - (sentAt - originalTimestamp): the device clock's error cancels.
  Without `sentAt` the given time stands; without any, the time we received it.
- `context` goes to metadata without personal data: the IP address as its network, no device or advertising ids.
"""

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import orjson

from backoffice.eventstore.store import nul_character_path
from customers.events import (
    CheckoutStarted,
    ContentShared,
    CouponApplied,
    CustomerAliased,
    CustomerIdentified,
    CustomEvent,
    PageViewed,
    ProductViewed,
    ReviewPosted,
    SearchPerformed,
    WishlistItemAdded,
)
from orders.events import CartCheckedOut, CartItemAdded, CartItemRemoved

KINDS = ("identify", "track", "page", "screen", "alias", "group")
NAMESPACE = uuid.UUID("6f1c0a52-3c1e-4a8e-9a39-4f2d1d5f0b7e")
MAX_MESSAGE_BYTES = 32 * 1024
CENT = Decimal("0.01")
# Quantities are integers below this: a larger one could not be written (orjson and the store take 64 bits). In an
# Order Completed's lines it stays as sent, for the orders service to refuse and the dead-letter list to keep.
QUANTITY_LIMIT = 2**63
# Identity traits: they become identifiers and the profile's name; the other traits stay on the identify event.
IDENTITY_TRAITS = ("email", "phone", "name", "firstName", "lastName", "first_name", "last_name")


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str
    code: str


class MessageRefused(Exception):
    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


@dataclass(frozen=True)
class Source:
    id: uuid.UUID
    name: str
    channel: str
    user_id_system: str


# Segment e-commerce spec v2 event name (lower case) -> our type. Anything else is a `custom.event`.
TRACK = {
    "products searched": SearchPerformed.type_name,
    "product list viewed": PageViewed.type_name,
    "product list filtered": PageViewed.type_name,
    "product clicked": ProductViewed.type_name,
    "product viewed": ProductViewed.type_name,
    "product added": CartItemAdded.type_name,
    "product removed": CartItemRemoved.type_name,
    "cart viewed": PageViewed.type_name,
    "checkout started": CheckoutStarted.type_name,
    "order completed": CartCheckedOut.type_name,
    "coupon applied": CouponApplied.type_name,
    "product reviewed": ReviewPosted.type_name,
    "product shared": ContentShared.type_name,
    "product added to wishlist": WishlistItemAdded.type_name,
    "wishlist product added": WishlistItemAdded.type_name,
}


class _Reader:
    """Reads one message, collecting every problem instead of stopping at the first."""

    def __init__(self, message: dict):
        self.message = message
        self.problems: list[FieldProblem] = []

    def fail(self, field: str, message: str, code: str) -> None:
        self.problems.append(FieldProblem(field, message, code))

    def object(self, field: str, value: Any) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(field, "must be an object", "wrong_type")
            return {}
        return value

    def id(self, field: str, value: Any, *, max_length: int = 200) -> str | None:
        """Segment ids are strings; libraries also send numbers. Anything else is refused."""
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(field, "must be a string", "wrong_type")
            return None
        text = str(value).strip()
        if len(text) > max_length:
            self.fail(field, f"at most {max_length} characters", "too_long")
            return None
        return text or None

    def text(self, field: str, value: Any, *, max_length: int, default: str = "") -> str:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(field, "must be a string", "wrong_type")
            return default
        return str(value)[:max_length]

    def time(self, field: str, value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(field, "must be an ISO 8601 date-time string", "wrong_type")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(field, "is not an ISO 8601 date-time", "invalid_timestamp")
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def money(self, field: str, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(field, "must be a number", "wrong_type")
            return None
        try:
            amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
        except InvalidOperation:
            self.fail(field, "must be a number", "wrong_type")
            return None
        if not amount.is_finite():  # "NaN" passes quantize(), and NaN refuses every comparison
            self.fail(field, "must be a number", "wrong_type")
            return None
        if amount < 0:
            self.fail(field, "must be zero or more", "min_value")
            return None
        return str(amount)

    def count(self, field: str, value: Any, *, default: int = 1) -> int:
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "must be an integer", "wrong_type")
            return default
        if abs(value) >= QUANTITY_LIMIT:
            self.fail(field, "is out of range", "out_of_range")
            return default
        return value


def translate(
    message: Any,
    *,
    kind: str | None,
    source: Source,
    received_at: datetime,
    batch_sent_at: Any = None,
    batch_context: Any = None,
) -> dict:
    """One Segment message as an interaction for `interactions_ingest`. `kind`: the endpoint's call type (None for
    /v1/batch, where each message says its own `type`). Raises MessageRefused."""
    if not isinstance(message, dict):
        raise MessageRefused([FieldProblem("", "must be an object", "wrong_type")])
    r = _Reader(message)
    if kind is None:
        kind = message.get("type")
        if kind not in KINDS:
            r.fail("type", f"one of {', '.join(KINDS)}", "unknown_type")
            raise MessageRefused(r.problems)
    try:
        blob = orjson.dumps(message)
    except orjson.JSONEncodeError:
        # orjson reads 1024 levels of nesting but writes only 254: what it cannot write cannot be stored.
        raise MessageRefused([FieldProblem(_unwritable_field(message), "is nested too deeply", "too_deep")]) from None
    if len(blob) > MAX_MESSAGE_BYTES:
        raise MessageRefused(
            [FieldProblem("", f"the message is {len(blob)} bytes; at most {MAX_MESSAGE_BYTES}", "too_large")]
        )
    if b"\\u0000" in blob:
        # PostgreSQL can neither store nor compare text holding U+0000 (ids are looked up before anything is stored).
        where = nul_character_path(message) or ""
        raise MessageRefused([FieldProblem(where, "contains a NUL character (U+0000)", "null_character")])

    user_id = r.id("userId", message.get("userId"))
    anonymous_id = r.id("anonymousId", message.get("anonymousId"))
    if user_id is None and anonymous_id is None and not r.problems:
        r.fail("userId", "give userId or anonymousId", "required")
    message_id = r.id("messageId", message.get("messageId"))
    properties = r.object("properties", message.get("properties"))
    traits = r.object("traits", message.get("traits"))
    context = {**r.object("context", batch_context), **r.object("context", message.get("context"))}
    occurred_at = _occurred_at(r, message, batch_sent_at, received_at)

    customer: dict[str, Any] = {}
    if user_id:
        customer["external_id"] = {"system": source.user_id_system, "id": user_id}
    if anonymous_id:
        customer["anonymous_id"] = anonymous_id

    if kind == "identify":
        # RudderStack's SDKs send identify traits in context.traits, Segment's at the top: both count.
        context_traits = r.object("context.traits", context.get("traits"))
        type_name, data = CustomerIdentified.type_name, _identify(r, {**context_traits, **traits}, customer)
    elif kind == "alias":
        previous_id = r.id("previousId", message.get("previousId"))
        if previous_id is None:
            r.fail("previousId", "an alias needs the previous id", "required")
        if user_id is None:
            r.fail("userId", "an alias needs the new userId", "required")
        # The previous id is the one the person had before they identified: stitched like an anonymous id, unless
        # the source identified someone by it as a userId (services.tracking looks that up: this module reads no
        # database).
        customer.pop("anonymous_id", None)
        if previous_id:
            customer["anonymous_id"] = previous_id
        type_name, data = CustomerAliased.type_name, {"previous_id": previous_id or "-"}
    elif kind in ("page", "screen"):
        page = r.object("context.page", context.get("page"))
        name = r.text("name", message.get("name"), max_length=300)
        type_name = PageViewed.type_name
        data = {
            "url": r.text("properties.url", properties.get("url", page.get("url")), max_length=2000),
            "title": r.text("properties.title", properties.get("title", page.get("title")), max_length=300) or name,
            "referrer": r.text(
                "properties.referrer", properties.get("referrer", page.get("referrer")), max_length=2000
            ),
        }
        if kind == "screen":
            data["title"] = name or data["title"]
    elif kind == "group":
        group_id = r.id("groupId", message.get("groupId"))
        if group_id is None:
            r.fail("groupId", "a group call needs groupId", "required")
        type_name, data = (
            CustomEvent.type_name,
            {"name": "group", "properties": {"group_id": group_id, "traits": traits}},
        )
    else:
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            r.fail("event", "a track call needs the event name", "required" if event in (None, "") else "wrong_type")
            raise MessageRefused(r.problems)
        type_name, data = _track(r, event.strip(), properties, context, source, user_id, anonymous_id)

    if r.problems:
        raise MessageRefused(r.problems)
    if message_id is None:
        message_id = _content_id(message)
    metadata: dict[str, Any] = {"source_system": f"tracking:{source.name}"[:100], "trace_id": message_id[:200]}
    client = client_context(context)
    if client:
        metadata["context"] = client
    item = {
        "id": event_id(source, message_id),
        "type": type_name,
        "channel": source.channel,
        "occurred_at": occurred_at.isoformat(),
        "customer": customer,
        "data": data,
        "metadata": metadata,
    }
    if type_name == CartCheckedOut.type_name and data["order_id"]:
        # What a source that places orders (TrackingSource.order_location) needs; not part of the interaction.
        item[ORDER_KEY] = {"order_id": data["order_id"], "lines": order_lines(properties.get("products"))}
    return item


ORDER_KEY = "order"


def event_id(source: Source, message_id: str) -> str:
    """The id of the event a message becomes: the same messageId from the same source is the same event."""
    return str(uuid.uuid5(NAMESPACE, f"{source.id}:{message_id}"))


def _content_id(message: Any) -> str:
    return "content:" + hashlib.sha256(orjson.dumps(message, option=orjson.OPT_SORT_KEYS)).hexdigest()


def message_key(message: Any, *, source: Source) -> str:
    """The event id a message would have, for one `translate` refused (as far as it can be read): a resend of the
    same refused message has the same key."""
    given = message.get("messageId") if isinstance(message, dict) else None
    if isinstance(given, str | int) and not isinstance(given, bool) and str(given).strip():
        return event_id(source, str(given).strip()[:200])
    try:
        return event_id(source, _content_id(message))
    except orjson.JSONEncodeError:  # nested too deeply to write: it has no content id either
        return event_id(source, "unwritable")


def _unwritable_field(message: dict) -> str:
    """The top-level field orjson cannot write (too deep), or "" when only the whole message is."""
    for key, value in message.items():
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            return str(key)
    return ""


def _ascii_int(value: str) -> int | None:
    """A string of at most 20 ASCII digits as an int: str.isdigit() also says yes to "²", and int() refuses both it
    and a string over 4300 digits."""
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def order_lines(products: Any) -> list[dict]:
    """The spec's `products` of an Order Completed as order lines [{sku, quantity}], as sent: the orders service
    validates them (an unknown sku or a bad quantity keeps the order in the dead-letter list, never the event out)."""
    if not isinstance(products, list):
        return []
    lines = []
    for product in products:
        if not isinstance(product, dict):
            lines.append({"sku": None, "quantity": None})
            continue
        sku = product.get("sku") or product.get("product_id")
        quantity = product.get("quantity", 1)
        if isinstance(quantity, float) and quantity.is_integer() and abs(quantity) < QUANTITY_LIMIT:
            quantity = int(quantity)
        elif isinstance(quantity, str) and (number := _ascii_int(quantity)) is not None and number < QUANTITY_LIMIT:
            quantity = number
        lines.append({"sku": str(sku)[:64] if isinstance(sku, str | int) else None, "quantity": quantity})
    return lines


def _occurred_at(r: _Reader, message: dict, batch_sent_at: Any, received_at: datetime) -> datetime:
    original = r.time("originalTimestamp", message.get("originalTimestamp"))
    timestamp = r.time("timestamp", message.get("timestamp"))
    sent_at = r.time("sentAt", message.get("sentAt")) or r.time("sentAt", batch_sent_at)
    device_time = original or timestamp
    if device_time is None:
        return received_at
    if sent_at is None:
        occurred = device_time
    else:
        try:
            occurred = received_at - (sent_at - device_time)
        except OverflowError:
            # Only a date at an end of the calendar gets here; nearer ones are refused by the store's time range.
            r.fail(
                "sentAt", "is too far from the device's time: the corrected time leaves the calendar", "out_of_range"
            )
            return received_at
    # Still ahead of our clock (a sentAt older than the event): it cannot have happened later than it arrived.
    return min(occurred, received_at)


def _identify(r: _Reader, traits: dict, customer: dict) -> dict:
    for kind in ("email", "phone"):
        value = r.id(f"traits.{kind}", traits.get(kind), max_length=254)
        if value:
            customer[kind] = value
    first = traits.get("firstName", traits.get("first_name"))
    last = traits.get("lastName", traits.get("last_name"))
    name = r.text("traits.name", traits.get("name"), max_length=200)
    if not name and (first or last):
        name = " ".join(
            r.text(f"traits.{field}", value, max_length=100)
            for field, value in (("firstName", first), ("lastName", last))
            if value
        )
    if name.strip():
        customer["name"] = name.strip()[:200]
    return {"traits": {key: value for key, value in traits.items() if key not in IDENTITY_TRAITS}}


def _cart_id(properties: dict, r: _Reader, source: Source, user_id: str | None, anonymous_id: str | None) -> str:
    """The spec's cart_id, or one per person and source: the SDKs send cart events without one."""
    given = r.id("properties.cart_id", properties.get("cart_id"), max_length=64)
    if given:
        return given
    person = anonymous_id or user_id or ""
    return "sdk-" + hashlib.sha256(f"{source.id}:{person}".encode()).hexdigest()[:32]


def _sku(r: _Reader, properties: dict, *, required: bool = True) -> str:
    sku = r.id("properties.sku", properties.get("sku"), max_length=64) or r.id(
        "properties.product_id", properties.get("product_id"), max_length=64
    )
    if sku is None and required:
        r.fail("properties.product_id", "give the product's sku or product_id", "required")
    return sku or ""


def _track(
    r: _Reader, event: str, properties: dict, context: dict, source: Source, user_id, anonymous_id
) -> tuple[str, dict]:
    type_name = TRACK.get(" ".join(event.lower().split()))
    if type_name is None:
        return CustomEvent.type_name, {"name": event[:200], "properties": properties}
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    url = r.text("properties.url", properties.get("url", page.get("url")), max_length=2000)
    if type_name == SearchPerformed.type_name:
        return type_name, {"query": r.text("properties.query", properties.get("query"), max_length=500)}
    if type_name == PageViewed.type_name:
        title = properties.get("category") or properties.get("list_id") or event
        return type_name, {"url": url, "title": r.text("properties.category", title, max_length=300)}
    if type_name == ProductViewed.type_name:
        return type_name, {"sku": _sku(r, properties), "url": url}
    if type_name in (CartItemAdded.type_name, CartItemRemoved.type_name):
        data: dict[str, Any] = {
            "cart_id": _cart_id(properties, r, source, user_id, anonymous_id),
            "sku": _sku(r, properties),
            "quantity": r.count("properties.quantity", properties.get("quantity")),
        }
        if type_name == CartItemAdded.type_name:
            data["unit_price"] = r.money("properties.price", properties.get("price")) or "0.00"
            data["currency"] = r.text("properties.currency", properties.get("currency"), max_length=3).upper() or "EUR"
        return type_name, data
    if type_name == CheckoutStarted.type_name:
        data = {
            "cart_id": _cart_id(properties, r, source, user_id, anonymous_id),
            "order_id": r.id("properties.order_id", properties.get("order_id"), max_length=64) or "",
            "currency": r.text("properties.currency", properties.get("currency"), max_length=3).upper() or "EUR",
        }
        value = r.money("properties.value", properties.get("value", properties.get("revenue")))
        if value is not None:
            data["value"] = value
        return type_name, data
    if type_name == CartCheckedOut.type_name:
        # The cart is closed (no reminder); the order itself comes from the shop's webhook or POST /api/v1/orders.
        return type_name, {
            "cart_id": _cart_id(properties, r, source, user_id, anonymous_id),
            "order_id": r.id("properties.order_id", properties.get("order_id"), max_length=64) or "",
        }
    if type_name == CouponApplied.type_name:
        code = r.id("properties.coupon_id", properties.get("coupon_id")) or r.id(
            "properties.coupon_name", properties.get("coupon_name")
        )
        if code is None:
            r.fail("properties.coupon_id", "give coupon_id or coupon_name", "required")
        data = {
            "code": (code or "-")[:64],
            "cart_id": r.id("properties.cart_id", properties.get("cart_id"), max_length=64) or "",
            "order_id": r.id("properties.order_id", properties.get("order_id"), max_length=64) or "",
        }
        discount = r.money("properties.discount", properties.get("discount"))
        if discount is not None:
            data["discount"] = discount
        return type_name, data
    if type_name == ReviewPosted.type_name:
        review = {
            "sku": _sku(r, properties),
            "text": r.text("properties.review_body", properties.get("review_body"), max_length=4000),
        }
        if properties.get("rating") not in (None, ""):  # optional in Segment's spec: a review without stars
            review["rating"] = _rating(r, properties.get("rating"))
        return type_name, review
    if type_name == ContentShared.type_name:
        return type_name, {
            "sku": _sku(r, properties, required=False),
            "url": r.text("properties.share_url", properties.get("share_url", url), max_length=2000),
            "network": r.text("properties.share_via", properties.get("share_via"), max_length=40),
        }
    # wishlist.item_added
    return type_name, {
        "sku": _sku(r, properties),
        "wishlist_id": r.id("properties.wishlist_id", properties.get("wishlist_id"), max_length=64) or "",
    }


def _rating(r: _Reader, value: Any) -> int:
    """Stars from 1 to 5, as a number or a numeric string ("4", "4.0", 4.5); `review.posted` keeps whole stars, so a
    fraction is rounded half up (4.5 is 5)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        r.fail("properties.rating", "a rating from 1 to 5", "wrong_type")
        return 1
    text = str(value).strip()
    # At most a few characters: Decimal reads any length, and a rating needs no more than "4.5" or "5.00".
    try:
        stars = Decimal(text) if text.isascii() and len(text) <= 20 else None
    except InvalidOperation:
        stars = None
    if stars is None or not stars.is_finite():
        r.fail("properties.rating", "a rating from 1 to 5", "wrong_type")
        return 1
    if not 1 <= stars <= 5:
        r.fail("properties.rating", "a rating from 1 to 5", "out_of_range")
        return 1
    return int(stars.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _short(value: Any, length: int = 200) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:length]


def _pick(value: Any, keys: tuple[str, ...]) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    picked = {key: text for key in keys if (text := _short(value.get(key))) is not None}
    return picked or None


def client_context(context: dict) -> dict:
    """The parts of a Segment `context` kept in metadata (no personal data in clear)."""
    kept: dict[str, Any] = {}
    network = ip_network(context.get("ip"))
    if network:
        kept["ip_network"] = network
    for ours, theirs, length in (
        ("user_agent", "userAgent", 500),
        ("locale", "locale", 35),
        ("timezone", "timezone", 64),
    ):
        value = _short(context.get(theirs), length)
        if value:
            kept[ours] = value
    campaign = _pick(context.get("campaign"), ("source", "medium", "name", "term", "content"))
    if campaign:
        kept["campaign"] = campaign
    for ours, keys in (
        ("app", ("name", "version", "build", "namespace")),
        ("device", ("type", "manufacturer", "model")),
        ("os", ("name", "version")),
        ("library", ("name", "version")),
    ):
        picked = _pick(context.get(ours), keys)
        if picked:
            kept[ours] = picked
    return kept


def ip_network(value: Any) -> str | None:
    """An IP address as its network: the last IPv4 octet and the last 80 IPv6 bits zeroed (not personal alone)."""
    if not isinstance(value, str):
        return None
    return _network(value)


@lru_cache(maxsize=4096)
def _network(value: str) -> str | None:
    # Cached: a batch usually comes from a few addresses, and parsing one costs more than the rest of the context.
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
