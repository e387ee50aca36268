"""Event types written by the customers app: identities, and the interactions other systems send in.

Interactions are `ingestible`: POST /api/v1/events accepts them. Personal fields (identifiers, free text) are
sealed with the customer's key by the event store.
"""

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from backoffice.eventstore.schema import EventData

IdentifierKind = Literal["email", "phone", "loyalty_card", "external", "facebook_id", "instagram_id", "anonymous_id"]


class Identifier(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=254)


class CustomerRegistered(EventData):
    type_name = "customer.registered"
    personal_fields = ("identifiers", "name")

    customer_id: str
    identifiers: list[Identifier]
    name: str = Field(default="", max_length=200)


class CustomerIdentifierAdded(EventData):
    type_name = "customer.identifier_added"
    personal_fields = ("identifier",)

    customer_id: str
    identifier: Identifier


class CustomerAddressUndeliverable(EventData):
    """A provider reported the address dead (hard bounce, unknown or unreachable number): it is not tried again.
    The identifier stays (it still identifies the person); only sending to it stops."""

    type_name = "customer.address_undeliverable"
    personal_fields = ("identifier",)

    customer_id: str
    identifier: Identifier
    channel: str = Field(max_length=16)
    reason: str = Field(default="", max_length=200)


class CustomerProfileUpdated(EventData):
    """Name, language, time zone or birthday given or corrected. Only the fields present change."""

    type_name = "customer.profile_updated"
    personal_fields = ("name", "birthday")

    customer_id: str
    name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=8)
    time_zone: str | None = Field(default=None, max_length=64)
    birthday: date | None = None


class MergeEvidence(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # automatic: identity resolution found the customers share strong identifiers; manual: staff decided.
    reason: Literal["automatic", "manual"]
    # The kinds of the identifiers that tied the two together (values are personal and live in the identity events).
    identifier_kinds: list[str] = Field(default_factory=list)
    # The interaction or request that revealed it.
    trigger_id: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=500)


class CustomerMerged(EventData):
    """Customer `merged` (the younger, by default) becomes part of `customer_id`. Written to the surviving
    customer's stream, so the person's own history says who joined it and when; both histories stay in the log."""

    type_name = "customer.merged"
    personal_fields = ("evidence",)

    customer_id: str
    merged: str
    evidence: MergeEvidence


class CustomerUnmerged(EventData):
    """Undoes a merge: `unmerged` stands on its own again, with its own identifiers and events."""

    type_name = "customer.unmerged"
    personal_fields = ("reason",)

    customer_id: str
    unmerged: str
    reason: str = Field(default="", max_length=500)


class _Interaction(EventData):
    ingestible = True


class PageViewed(_Interaction):
    type_name = "page.viewed"
    url: str = Field(max_length=2000)
    title: str = Field(default="", max_length=300)
    referrer: str = Field(default="", max_length=2000)


class ProductViewed(_Interaction):
    type_name = "product.viewed"
    sku: str = Field(min_length=1, max_length=64)
    url: str = Field(default="", max_length=2000)


class SearchPerformed(_Interaction):
    type_name = "search.performed"
    personal_fields = ("query",)
    query: str = Field(max_length=500)
    results_count: int = Field(default=0, ge=0)


class AppOpened(_Interaction):
    type_name = "app.opened"
    screen: str = Field(default="", max_length=200)
    app_version: str = Field(default="", max_length=40)


class StoreVisited(_Interaction):
    type_name = "store.visited"
    location: str = Field(min_length=1, max_length=32)
    minutes: int | None = Field(default=None, ge=0, le=24 * 60)


class CallReceived(_Interaction):
    type_name = "call.received"
    personal_fields = ("notes",)
    reason: str = Field(default="", max_length=200)
    seconds: int = Field(default=0, ge=0)
    notes: str = Field(default="", max_length=4000)


class MessageReceived(_Interaction):
    type_name = "message.received"
    personal_fields = ("text", "subject")
    text: str = Field(max_length=10000)
    subject: str = Field(default="", max_length=300)
    provider_message_id: str = Field(default="", max_length=200)


class ReviewPosted(_Interaction):
    type_name = "review.posted"
    personal_fields = ("text",)
    sku: str = Field(default="", max_length=64)
    location: str = Field(default="", max_length=32)
    # None: a review without stars (every property of Segment's Product Reviewed is optional).
    rating: int | None = Field(default=None, ge=1, le=5)
    text: str = Field(default="", max_length=4000)


class ContentShared(_Interaction):
    type_name = "content.shared"
    url: str = Field(default="", max_length=2000)
    sku: str = Field(default="", max_length=64)
    network: str = Field(default="", max_length=40)


# --- Interactions from tracking SDKs (Segment spec) and shops with no older type -------------------------------


