"""Reads of the customers app, for views, serializers and other apps."""

import uuid
from datetime import datetime

from backoffice.eventstore import store

from .models import Consent, Customer, CustomerIdentifier
from .projections import readable_identifiers

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


def customer_view_as_of(*, customer_id: uuid.UUID, at: datetime, recent: int = 10) -> dict | None:
    """The 360 view as it was at `at`, folded from the log alone (events that had happened by then), not from
    the current tables: identifiers, consents, channels and activity as they stood. None if not a customer yet."""
    events = store.read_customer(customer_id, occurred_until=at)
    registered = next((e for e in events if e.type == "customer.registered"), None)
    if registered is None:
        return None
    identifiers: dict[tuple[str, str], None] = {}
    consents: dict[tuple[str, str], store.RecordedEvent] = {}
    channels: set[str] = set()
    for event in events:
        if event.type == "customer.registered":
            identifiers.update({(i["kind"], i["value"]): None for i in readable_identifiers(event.data["identifiers"])})
        elif event.type == "customer.identifier_added":
            identifiers.update(
                {(i["kind"], i["value"]): None for i in readable_identifiers([event.data["identifier"]])}
            )
        elif event.type in CONSENT_TYPES:
            # read_customer orders by occurred_at then position: the last change wins, as in the live ledger.
            consents[(event.data["channel"], event.data["purpose"])] = event
        if event.channel:
            channels.add(event.channel)
    return {
        "id": customer_id,
        "as_of": at,
        "registered_at": registered.occurred_at,
        "acquisition_channel": registered.channel or "",
        "identifiers": [{"kind": kind, "value": value} for kind, value in identifiers],
        "channels_used": sorted(channels),
        "interaction_count": len(events),
        "last_interaction_at": events[-1].occurred_at,
        "consents": [
            {
                "channel": channel,
                "purpose": purpose,
                "granted": event.type == "consent.granted",
                "source_channel": event.channel or "",
                "wording": event.data["wording"],
                "changed_at": event.occurred_at,
            }
            for (channel, purpose), event in sorted(consents.items())
        ],
        "recent_timeline": list(reversed(events[-recent:])),
    }
