"""Addresses a provider reported dead: messaging's MESSAGING_UNDELIVERABLE_HOOK.

A hard bounce, an unknown or unreachable number: the identifier is marked (customer.address_undeliverable) and the
recipient policy (customers.reachability) stops offering it, so the next message on that channel is suppressed
(`no_address`) instead of bouncing again. Another address of the person is still used.
"""

import uuid
from datetime import datetime

from backoffice.eventstore import store

from ..events import CustomerAddressUndeliverable
from ..identifiers import InvalidIdentifier, normalise
from ..reachability import ADDRESS_KINDS
from ..selectors import customer_resolve_id


def address_mark_undeliverable(
    *,
    customer_id: uuid.UUID,
    channel: str,
    address: str,
    reason: str,
    occurred_at: datetime | None,
    cause_id: uuid.UUID,
) -> store.RecordedEvent | None:
    """Mark the customer's address on the channel undeliverable, once per callback (the event id derives from the
    callback's). An address that is not a valid identifier of the channel's kind is ignored (None)."""
    kind = ADDRESS_KINDS.get(channel)
    if kind is None:
        return None
    try:
        value = normalise(kind, address.removeprefix("whatsapp:"))
    except InvalidIdentifier:
        return None
    owner = customer_resolve_id(customer_id=customer_id)
    identifier = {"kind": kind, "value": value}
    undeliverable = CustomerAddressUndeliverable.from_data(
        {"customer_id": str(owner), "identifier": identifier, "channel": channel, "reason": reason[:200]}
    )
    event = store.NewEvent.of(
        undeliverable,
        id=uuid.uuid5(cause_id, CustomerAddressUndeliverable.type_name),
        channel=channel,
        customer_id=owner,
        occurred_at=occurred_at,
        metadata={"actor": f"provider:{channel}"},
    )
    return store.append(f"customer-{owner}", [event])[0]
