"""Reads of the customers app, for views, serializers and other apps.

A person may be several customer rows: identity resolution merges the younger into the older, and every read that
answers "about this customer" covers the customer and everyone merged into them (`customer_group_ids`).
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.money import money
from backoffice.eventstore.people import merge_groups
from backoffice.eventstore.projector import type_names
from backoffice.eventstore.vocabulary import Purpose

from ..events import (
    ConsentGranted,
    ConsentRevoked,
    CustomerIdentifierAdded,
    CustomerMerged,
    CustomerProfileUpdated,
    CustomerRegistered,
    CustomerUnmerged,
)
from ..identifiers import InvalidIdentifier, normalise
from ..models import Case, Consent, Customer, CustomerIdentifier, CustomerOrder
from ..projections import (
    RECORD_KEEPING_TYPES,
    identifier_key,
    name_search_key,
    readable_identifiers,
    readable_text,
)
from ..vocabulary import IdentifierKind

CONSENT_TYPES = type_names(ConsentGranted, ConsentRevoked)
MERGE_TYPES = type_names(CustomerMerged, CustomerUnmerged)
# The orders app is a layer above, so its types are named by their strings (tests/customers hold them declared).
ORDER_PLACED, ORDER_RETURNED, ORDER_CANCELLED = "order.placed", "order.returned", "order.cancelled"
SEARCHABLE_KINDS = (
    IdentifierKind.EMAIL,
    IdentifierKind.PHONE,
    IdentifierKind.LOYALTY_CARD,
    IdentifierKind.ANONYMOUS_ID,
    IdentifierKind.FACEBOOK_ID,
    IdentifierKind.INSTAGRAM_ID,
)


class CustomerNotFound(LookupError):
    def __init__(self, customer_id: object) -> None:
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


def customer_absorbed_ids(*, customer_id: uuid.UUID) -> tuple[uuid.UUID, ...]:
    """Every customer merged into this one, directly or through a chain of merges."""
    members = people_members(owner_ids={customer_id})
    return tuple(sorted((cid for cid in members if cid != customer_id), key=str))


def customer_group_ids(*, customer_id: uuid.UUID) -> list[uuid.UUID]:
    """The customer (an id already resolved) and everyone merged into them: one person."""
    return [customer_id, *customer_absorbed_ids(customer_id=customer_id)]


def people_members(*, owner_ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Every customer making up these people (themselves and those merged into them, at any depth), with the person's
    id: the one answer to "who is this person" over the customers directory, for one person or a batch."""
    return merge_groups(owner_ids, _merged_into_any)


