"""The consent ledger: consents granted and withdrawn, per channel and purpose, with where and what was shown.

A withdrawal on any channel (STOP by SMS, an unsubscribe link, a word at the counter) holds for that channel
everywhere at once: the ledger projection is inline, so the next `consent_allows` sees it.
"""

import uuid
from datetime import datetime

from backoffice.eventstore import store
from backoffice.eventstore.errors import IdempotencyConflict
from backoffice.eventstore.keys import KeyDestroyed
from backoffice.eventstore.store import RecordedEvent
from backoffice.eventstore.vocabulary import Purpose

from ..events import ConsentGranted, ConsentRevoked
from ..selectors import customer_group_ids, customer_is_erased, customer_resolve_id


def consent_record(
    *,
    customer_id: uuid.UUID,
    channel: str,
    purpose: str,
    is_granted: bool,
    source_channel: str,
    wording: str = "",
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
    actor: str,
) -> RecordedEvent:
    """Grant or withdraw consent. Idempotent on `event_id`: a resend changes nothing and answers the change as it
    was recorded, also after the customer it was recorded on was merged into another; the id sent for another person
    or other content is refused (IdempotencyConflict). Raises CustomerNotFound, KeyDestroyed (a grant for an erased
    customer), or EventValidationError naming the bad field."""
    change = ConsentGranted if is_granted else ConsentRevoked
    owner = customer_resolve_id(customer_id=customer_id)
    # Nobody grants anything for a person who was erased (the staff page refuses it too). A withdrawal only ever
    # restricts, and a provider's unsubscribe for an old message of theirs still lands.
    if is_granted and customer_is_erased(customer_id=owner):
        raise KeyDestroyed(owner)
    # A resend is compared with what was recorded as it was built then: on the customer it was recorded on (the
    # stream and customer are part of the content), which a merge since may have made part of another person.
    recorded_on = owner if event_id is None else _recorded_on(event_id, owner=owner)
    event = store.NewEvent.of(
        # The channel and purpose come as the caller's strings: the event's schema checks them.
        change.from_data({"customer_id": str(recorded_on), "channel": channel, "purpose": purpose, "wording": wording}),
        id=event_id,
        channel=source_channel,
        customer_id=recorded_on,
        occurred_at=occurred_at,
        metadata={"actor": actor},
    )
    return store.append(f"customer-{recorded_on}", [event])[0]


def _recorded_on(event_id: uuid.UUID, *, owner: uuid.UUID) -> uuid.UUID:
    """The customer a change with this id was recorded on, when that is one of the person `owner` (through merges
    since); `owner` when the id is new. The id recorded for anyone else is refused."""
    stored = store.stored_events([event_id]).get(event_id)
    if stored is None:
        return owner
    recorded = stored[1]
    if recorded.customer_id is None or recorded.customer_id not in customer_group_ids(customer_id=owner):
        raise IdempotencyConflict([str(event_id)])
    return recorded.customer_id


UNSUBSCRIBE_WORDING = "Unsubscribed through the link or keyword of a message (provider callback)."


def opt_out_wording(*, channel: str, by_keyword: bool, message_id: uuid.UUID) -> str:
    """What an inbound opt-out records as the consent's wording: how it was said, never the customer's words. The
    wording is not a personal field (it is the shop's text as shown), so it is neither sealed nor erased: a message's
    free text copied here would outlive the customer's erasure. The message itself (sealed) is named by its id."""
    how = "Opt-out keyword received" if by_keyword else "Message classified as an opt-out by the provider"
    return f"{how} on {channel} (inbound message {message_id})."


def consent_revoke_on_unsubscribe(
    *, customer_id: uuid.UUID, channel: str, occurred_at: datetime | None, cause_id: uuid.UUID
) -> RecordedEvent:
    """messaging's MESSAGING_UNSUBSCRIBE_HOOK: an unsubscribe reported by the channel's provider withdraws marketing
    on that channel, once (the event id derives from the callback's)."""
    return consent_record(
        customer_id=customer_id,
        channel=channel,
        purpose=Purpose.MARKETING,
        is_granted=False,
        source_channel=channel,
        wording=UNSUBSCRIBE_WORDING,
        occurred_at=occurred_at,
        event_id=uuid.uuid5(cause_id, ConsentRevoked.type_name),
        actor=f"provider:{channel}",
    )
