"""Reads of the customers app, for views, serializers and other apps."""

import uuid
from datetime import datetime

from backoffice.eventstore import store

from .models import Consent, Customer, CustomerIdentifier

CONSENT_TYPES = ("consent.granted", "consent.revoked")


class CustomerNotFound(LookupError):
    def __init__(self, customer_id):
        self.customer_id = customer_id
        super().__init__(f"no customer {customer_id}")


def customer_resolve_id(*, customer_id: uuid.UUID) -> uuid.UUID:
    """The id that holds this customer's data now: itself, or the customer it was merged into."""
    seen = set()
    current = customer_id
    while True:
        row = Customer.objects.filter(id=current).values_list("merged_into_id", flat=True).first()
        if row is None and not Customer.objects.filter(id=current).exists():
            raise CustomerNotFound(customer_id)
        if row is None or row in seen:
            return current
        seen.add(current)
        current = row


def consent_allows(*, customer_id: uuid.UUID, channel: str, purpose: str, at: datetime | None = None) -> bool:
    """May we contact this customer on this channel for this purpose (now, or at a past instant)?

    Marketing needs an explicit grant. Service messages (order updates, case replies) are allowed until the
    customer withdraws them on that channel.
    """
    if at is None:
        state = Consent.objects.filter(customer_id=customer_id, channel=channel, purpose=purpose).first()
        is_granted = state.is_granted if state else None
    else:
        is_granted = None
        for event in store.read_customer(customer_id, types=CONSENT_TYPES, occurred_until=at):
            if event.data["channel"] == channel and event.data["purpose"] == purpose:
                is_granted = event.type == "consent.granted"
    if is_granted is None:
        return purpose == "service"
    return is_granted


def consent_history(*, customer_id: uuid.UUID) -> list[store.RecordedEvent]:
    """Every grant and withdrawal, oldest first."""
    return store.read_customer(customer_id, types=CONSENT_TYPES)


def consent_states(*, customer_id: uuid.UUID) -> list[Consent]:
    return list(Consent.objects.filter(customer_id=customer_id).order_by("channel", "purpose"))


def customer_timeline(
    *,
    customer_id: uuid.UUID,
    channel: str | None = None,
    type: str | None = None,  # noqa: A002 - the API's parameter name
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[store.RecordedEvent]:
    """Every event about the customer, newest first; `before` is the (occurred_at, position) of the last one seen."""
    return store.read_customer_page(customer_id, channel=channel, type=type, before=before, limit=limit)


def customer_search(*, query: str, limit: int = 20) -> list[Customer]:
    """Customers by an identifier: exact email, phone (any spelling) or loyalty card, or the start of an email."""
    from .identifiers import InvalidIdentifier, normalise
    from .projections import identifier_key

    query = query.strip()
    if not query:
        return []
    keys = []
    for kind in ("email", "phone", "loyalty_card", "anonymous_id", "facebook_id", "instagram_id"):
        try:
            keys.append(identifier_key(kind, normalise(kind, query)))
        except InvalidIdentifier:
            continue
    matches = CustomerIdentifier.objects.filter(key__in=keys)
    if "@" not in query or not matches.exists():
        matches = matches | CustomerIdentifier.objects.filter(key__startswith=f"email:{query.lower()}")
    ids = list(matches.values_list("customer_id", flat=True).distinct()[:limit])
    return list(Customer.objects.filter(id__in=ids).order_by("-last_interaction_at", "id"))