def _merged_into_any(frontier: set[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return list(Customer.objects.filter(merged_into_id__any=frontier).values_list("id", "merged_into_id"))


def _latest_consents(customer_ids: list[uuid.UUID], **filters) -> dict[tuple[str, str], Consent]:
    """Per (channel, purpose), the newest change among these customers: what they said last, whoever recorded it."""
    return _newest_by(Consent.objects.filter(customer_id__in=customer_ids, **filters), lambda s: (s.channel, s.purpose))


def _newest_by(states: Iterable[Consent], key_of: Callable[[Consent], Hashable]) -> dict[Any, Consent]:
    """Per key, the newest of these consent states: by when it was said, then by position (the ledger's own rule)."""
    latest: dict[Any, Consent] = {}
    for state in states:
        key = key_of(state)
        if key not in latest or (state.changed_at, state.position) > (latest[key].changed_at, latest[key].position):
            latest[key] = state
    return latest


def consent_allows(*, customer_id: uuid.UUID, channel: str, purpose: str, at: datetime | None = None) -> bool:
    """May we contact this customer on this channel for this purpose (now, or at a past instant)?

    Marketing needs an explicit grant. Service messages (order updates, case replies) are allowed until the
    customer withdraws them on that channel. A merged id answers for the person it is now part of.
    """
    group = customer_group_ids(customer_id=customer_resolve_id(customer_id=customer_id))
    if at is None:
        state = _latest_consents(group, channel=channel, purpose=purpose).get((channel, purpose))
        is_granted = state.is_granted if state else None
    else:
        is_granted = None
        for event in store.read_customer(group, types=CONSENT_TYPES, occurred_until=at):
            if event.data["channel"] == channel and event.data["purpose"] == purpose:
                is_granted = event.type == ConsentGranted.type_name
    if is_granted is None:
        return purpose == Purpose.SERVICE
    return is_granted


def consent_history(*, customer_id: uuid.UUID) -> list[store.RecordedEvent]:
    """Every grant and withdrawal of the person, oldest first."""
    return store.read_customer(customer_group_ids(customer_id=customer_id), types=CONSENT_TYPES)


def consent_states(*, customer_id: uuid.UUID, group: list[uuid.UUID] | None = None) -> list[Consent]:
    """The person's current consent per channel and purpose. `group`: their ids, when the caller has them."""
    latest = _latest_consents(group or customer_group_ids(customer_id=customer_id))
    return [latest[key] for key in sorted(latest)]


def customer_timeline(
    *,
    customer_id: uuid.UUID,
    channel: str | None = None,
    type: str | None = None,  # noqa: A002 - the API's parameter name
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[store.RecordedEvent]:
    """Every event about the person, newest first; `before` is the (occurred_at, position) of the last one seen."""
    group = customer_group_ids(customer_id=customer_id)
    return store.read_customer_page(
        group if len(group) > 1 else customer_id, channel=channel, type=type, before=before, limit=limit
    )


def customers_all() -> QuerySet[Customer]:
    """Every person, for a list to filter and page: a merged customer is part of the one it was merged into."""
    return Customer.objects.filter(merged_into__isnull=True)


def customer_search(*, query: str, limit: int = 20) -> list[Customer]:
    """Customers by an identifier (exact email, phone in any spelling, loyalty card, social or anonymous id), the
    start of an email, or their name. Merged customers are answered by the customer they are part of."""
    query = query.strip()
    if not query:
        return []
    keys = []
    for kind in SEARCHABLE_KINDS:
        try:
            keys.append(identifier_key(kind, normalise(kind, query)))
        except InvalidIdentifier:
            continue
    matches = CustomerIdentifier.objects.filter(key__in=keys)
    if "@" not in query or not matches.exists():
        matches = matches | CustomerIdentifier.objects.filter(key__startswith=f"email:{query.lower()}")
    ids = set(matches.values_list("customer_id", flat=True).distinct()[:limit])
    words = name_search_key(query).split()  # none when only marks were typed ("´´´"): no name matches them
    if words and not any(char.isdigit() for char in query) and "@" not in query:
        # Every word typed, in the name without case or accents ("alvaro nunez" finds Álvaro Núñez).
        by_name = Q()
        for word in words:
            by_name &= Q(search_name__contains=word)
        ids |= set(Customer.objects.filter(by_name).values_list("id", flat=True)[:limit])
    roots = {customer_resolve_id(customer_id=cid) for cid in ids}
    return list(Customer.objects.filter(id__in=roots).order_by("-last_interaction_at", "id")[:limit])


def identifier_kind(*, text: str) -> str | None:
    """What a person typed at the counter (phone, email or loyalty card) is, as an identifier: the kind it is
    already known as, else an email, else a phone number, else a card; None when it can be none of them. A known
    card comes first: card numbers can also read as phone numbers."""
    kinds = (IdentifierKind.EMAIL,) if "@" in text else (IdentifierKind.LOYALTY_CARD, IdentifierKind.PHONE)
    keys: dict[str, str] = {}
    for kind in kinds:
        try:
            keys[identifier_key(kind, normalise(kind, text))] = kind
        except InvalidIdentifier:
            continue
    known = set(CustomerIdentifier.objects.filter(key__in=keys).values_list("key", flat=True))
    for key, kind in keys.items():  # in the order of `kinds`: a known card before a known phone
        if key in known:
            return kind
    if not keys:
        return None
    return IdentifierKind.PHONE if IdentifierKind.PHONE in keys.values() else next(iter(keys.values()))


@dataclass(frozen=True)
class RfmScores:
    """Recency, frequency and monetary scores, 1 (weakest) to 5 (best); 0 for a customer with no order."""

    recency: int
    frequency: int
    monetary: int

    @property
    def code(self) -> str:
        return f"{self.recency}{self.frequency}{self.monetary}"


def rfm_scores(*, last_order_at: datetime | None, order_count: int, value: Decimal, now: datetime) -> RfmScores:
    """Scores from fixed thresholds (settings.CUSTOMER_RFM_THRESHOLDS), so a score means the same thing for every
    customer and every day, and segments can compute it in SQL."""
    if not order_count or last_order_at is None:
        return RfmScores(0, 0, 0)
    thresholds = settings.CUSTOMER_RFM_THRESHOLDS
    days = (now - last_order_at).days
    recency = 5 - sum(days > limit for limit in thresholds["recency_days"])
    frequency = 1 + sum(order_count >= limit for limit in thresholds["frequency_orders"])
    monetary = 1 + sum(value >= Decimal(limit) for limit in thresholds["monetary"])
    return RfmScores(max(recency, 1), frequency, monetary)


def customer_orders(*, customer_id: uuid.UUID, limit: int = 20) -> list[CustomerOrder]:
    """The person's orders from every channel, newest first."""
    group = customer_group_ids(customer_id=customer_id)
    return list(CustomerOrder.objects.filter(customer_id__in=group).order_by("-placed_at")[:limit])


def customer_order_total(*, customer_id: uuid.UUID, order_id: str) -> Decimal | None:
    """The total of one of the person's orders (from any channel), or None when they have no order with this id."""
    group = customer_group_ids(customer_id=customer_id)
    orders = CustomerOrder.objects.filter(customer_id__in=group, order_id=order_id)
    return orders.values_list("total", flat=True).first()


@dataclass(frozen=True)
class PersonFigures:
    """What a person did, over every customer they are made of: the figures of the 360 view."""

    order_count: int = 0
    lifetime_value: Decimal = Decimal("0.00")  # net of refunds, in cents; cancelled orders left out
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    interaction_count: int = 0
    last_interaction_at: datetime | None = None
    channels_used: tuple[str, ...] = ()


def people_figures(*, owner_ids: set[uuid.UUID]) -> dict[uuid.UUID, PersonFigures]:
    """Per id, the figures of that customer and everyone merged into them, as the 360 view counts them (not the row's
    own counters, which are one customer's): for a page of people in a fixed number of queries."""
    members = _members_of(owner_ids)
    everyone = list({member for group in members.values() for member in group})
    rows = {
        row.id: row
        for row in Customer.objects.filter(id__in=everyone).only(
            "id", "interaction_count", "last_interaction_at", "channels_used"
        )
    }
    orders = _orders_by_customer(everyone)
    return {
        owner: _figures([orders[m] for m in group if m in orders], [rows[m] for m in group if m in rows])
        for owner, group in members.items()
    }


def people_identifiers(*, owner_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[CustomerIdentifier]]:
    """Per id, the identifiers of that customer and everyone merged into them, in the order the 360 view lists them:
    for a page of people in a fixed number of queries."""
    members = _members_of(owner_ids)
    everyone = list({member for group in members.values() for member in group})
    held: dict[uuid.UUID, list[CustomerIdentifier]] = defaultdict(list)
    for identifier in CustomerIdentifier.objects.filter(customer_id__in=everyone).order_by("added_at", "key"):
        held[identifier.customer_id].append(identifier)
    return {
        owner: sorted((i for member in group for i in held[member]), key=lambda i: (i.added_at, i.key))
        for owner, group in members.items()
    }


def _members_of(owner_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Per id, itself and every customer merged into it at any depth (`people_members`), also when some of the ids
    are merged into others of them (the admin lists merged customers too): those count for every id above them."""
    nearest = people_members(owner_ids=owner_ids)  # each customer with the closest of the ids it is part of
    merged_into = dict(
        Customer.objects.filter(id__in=list(owner_ids), merged_into__isnull=False).values_list("id", "merged_into_id")
    )
    members: dict[uuid.UUID, list[uuid.UUID]] = {owner: [] for owner in owner_ids}
    for member, owner in nearest.items():
        seen: set[uuid.UUID] = set()
        while owner is not None and owner not in seen:  # up through the ids above it (cycles cut, as in the walk)
            seen.add(owner)
            members[owner].append(member)
            above = merged_into.get(owner)
            owner = nearest.get(above) if above is not None else None
    return members


def _orders_by_customer(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per customer, the commerce projection's figures of their orders (cancelled ones left out)."""
    orders = (
        CustomerOrder.objects.filter(customer_id__in=customer_ids, is_cancelled=False)
        .values("customer_id")
        .annotate(
            count=Count("order_id"),
            gross=Sum("total"),
            refunded=Sum("refunded"),
            first=Min("placed_at"),
            last=Max("placed_at"),
        )
        .order_by()
    )
    return {row["customer_id"]: row for row in orders}


def _figures(orders: list[dict[str, Any]], rows: list[Customer]) -> PersonFigures:
    """A person's figures from their customers' orders (`_orders_by_customer`) and rows (the activity counters)."""
    seen = [row.last_interaction_at for row in rows if row.last_interaction_at]
    return PersonFigures(
        order_count=sum(o["count"] for o in orders),
        lifetime_value=money(sum(((o["gross"] or 0) - (o["refunded"] or 0) for o in orders), Decimal("0"))),
        first_order_at=min((o["first"] for o in orders), default=None),
        last_order_at=max((o["last"] for o in orders), default=None),
        interaction_count=sum(row.interaction_count for row in rows),
        last_interaction_at=max(seen, default=None),
        channels_used=tuple(sorted({channel for row in rows for channel in row.channels_used})),
    )


def customer_360(*, customer_id: uuid.UUID, recent: int = 10) -> dict:
    """The person as every channel knows them, from the projections: profile, identifiers, consents, channels,
    activity, orders and value, RFM and a short recent timeline. `customer_id` must be a root (not merged)."""
    group = customer_group_ids(customer_id=customer_id)
    rows = {row.id: row for row in Customer.objects.filter(id__in=group)}
    customer = rows[customer_id]
    members = list(rows.values())
    identifiers = list(
        CustomerIdentifier.objects.filter(customer_id__in=group).order_by("added_at", "key").values("kind", "value")
    )
    figures = _figures(list(_orders_by_customer(group).values()), members)
    earliest = min(members, key=lambda m: m.registered_at)
    now = timezone.now()
    rfm = rfm_scores(
        last_order_at=figures.last_order_at, order_count=figures.order_count, value=figures.lifetime_value, now=now
    )
    return {
        "id": customer.id,
        "name": customer.display_name or next((m.display_name for m in members if m.display_name), ""),
        "language": customer.language or settings.LANGUAGE_CODE,
        "time_zone": customer.time_zone or settings.TIME_ZONE,
        "birthday": customer.birthday or next((m.birthday for m in members if m.birthday), None),
        "registered_at": earliest.registered_at,
        "acquisition_channel": earliest.acquisition_channel,
        "erased_at": customer.erased_at,
        "merged_from": [m.id for m in members if m.id != customer_id],
        "identifiers": identifiers,
        "channels_used": list(figures.channels_used),
        "interaction_count": figures.interaction_count,
        "last_interaction_at": figures.last_interaction_at,
        "order_count": figures.order_count,
        "lifetime_value": figures.lifetime_value,
        "first_order_at": figures.first_order_at,
        "last_order_at": figures.last_order_at,
        "rfm": {"recency": rfm.recency, "frequency": rfm.frequency, "monetary": rfm.monetary, "code": rfm.code},
        "open_cases": list(
            Case.objects.filter(customer_id__in=group, status=Case.Status.OPEN)
            .order_by("-last_message_at")
            .values("id", "subject", "channel", "order_ref", "opened_at", "last_message_at")
        ),
        "consents": consent_states(customer_id=customer_id, group=group),
        "recent_timeline": store.read_customer_page(group if len(group) > 1 else customer_id, limit=recent),
    }


def customer_members_as_of(*, customer_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
    """Who made up this person at `at`, folded from the merge events that had happened by then (they are written to
    the surviving customer's stream, so each level of a chain of merges is one read)."""
    members = [customer_id]
    frontier = [customer_id]
    while frontier:
        joined: dict[uuid.UUID, bool] = {}
        for event in store.read_customer(frontier, types=MERGE_TYPES, occurred_until=at):
            if event.type == CustomerMerged.type_name:
                joined[uuid.UUID(event.data["merged"])] = True
            else:
                joined[uuid.UUID(event.data["unmerged"])] = False
        frontier = [cid for cid, is_in in joined.items() if is_in and cid not in members]
        members.extend(frontier)
    return members


def customer_view_as_of(*, customer_id: uuid.UUID, at: datetime, recent: int = 10) -> dict | None:
    """The 360 view as it was at `at`, folded from the log alone (events that had happened by then), not from
    the current tables: who the person was made of, identifiers, name, consents, channels, activity and orders as
    they stood. None if not a customer yet."""
    members = customer_members_as_of(customer_id=customer_id, at=at)
    events = store.read_customer(members if len(members) > 1 else customer_id, occurred_until=at)
    registrations = [e for e in events if e.type == CustomerRegistered.type_name]
    if not any(e.customer_id == customer_id for e in registrations):
        return None
    first = registrations[0]
    identifiers: dict[tuple[str, str], None] = {}
    consents: dict[tuple[str, str], store.RecordedEvent] = {}
    channels: set[str] = set()
    name = ""
    orders: dict[str, dict] = {}
    interactions = 0
    last_interaction: datetime | None = None
    for event in events:
        if event.type == CustomerRegistered.type_name:
            identifiers.update({(i["kind"], i["value"]): None for i in readable_identifiers(event.data["identifiers"])})
            name = name or readable_text(event.data.get("name", ""))
        elif event.type == CustomerIdentifierAdded.type_name:
            identifiers.update(
                {(i["kind"], i["value"]): None for i in readable_identifiers([event.data["identifier"]])}
            )
        elif event.type == CustomerProfileUpdated.type_name and event.data.get("name") is not None:
            name = readable_text(event.data["name"])
        elif event.type in CONSENT_TYPES:
            # read_customer orders by occurred_at then position: the last change wins, as in the live ledger.
            consents[(event.data["channel"], event.data["purpose"])] = event
        elif event.type == ORDER_PLACED:
            orders[event.data["order_id"]] = {"total": Decimal(str(event.data["total"])), "refunded": Decimal("0")}
        elif event.type == ORDER_RETURNED and event.data["order_id"] in orders:
            orders[event.data["order_id"]]["refunded"] += Decimal(str(event.data.get("refund_amount", "0")))
        elif event.type == ORDER_CANCELLED:
            orders.pop(event.data["order_id"], None)
        # The live activity projection's rule of what the customer did (RECORD_KEEPING_TYPES are not): the view of
        # now and the view as of now must agree.
        if event.type not in RECORD_KEEPING_TYPES:
            interactions += 1
            last_interaction = event.occurred_at  # events come in the order they happened
            if event.channel:
                channels.add(event.channel)
    value = sum((o["total"] - o["refunded"] for o in orders.values()), Decimal("0"))
    last_order = max(
        (e.occurred_at for e in events if e.type == ORDER_PLACED and e.data["order_id"] in orders), default=None
    )
    rfm = rfm_scores(last_order_at=last_order, order_count=len(orders), value=value, now=at)
    return {
        "id": customer_id,
        "as_of": at,
        "name": name,
        "registered_at": first.occurred_at,
        "acquisition_channel": first.channel or "",
        "merged_from": [cid for cid in members if cid != customer_id],
        "identifiers": [{"kind": kind, "value": value} for kind, value in identifiers],
        "channels_used": sorted(channels),
        "interaction_count": interactions,
        "last_interaction_at": last_interaction,
        "order_count": len(orders),
        "lifetime_value": money(value),
        "last_order_at": last_order,
        "rfm": {"recency": rfm.recency, "frequency": rfm.frequency, "monetary": rfm.monetary, "code": rfm.code},
        "consents": [
            {
                "channel": channel,
                "purpose": purpose,
                "granted": event.type == ConsentGranted.type_name,
                "source_channel": event.channel or "",
                "wording": event.data["wording"],
                "changed_at": event.occurred_at,
            }
            for (channel, purpose), event in sorted(consents.items())
        ],
        "recent_timeline": list(reversed(events[-recent:])),
    }


# Reads other apps build on: the directory's rows without importing customers' models (an import-linter contract
# forbids that: pyproject.toml). Querysets and subquery expressions are returned where the caller composes them
# into a query of its own (segments, the worksheet's audience).


def customer_get(*, customer_id: uuid.UUID, with_identifiers: bool = False) -> Customer | None:
    customers = Customer.objects.filter(id=customer_id)
    if with_identifiers:
        customers = customers.prefetch_related("identifiers")
    return customers.first()


def customer_exists(*, customer_id: uuid.UUID) -> bool:
    return Customer.objects.filter(id=customer_id).exists()


def customers_with_ids(*, customer_ids) -> QuerySet[Customer]:
    return Customer.objects.filter(id__in=customer_ids)


def customer_values(*, customer_ids, fields: tuple[str, ...]) -> list[tuple]:
    """(id, *fields) per customer."""
    return list(Customer.objects.filter(id__any=customer_ids).values_list("id", *fields))


def customers_with_birthday_on(*, month_days: list[tuple[int, int]]) -> list[tuple[uuid.UUID, date, str]]:
    """(id, birthday, time zone) of the customers (not merged into another, not erased) whose birthday falls on one
    of these (month, day): journeys celebrate them in their own zone. By the month-and-day index."""
    if not month_days:
        return []
    days = Q()
    for month, day in month_days:
        days |= Q(birthday__month=month, birthday__day=day)
    found = Customer.objects.filter(days, merged_into=None, erased_at=None).exclude(birthday=None)
    return list(found.values_list("id", "birthday", "time_zone"))


def customer_language(*, customer_id: uuid.UUID) -> str | None:
    return Customer.objects.filter(id=customer_id).values_list("language", flat=True).first()


def customer_merged_into(*, customer_id: uuid.UUID) -> tuple[bool, uuid.UUID | None]:
    """(whether the customer exists, whom it was merged into): one indexed read, the hot path's usual answer
    (`customer_resolve_id` follows a chain of merges)."""
    found = list(Customer.objects.filter(id=customer_id).values_list("merged_into_id", flat=True))
    return bool(found), (found[0] if found else None)


def customer_id_by_identifier_key(*, key: str) -> uuid.UUID | None:
    """The customer holding an identifier, by its key (`email:ana@example.es`, `phone:+34600123456`)."""
    return CustomerIdentifier.objects.filter(key=key).values_list("customer_id", flat=True).first()


def customer_id_by_identifier(*, kind: str, value: str) -> uuid.UUID | None:
    """The customer holding an identifier as someone typed it (normalised as ingestion does: a phone in any
    format); None when it is not a valid one of its kind or nobody holds it."""
    try:
        key = identifier_key(kind, normalise(kind, value))
    except InvalidIdentifier:
        return None
    return customer_id_by_identifier_key(key=key)


def customer_is_erased(*, customer_id: uuid.UUID) -> bool:
    return Customer.objects.filter(id=customer_id).values_list("erased_at", flat=True).first() is not None


def people_contactable() -> QuerySet[Customer]:
    """Every person who may be counted and contacted: one row per person (merged profiles point at theirs), erased
    customers left out."""
    return Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)


def marketing_consent_granted(*, channel: str) -> Q:
    """For a query over people (roots, as `people_contactable` gives them): whether the person has granted marketing
    on `channel`, as `consent_allows` answers it: the newest change among the customer and those merged into them.

    A person made of one customer is answered in SQL by their own row. The few made of several (merges) are folded
    here, by the same walk and the same newest-change rule as `consent_allows`, and named by id."""
    marketing = Consent.objects.filter(channel=channel, purpose=Purpose.MARKETING)
    own = Exists(marketing.filter(customer_id=OuterRef("id"), is_granted=True))
    merged = Customer.objects.filter(merged_into__isnull=False)
    roots = set(merged.filter(merged_into__merged_into__isnull=True).values_list("merged_into_id", flat=True))
    if not roots:
        return Q(own)
    root_of = people_members(owner_ids=roots)
    latest = _newest_by(marketing.filter(customer_id__any=list(root_of)), lambda state: root_of[state.customer_id])
    granted = [root for root, state in latest.items() if state.is_granted]
    return (Q(own) & ~Q(id__any=list(roots))) | Q(id__any=granted)


def has_identifier(*, kind: str) -> Exists:
    """For a query over customers: whether the customer (OuterRef "id") has an identifier of `kind`."""
    return Exists(CustomerIdentifier.objects.filter(customer_id=OuterRef("id"), kind=kind))


def marketing_consent_pairs() -> set[tuple[uuid.UUID, str]]:
    """(customer id, channel) of every marketing consent granted."""
    return set(Consent.objects.filter(purpose=Purpose.MARKETING, is_granted=True).values_list("customer_id", "channel"))
