"""Who can be reached, where, and when: the recipient policy messaging asks before every send
(MESSAGING_RECIPIENT_POLICY = "customers.reachability.RecipientPolicy"), and the selectors other apps use to pick
a channel for a customer or a whole campaign batch (`reachable_channels`).

One code path: whoever picks a channel (a campaign's fan-out, an order notification, a case reply) asks
`reachable_channels`, which asks messaging's configured policy (`policy.recipients`), the same question the drain
asks again at send time (consent can change in between), and orders the answers by the person's engagement.

Addresses come from the customer's identifiers (email; phone for SMS and WhatsApp; Facebook and Instagram ids);
push reaches customers who have used the app, by their customer id (the push provider's external user id).
A merged customer is reached through the customer it was merged into; an erased one is not reached at all.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Final, NamedTuple

from django.conf import settings
from django.utils import timezone

from backoffice.eventstore.selectors import (
    customers_with_events,
    event_counts_per_customer_and_channel,
    last_occurred_per_customer,
)
from backoffice.eventstore.vocabulary import Channel, Purpose
from backoffice.messaging.events import NOT_ENGAGEMENT_TYPES, OUTBOUND_CHANNELS
from backoffice.messaging.policy import Recipient, RecipientQuery, channel_rules_all, recipients

from .events import MessageReceived
from .identifiers import InvalidIdentifier, normalise
from .models import Consent, Customer, CustomerIdentifier
from .projections import identifier_key
from .selectors import CustomerNotFound, consent_allows, customer_resolve_id, people_members
from .vocabulary import IdentifierKind

ADDRESS_KINDS: Final[dict[str, str]] = {
    Channel.EMAIL: IdentifierKind.EMAIL,
    Channel.SMS: IdentifierKind.PHONE,
    Channel.WHATSAPP: IdentifierKind.PHONE,
    Channel.FACEBOOK: IdentifierKind.FACEBOOK_ID,
    Channel.INSTAGRAM: IdentifierKind.INSTAGRAM_ID,
}
APP_CHANNELS: Final = (Channel.APP, Channel.PUSH)


class RecipientPolicy:
    """The hook messaging calls (backoffice.messaging.policy.RecipientPolicy), per customer or for a whole batch."""

    def identifier_key(self, channel: str, address: str) -> str:
        """The key the directory would hold a provider's address under (normalised as ingestion does: a WhatsApp
        number without its +, an email in capitals), or "" when the channel has no such identifier or the address
        is not a valid one of its kind."""
        kind = ADDRESS_KINDS.get(channel)
        if kind is None:
            return ""
        if kind == IdentifierKind.PHONE and address.strip().isdigit():
            address = f"+{address.strip()}"  # WhatsApp's wa_id and Meta's numbers come without the +
        try:
            return identifier_key(kind, normalise(kind, address))
        except InvalidIdentifier:
            return ""

    def address(self, customer_id: uuid.UUID, channel: str) -> str | None:
        return self.recipients([RecipientQuery(customer_id, channel, Purpose.SERVICE)], at=timezone.now())[0].address

    def allows(self, customer_id: uuid.UUID, channel: str, purpose: str, at: datetime) -> bool:
        owner = _owner(customer_id)
        state = (
            Consent.objects.filter(
                customer_id__in=list(people_members(owner_ids={owner})), channel=channel, purpose=purpose
            )
            .order_by("-changed_at", "-position")
            .first()
        )
        if state is None or state.changed_at <= at:
            # The current state already held at `at`: no need to replay the ledger.
            return state.is_granted if state else purpose == Purpose.SERVICE
        return consent_allows(customer_id=owner, channel=channel, purpose=purpose, at=at)

    def time_zone(self, customer_id: uuid.UUID) -> str:
        zone = Customer.objects.filter(id=_owner(customer_id)).values_list("time_zone", flat=True).first()
        return zone or settings.TIME_ZONE

    def last_inbound_at(self, customer_id: uuid.UUID, channel: str) -> datetime | None:
        return _last_inbound({_owner(customer_id)}, channel).get(_owner(customer_id))

    def recipients(self, queries: Sequence[RecipientQuery], *, at: datetime) -> list[Recipient]:
        """Every query of a drain batch answered in a handful of queries, whatever the batch size."""
        if not queries:
            return []
        rows = _customer_rows({q.customer_id for q in queries})
        owners = {q.customer_id: _owner_of(q.customer_id, rows) for q in queries}
        for owner in set(owners.values()) - set(rows):
            found = Customer.objects.filter(id=owner).values("id", "merged_into_id", "time_zone", "erased_at").first()
            if found:
                rows[owner] = found
        owner_ids = {o for o in owners.values() if o is not None}
        # A person is their customer and those merged into it: addresses, app use, consents and inbound messages
        # recorded for any of them count for the person.
        owner_of = people_members(owner_ids=owner_ids)
        member_ids = set(owner_of)
        kinds = {ADDRESS_KINDS[q.channel] for q in queries if q.channel in ADDRESS_KINDS}
        addresses: dict[tuple[uuid.UUID, str], str] = {}
        if kinds:
            for customer_id, kind, value in _identifiers(member_ids, kinds):
                addresses[(owner_of[customer_id], kind)] = value  # the newest wins
        app_users: set[uuid.UUID] = set()
        if any(q.channel == Channel.PUSH for q in queries):
            app_users = {owner_of[cid] for cid in customers_with_events(customer_ids=member_ids, channels=APP_CHANNELS)}
        consents: dict[tuple[uuid.UUID, str, str], _ConsentState] = {}
        for state in _consent_states(member_ids, {q.channel for q in queries}):
            key = (owner_of[state.customer_id], state.channel, state.purpose)
            known = consents.get(key)
            if known is None or (state.changed_at, state.position) > (known.changed_at, known.position):
                consents[key] = state
        inbound: dict[str, dict[uuid.UUID, datetime]] = {}
        for channel in {q.channel for q in queries if q.needs_inbound_window}:
            inbound[channel] = _last_inbound(member_ids, channel, owner_of)
        answers = []
        for query in queries:
            owner = owners[query.customer_id]
            row = rows.get(owner) if owner else None
            if row is None or row["erased_at"] is not None:
                answers.append(Recipient(None, False, settings.TIME_ZONE, is_erased=bool(row and row["erased_at"])))
                continue
            if query.channel == Channel.PUSH:
                address = f"customer:{owner}" if owner in app_users else None
            else:
                address = addresses.get((owner, ADDRESS_KINDS.get(query.channel, "")))
            state = consents.get((owner, query.channel, query.purpose))
            if state is None:
                is_allowed = query.purpose == Purpose.SERVICE
            elif state.changed_at <= at:
                is_allowed = state.is_granted
            else:
                is_allowed = consent_allows(customer_id=owner, channel=query.channel, purpose=query.purpose, at=at)
            answers.append(
                Recipient(
                    address=address,
                    is_allowed=is_allowed,
                    time_zone=row["time_zone"] or settings.TIME_ZONE,
                    last_inbound_at=inbound.get(query.channel, {}).get(owner),
                )
            )
        return answers


class _ConsentState(NamedTuple):
    customer_id: uuid.UUID
    channel: str
    purpose: str
    is_granted: bool
    changed_at: datetime
    position: int


def _consent_states(member_ids: set[uuid.UUID], channels: set[str]) -> list[_ConsentState]:
    names = list(_ConsentState._fields)
    found = Consent.objects.filter(customer_id__any=member_ids, channel__in=channels).values_list(*names)
    return [_ConsentState(*row) for row in found]


def _identifiers(member_ids: set[uuid.UUID], kinds: set[str]) -> list[tuple[uuid.UUID, str, str]]:
    """(customer_id, kind, value), oldest first. An address a provider reported dead is not an address to send to
    (customer.address_undeliverable)."""
    return list(
        CustomerIdentifier.objects.filter(customer_id__any=member_ids, kind__in=kinds, undeliverable_at=None)
        .order_by("added_at", "id")
        .values_list("customer_id", "kind", "value")
    )


def _customer_rows(customer_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict]:
    columns = ["id", "merged_into_id", "time_zone", "erased_at"]
    return {row["id"]: row for row in Customer.objects.filter(id__any=customer_ids).values(*columns)}


def reachable_channels(
    *, customer_ids: Sequence[uuid.UUID], channels: Sequence[str], purpose: str, at: datetime
) -> dict[uuid.UUID, list[str]]:
    """For each customer, the channels (of those given) they have an address and consent for `purpose` on, most
    engaged first; ties keep OUTBOUND_CHANNELS' order (email first, then the channels that cost per message). The
    whole batch in a handful of queries, through messaging's recipient policy hook. A channel operations switched
    off is nobody's: messaging's channel rules say so, the ones its drain suppresses by (channel_disabled)."""
    given = [c for c in OUTBOUND_CHANNELS if c in set(channels)]
    rules = channel_rules_all(given) if given else {}
    channels = [c for c in given if rules[c].is_enabled]
    queries = [RecipientQuery(cid, channel, purpose) for cid in customer_ids for channel in channels]
    answers = recipients(queries, at=at) if queries else []
    reachable: dict[uuid.UUID, list[str]] = defaultdict(list)
    for query, answer in zip(queries, answers, strict=True):
        if answer.address and answer.is_allowed and not answer.is_erased:
            reachable[query.customer_id].append(query.channel)
    several = [cid for cid, found in reachable.items() if len(found) > 1]
    if several:
        rows = _customer_rows(set(several))
        owners = {cid: _owner_of(cid, rows) for cid in several}  # one read for the batch: people are roots
        counts = customer_engagement(owner_ids={o for o in owners.values() if o is not None})
        order = {channel: index for index, channel in enumerate(OUTBOUND_CHANNELS)}
        for cid in several:
            mine = counts.get(owners[cid], {})
            reachable[cid].sort(key=lambda channel: (-mine.get(channel, 0), order[channel]))
    return dict(reachable)


def customer_reachable_channels(*, customer_id: uuid.UUID, purpose: str) -> list[str]:
    """The channels on which this customer has an address and consent for `purpose`, most engaged first (their
    own interactions per channel: messages they sent, read or clicked count, messages we sent do not)."""
    found = reachable_channels(
        customer_ids=[customer_id], channels=OUTBOUND_CHANNELS, purpose=purpose, at=timezone.now()
    )
    return found.get(customer_id, [])


def customer_preferred_channel(*, customer_id: uuid.UUID, purpose: str) -> str | None:
    reachable = customer_reachable_channels(customer_id=customer_id, purpose=purpose)
    return reachable[0] if reachable else None


def customer_engagement(*, owner_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """Interactions per person and channel (their own and those of the customers merged into them); what we sent
    them is not engagement (NOT_ENGAGEMENT_TYPES), using the app is engagement with push."""
    owner_of = people_members(owner_ids=owner_ids)
    channels = [*OUTBOUND_CHANNELS, *APP_CHANNELS]
    out: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts = event_counts_per_customer_and_channel(
        customer_ids=owner_of, channels=channels, exclude_types=NOT_ENGAGEMENT_TYPES
    )
    for customer_id, channel, n in counts:
        out[owner_of[customer_id]][Channel.PUSH if channel in APP_CHANNELS else channel] += n
    return out


def _last_inbound(
    member_ids: set[uuid.UUID], channel: str, owner_of: dict[uuid.UUID, uuid.UUID] | None = None
) -> dict[uuid.UUID, datetime]:
    """The newest message each person sent on the channel (keyed by the person's current id)."""
    if owner_of is None:
        owner_of = people_members(owner_ids=member_ids)
        member_ids = set(owner_of)
    last: dict[uuid.UUID, datetime] = {}
    for customer_id, at in last_occurred_per_customer(
        customer_ids=member_ids, type=MessageReceived.type_name, channel=channel
    ):
        owner = owner_of.get(customer_id, customer_id)
        if owner not in last or at > last[owner]:
            last[owner] = at
    return last


def _owner(customer_id: uuid.UUID) -> uuid.UUID | None:
    try:
        return customer_resolve_id(customer_id=customer_id)
    except CustomerNotFound:
        return None


def _owner_of(customer_id: uuid.UUID, rows: dict) -> uuid.UUID | None:
    row = rows.get(customer_id)
    if row is None:
        return None
    if row["merged_into_id"] is None:
        return customer_id
    return _owner(customer_id)