class CustomerIdentified(_Interaction):
    """The customer told who they are (Segment `identify`). Identifiers in the traits (email, phone, user id) went
        through identity resolution; the other traits (address, birthday, ...) are kept here, sealed. A `birthday` trait
    (an ISO-8601 date, as the Segment spec sends it) becomes the profile's birthday (customers.directory)."""

    type_name = "customer.identified"
    personal_fields = ("traits",)
    traits: dict[str, Any] = Field(default_factory=dict)


class CustomerAliased(_Interaction):
    """Another id the sender used for this customer (Segment `alias`): identity resolution stitched it."""

    type_name = "customer.aliased"
    personal_fields = ("previous_id",)
    previous_id: str = Field(min_length=1, max_length=200)


class CheckoutStarted(_Interaction):
    type_name = "checkout.started"
    cart_id: str = Field(default="", max_length=64)
    order_id: str = Field(default="", max_length=64)
    value: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


class CouponApplied(_Interaction):
    type_name = "coupon.applied"
    code: str = Field(min_length=1, max_length=64)
    cart_id: str = Field(default="", max_length=64)
    order_id: str = Field(default="", max_length=64)
    discount: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)


class WishlistItemAdded(_Interaction):
    type_name = "wishlist.item_added"
    sku: str = Field(min_length=1, max_length=64)
    wishlist_id: str = Field(default="", max_length=64)


class CustomEvent(_Interaction):
    """Any other tracked event, kept under its own name (never dropped). Its properties are free-form, so sealed."""

    type_name = "custom.event"
    personal_fields = ("properties",)
    name: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


# --- Consent ledger -----------------------------------------------------------------------------------------------

ConsentChannel = Literal["email", "sms", "whatsapp", "push", "facebook", "instagram", "phone"]
ConsentPurpose = Literal["marketing", "service"]


class _ConsentChange(EventData):
    """A consent given or withdrawn. The event's own channel is where it happened (`source_channel`)."""

    customer_id: str
    channel: ConsentChannel
    purpose: ConsentPurpose
    # The exact text the customer was shown: what they agreed to is part of the proof.
    wording: str = Field(default="", max_length=2000)


class ConsentGranted(_ConsentChange):
    type_name = "consent.granted"


class ConsentRevoked(_ConsentChange):
    type_name = "consent.revoked"


# --- GDPR ---------------------------------------------------------------------------------------------------------


class CustomerErased(EventData):
    """The customer's key was destroyed and their projections scrubbed. Metadata `actor` is the staff user."""

    type_name = "customer.erased"

    customer_id: str


class CustomerExported(EventData):
    """Everything held about the customer was handed out (right of access). Metadata `actor` is the staff user."""

    type_name = "customer.exported"

    customer_id: str


# --- Service cases ------------------------------------------------------------------------------------------------
# Stream "case-<case id>". The event's channel is where that step happened (the complaint by phone, the reply by
# WhatsApp), so one case holds a thread across channels.

CaseDirection = Literal["in", "out"]


class CaseOpened(EventData):
    type_name = "case.opened"
    personal_fields = ("subject",)

    case_id: str
    customer_id: str
    subject: str = Field(min_length=1, max_length=300)
    # Loose reference to an order from any channel: the orders app may not know it (yet), the case still opens.
    order_ref: str = Field(default="", max_length=64)


class CaseMessageAdded(EventData):
    """A message in the case's thread: from the customer (`in`) or from staff (`out`, sent through messaging)."""

    type_name = "case.message_added"
    personal_fields = ("text",)

    case_id: str
    direction: CaseDirection
    text: str = Field(min_length=1, max_length=10000)
    # The outbound message (messaging) that carries a reply, or the inbound interaction that brought the message.
    message_id: str = Field(default="", max_length=64)


class Compensation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["none", "voucher", "refund", "reshipment"] = "none"
    amount: str = Field(default="", max_length=20, pattern=r"^(\d{1,10}(\.\d{1,2})?)?$")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    code: str = Field(default="", max_length=64)


class CaseResolved(EventData):
    """The case is resolved: by staff with a resolution, or closed because the customer was erased
    (`closed_because`), then with no resolution text (nothing personal can be stored about them any more)."""

    type_name = "case.resolved"
    personal_fields = ("resolution",)

    case_id: str
    closed_because: Literal["", "customer_erased"] = ""  # before resolution: its check reads it
    resolution: str = Field(default="", max_length=4000)
    compensation: Compensation = Field(default_factory=Compensation)

    @field_validator("resolution")
    @classmethod
    def _resolution_said(cls, value: str, info: ValidationInfo) -> str:
        if not value and not info.data.get("closed_because"):
            raise ValueError("a resolution is required")
        return value


class CaseCsatRecorded(EventData):
    """The customer's satisfaction with a resolved case, 1 (very unhappy) to 5 (very happy)."""

    type_name = "case.csat_recorded"
    personal_fields = ("comment",)

    case_id: str
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
