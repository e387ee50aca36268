"""The insights rollups (async, checkpointed): per day x channel x metric, and the per-order and per-profile facts
that customer-level figures (cohorts, CLTV, repeat, churn, omnichannel) are computed from at request time.

Events are named by the EventData classes of the apps below (a misspelt type cannot be written). Each batch is
written in a handful of statements: the daily figures in one upsert, new orders and profiles in one insert each,
changed orders in one bulk update. Days are local days (settings.TIME_ZONE).

Orders count where and when they were placed: a refund or a cancellation changes the figures of the order's own day
and sales channel, so the revenue of a period is the net value of the orders placed in it (as the customer 360's
lifetime value). Erasure changes nothing here: the orders and amounts of an erased customer remain.
"""

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db.models import Case, Q, Value, When

from backoffice.eventstore.people import merge_groups
from backoffice.eventstore.projector import ASYNC, Projection, type_names
from backoffice.eventstore.times import LocalDays
from backoffice.eventstore.upserts import Row, upsert, upsert_objects
from backoffice.eventstore.vocabulary import FulfilmentMethod
from backoffice.messaging.events import (
    MessageBounced,
    MessageClicked,
    MessageDelivered,
    MessageRead,
    MessageSent,
    MessageSuppressed,
    MessageUnsubscribed,
)
from campaigns.events import (
    CampaignAudienceImported,
    CampaignAudienceSnapshotted,
    CampaignChanged,
    CampaignCreated,
    CampaignImported,
    CampaignLaunched,
)
from campaigns.selectors import attribution_days
from customers.events import (
    CheckoutStarted,
    ConsentGranted,
    ContentShared,
    CustomerMerged,
    CustomerRegistered,
    CustomerUnmerged,
    PageViewed,
    ProductViewed,
    ReviewPosted,
    SearchPerformed,
    WishlistItemAdded,
)
from orders.events import CartItemAdded, OrderCancelled, OrderPlaced, OrderReturned, StockCounted

from .models import AudienceFact, CampaignFact, CampaignTouch, DailyMetric, OrderFact, PersonFact
from .rollups import add_to_daily_metrics, month_index

FUNNEL_STAGES = {
    PageViewed.type_name: "browse",
    ProductViewed.type_name: "browse",
    SearchPerformed.type_name: "browse",
    CartItemAdded.type_name: "plan",
    WishlistItemAdded.type_name: "plan",
    CheckoutStarted.type_name: "plan",
    OrderPlaced.type_name: "buy",
    MessageRead.type_name: "keep_in_touch",
    MessageClicked.type_name: "keep_in_touch",
    ConsentGranted.type_name: "keep_in_touch",
    ReviewPosted.type_name: "share",
    ContentShared.type_name: "share",
}
CAMPAIGN_MESSAGE_METRICS = {
    MessageSent.type_name: "campaign.sent",
    MessageDelivered.type_name: "campaign.delivered",
    MessageRead.type_name: "campaign.read",
    MessageClicked.type_name: "campaign.clicked",
    MessageBounced.type_name: "campaign.bounced",
    MessageUnsubscribed.type_name: "campaign.unsubscribed",
    MessageSuppressed.type_name: "campaign.suppressed",
}
ORDER_TYPES = type_names(OrderPlaced, OrderReturned, OrderCancelled)
PERSON_TYPES = type_names(CustomerRegistered, CustomerMerged, CustomerUnmerged)
FUNNEL_METRICS = {type_name: f"funnel.{stage}" for type_name, stage in FUNNEL_STAGES.items()}
# Bound once, as orders' fold_stock does: the two loops below compare every event of the log with them, and a class
# attribute read per comparison cost several times the comparison.
ORDER_PLACED, MESSAGE_SENT, STOCK_COUNTED = OrderPlaced.type_name, MessageSent.type_name, StockCounted.type_name
REGISTERED, MERGED = CustomerRegistered.type_name, CustomerMerged.type_name
MERGE_TYPES = type_names(CustomerMerged, CustomerUnmerged)
REFUND_TYPES = type_names(OrderReturned, OrderCancelled)
ONE = Decimal(1)
ZERO = Decimal(0)


def is_stock_reason(reason: str) -> bool:
    """A cancellation for lack of stock: its reason names one of settings.INSIGHTS_STOCK_CANCEL_REASONS."""
    text = (reason or "").lower()
    return any(word in text for word in settings.INSIGHTS_STOCK_CANCEL_REASONS)


class InsightsRollups(Projection):
    name = "insights.rollups"
    mode = ASYNC
    models = (DailyMetric, OrderFact, PersonFact, CampaignTouch)
    event_types = tuple(sorted({*FUNNEL_STAGES, *CAMPAIGN_MESSAGE_METRICS, *ORDER_TYPES, *PERSON_TYPES, STOCK_COUNTED}))

    def retry(self, event, passed):
        # A cancellation or return read while the placement had failed found no order and counted nothing (they
        # count in no funnel either): applied again after it, in order, as a rebuild would.
        refunds = [later for later in passed if later.type in REFUND_TYPES] if event.type == ORDER_PLACED else []
        self.apply([event, *refunds])

    def apply(self, events):
        batch = _Batch(events)
        day_of = LocalDays().of
        merges = []
        # Most events only count in the funnel: counted as integers per key, added to the batch's figures once.
        funnel: dict[tuple, int] = defaultdict(int)
        for event in events:
            day = day_of(event.occurred_at)
            metric = FUNNEL_METRICS.get(event.type)
            if metric:
                funnel[(day, event.channel or "", metric)] += 1
            if event.type in ORDER_TYPES:
                batch.order_event(event, day)
            elif event.type in CAMPAIGN_MESSAGE_METRICS:
                batch.message_event(event, day)
            elif event.type == STOCK_COUNTED:
                batch.stock_counted(event, day)
            elif event.type == REGISTERED:
                batch.registered(event, day)
            elif event.type in MERGE_TYPES:
                merges.append(event)
                if event.type == MERGED:
                    batch.merged(event)
        for (day, channel, metric), count in funnel.items():
            batch.add(day, channel, metric, Decimal(count))
        batch.flush()
        # Merges are folded after the batch is written, in order: they repoint rows (profiles and orders) by id,
        # so the orders this batch placed before or after them end up under the right person either way.
        _fold_merges(merges)


class _Order(Row):
    """An OrderFact row as a batch works on it (no model instance per order placed or refunded)."""

    COLUMNS = tuple(field.attname for field in OrderFact._meta.concrete_fields)
    __slots__ = COLUMNS

    order_id: str
    customer_id: uuid.UUID | None
    person_id: uuid.UUID | None
    acquisition_channel: str
    registered_month: int | None
    channel: str
    placed_at: datetime
    placed_day: date
    placed_month: int
    total: Decimal
    refunded: Decimal
    net_cents: int
    is_cancelled: bool
    fulfilment_method: str
    fulfilment_location: str
    campaign_id: str
    campaign_channel: str


class _Touch(NamedTuple):
    """A CampaignTouch row (customer id -> the last campaign message sent to them), as plain values."""

    campaign_id: str
    channel: str
    sent_at: datetime


class _Batch:
    def __init__(self, events):
        self.deltas: dict[tuple, Decimal] = {}
        self.new_people: list[PersonFact] = []
        self.new_orders: dict[str, _Order] = {}
        self.changed_orders: dict[str, _Order] = {}
        # The batch's new orders by a profile insights has not seen registered yet: its registration later in the
        # batch gives them its acquisition channel and month, as it does to such orders already stored.
        self.awaiting_registration: dict[uuid.UUID, list[_Order]] = defaultdict(list)
        self.touches: dict[uuid.UUID, _Touch] = {}
        self.changed_touches: set[uuid.UUID] = set()
        placed, referenced, buyers, recipients, merging = set(), set(), set(), set(), set()
        for event in events:
            if event.type == ORDER_PLACED:
                placed.add(str(event.data["order_id"]))
                if event.customer_id is not None:
                    buyers.add(event.customer_id)
            elif event.type in REFUND_TYPES:
                referenced.add(str(event.data["order_id"]))
            elif event.type == MESSAGE_SENT and event.data.get("campaign_id") and event.customer_id:
                recipients.add(event.customer_id)
            elif event.type == MERGED:
                merging.update(uuid.UUID(str(event.data[key])) for key in ("customer_id", "merged"))
        # A few reads per batch: the earlier orders this batch refunds or cancels, the people (person and acquisition
        # channel) of the customers who order and every profile of those people, the campaign touches of those
        # profiles, and the attribution window of the campaigns touched.
        self.known_orders: dict[str, _Order] = (
            {
                row[0]: _Order(*row)
                for row in OrderFact.objects.filter(order_id__any=list(referenced - placed)).values_list(
                    *_Order.COLUMNS
                )
            }
            if referenced - placed
            else {}
        )
        self.people: dict[uuid.UUID, tuple] = _people_of(buyers | merging)
        self.members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        # Only the people who order need their other profiles (a message to any of them counts).
        persons = {self.people[cid][0] for cid in buyers if cid in self.people}
        persons |= {self.people[cid][0] for cid in merging if cid in self.people}
        if persons:
            person_of = {person[0]: person for person in self.people.values()}
            for customer_id, person_id in PersonFact.objects.filter(person_id__any=list(persons)).values_list(
                "customer_id", "person_id"
            ):
                self.members[person_id].add(customer_id)
                self.people.setdefault(customer_id, person_of[person_id])
        profiles = buyers | recipients | persons | {cid for group in self.members.values() for cid in group}
        if profiles:
            self.touches = {
                customer_id: _Touch(campaign_id, channel, sent_at)
                for customer_id, campaign_id, channel, sent_at in CampaignTouch.objects.filter(
                    customer_id__any=list(profiles)
                ).values_list("customer_id", "campaign_id", "channel", "sent_at")
            }
        self.windows = CampaignWindows({touch.campaign_id for touch in self.touches.values()})

    def merged(self, event) -> None:
        """A merge seen in this batch moves the merged profiles to the survivor's person (its id, acquisition channel
        and registration month) for the orders after it, their person and attribution, as _MergeFold moves them in
        the tables when the batch is written: so an order is the same whether the merge came in its batch or before.
        The profiles that move are those whose person is the merged profile, or the merged profile alone; a profile
        insights has not seen registered has no row to move."""
        survivor, merged = (uuid.UUID(str(event.data[key])) for key in ("customer_id", "merged"))
        person = self.people.get(survivor, (survivor, "", None))
        moving = self.members.pop(merged, set()) or ({merged} if merged in self.people else set())
        for customer_id in moving:
            self.members.get(self.people[customer_id][0], set()).discard(customer_id)
            self.people[customer_id] = person
        self.members[person[0]] |= moving

    def add(self, day, channel: str, metric: str, value: Decimal = ONE, dimension: str = "") -> None:
        key = (day, channel, metric, dimension)
        self.deltas[key] = self.deltas.get(key, ZERO) + value

    def order_event(self, event, day) -> None:
        order_id = str(event.data["order_id"])
        if event.type == OrderPlaced.type_name:
            if order_id in self.new_orders or order_id in self.known_orders:
                return
            person_id, acquisition_channel, registered_month = (
                self.people.get(event.customer_id, (event.customer_id, "", None))
                if event.customer_id
                else (None, "", None)
            )
            total = Decimal(str(event.data["total"]))
            fulfilment = event.data.get("fulfilment") or {}
            order = _Order(
                order_id=order_id,
                customer_id=event.customer_id,
                person_id=person_id,
                acquisition_channel=acquisition_channel,
                registered_month=registered_month,
                channel=event.channel or "",
                placed_at=event.occurred_at,
                placed_day=day,
                placed_month=month_index(day),
                total=total,
                refunded=Decimal(0),
                net_cents=int(total * 100),
                is_cancelled=False,
                fulfilment_method=fulfilment.get("method", ""),
                fulfilment_location=fulfilment.get("location", ""),
                campaign_id="",
                campaign_channel="",
            )
            self._attribute(order, event)
            self.new_orders[order_id] = order
            if event.customer_id and event.customer_id not in self.people:
                self.awaiting_registration[event.customer_id].append(order)
            self._count_order(order, sign=ONE)
            if order.fulfilment_method == FulfilmentMethod.PICKUP:
                # Placements, whatever became of them: the base of the click-and-collect failure rate.
                self.add(day, order.channel, "pickup.orders", ONE, order.fulfilment_location)
            return
        order = self.new_orders.get(order_id) or self.known_orders.get(order_id)
        if order is None or order.is_cancelled:
            return  # an order placed before insights could see it, or already cancelled: nothing left to count
        if order_id not in self.new_orders:
            self.changed_orders[order_id] = order
        if event.type == OrderReturned.type_name:
            refund = Decimal(str(event.data.get("refund_amount", "0")))
            order.refunded += refund
            order.net_cents -= int(refund * 100)
            self.add(order.placed_day, order.channel, "orders.refunds", refund)
            if order.campaign_id:
                self.add(order.placed_day, order.campaign_channel, "campaign.revenue", -refund, order.campaign_id)
        else:
            self._count_order(order, sign=-ONE)
            order.is_cancelled = True
            if order.fulfilment_method == FulfilmentMethod.PICKUP and is_stock_reason(event.data.get("reason", "")):
                # On the placement's day, as its base "pickup.orders": a period's rate is of the orders placed in it.
                self.add(order.placed_day, order.channel, "pickup.stock_cancelled", ONE, order.fulfilment_location)

    def _count_order(self, order: _Order, *, sign: Decimal) -> None:
        self.add(order.placed_day, order.channel, "orders.count", sign)
        self.add(order.placed_day, order.channel, "orders.gross", sign * order.total)
        if order.refunded:
            self.add(order.placed_day, order.channel, "orders.refunds", sign * order.refunded)
        if order.campaign_id:
            net = order.total - order.refunded
            self.add(order.placed_day, order.campaign_channel, "campaign.orders", sign, order.campaign_id)
            self.add(order.placed_day, order.campaign_channel, "campaign.revenue", sign * net, order.campaign_id)

    def _attribute(self, order: _Order, event) -> None:
        """Last touch: the campaign message sent last, before the order, to any profile of the person who ordered
        (merges folded as they stood when the order was placed), within that campaign's attribution window."""
        if not event.customer_id:
            return
        profiles = {event.customer_id, order.person_id, *self.members.get(order.person_id, ())}
        candidates = [self.touches.get(profile) for profile in profiles]
        touches = [t for t in candidates if t is not None and t.sent_at <= event.occurred_at]
        if not touches:
            return
        touch = max(touches, key=lambda t: t.sent_at)
        if event.occurred_at <= touch.sent_at + self.windows.window(touch.campaign_id):
            order.campaign_id, order.campaign_channel = touch.campaign_id, touch.channel

    def message_event(self, event, day) -> None:
        campaign_id = event.data.get("campaign_id")
        metric = CAMPAIGN_MESSAGE_METRICS.get(event.type)
        if not campaign_id or metric is None or event.data.get("is_repeat"):
            return  # a message counts once per status: a second open is in the log, not in "opened"
        self.add(day, event.channel or "", metric, ONE, str(campaign_id))
        if event.type == MessageSent.type_name and event.customer_id is not None:
            touch = self.touches.get(event.customer_id)
            if touch is None or touch.sent_at <= event.occurred_at:
                self.touches[event.customer_id] = _Touch(str(campaign_id), event.channel or "", event.occurred_at)
                self.changed_touches.add(event.customer_id)
                self.windows.learn(str(campaign_id))

    def stock_counted(self, event, day) -> None:
        location = str(event.data["location"])
        counted, expected = int(event.data["counted"]), int(event.data["expected"])
        self.add(day, "", "stock.counts", ONE, location)
        self.add(day, "", "stock.expected", Decimal(expected), location)
        self.add(day, "", "stock.counted", Decimal(counted), location)
        self.add(day, "", "stock.abs_difference", Decimal(abs(expected - counted)), location)
        if counted == expected:
            self.add(day, "", "stock.exact", ONE, location)

    def registered(self, event, day) -> None:
        if event.customer_id is None:
            return
        self.people[event.customer_id] = (event.customer_id, event.channel or "", month_index(day))
        self.members[event.customer_id].add(event.customer_id)
        for order in self.awaiting_registration.pop(event.customer_id, ()):
            order.acquisition_channel, order.registered_month = event.channel or "", month_index(day)
        self.new_people.append(
            PersonFact(
                customer_id=event.customer_id,
                person_id=event.customer_id,
                acquisition_channel=event.channel or "",
                registered_day=day,
                registered_month=month_index(day),
            )
        )

    def flush(self) -> None:
        """Write what the batch has gathered so far; what it wrote becomes known (a merge reads the tables)."""
        if self.new_people:
            upsert_objects(self.new_people, key=("customer_id",))
            _adopt_orders_placed_before_registration([p.customer_id for p in self.new_people])
            self.new_people = []
        if self.new_orders:
            upsert(
                OrderFact,
                _Order.COLUMNS,
                [order.values() for order in self.new_orders.values()],
                key=("order_id",),
                merge={},
            )
            self.known_orders.update(self.new_orders)
            self.new_orders = {}
        if self.changed_orders:
            upsert(
                OrderFact,
                ("order_id", "refunded", "net_cents", "is_cancelled"),
                [(o.order_id, o.refunded, o.net_cents, o.is_cancelled) for o in self.changed_orders.values()],
                key=("order_id",),
                merge=dict.fromkeys(("refunded", "net_cents", "is_cancelled"), "replace"),
                update_only=True,
            )
            self.changed_orders = {}
        if self.changed_touches:
            upsert(
                CampaignTouch,
                ("customer_id", "campaign_id", "channel", "sent_at"),
                [(cid, *self.touches[cid]) for cid in self.changed_touches],
                key=("customer_id",),
                merge=dict.fromkeys(("campaign_id", "channel", "sent_at"), "replace"),
            )
            self.changed_touches = set()
        add_to_daily_metrics({key: value for key, value in self.deltas.items() if value})
        self.deltas = {}


class CampaignWindows:
    """Each campaign's attribution window (the "Why" of its worksheet); INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS for a
    campaign the campaigns app does not know. Read once per batch for the campaigns the batch touches."""

    def __init__(self, campaign_ids):
        self.days: dict[str, int] = {}
        self.learn(*campaign_ids)

    def learn(self, *campaign_ids: str) -> None:
        unknown = {cid for cid in campaign_ids if cid not in self.days}
        if not unknown:
            return
        self.days.update(dict.fromkeys(unknown, settings.INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS))
        valid = []
        for value in unknown:
            try:
                valid.append(uuid.UUID(value))
            except ValueError:
                continue
        if valid:
            for cid, days in attribution_days(campaign_ids=valid):
                self.days[str(cid)] = days

    def window(self, campaign_id: str) -> timedelta:
        self.learn(campaign_id)
        return timedelta(days=self.days[campaign_id])


def _people_of(customer_ids) -> dict:
    """customer id -> (person id, the person's acquisition channel and registration month), for the profiles
    insights knows."""
    if not customer_ids:
        return {}
    rows = dict(PersonFact.objects.filter(customer_id__any=list(customer_ids)).values_list("customer_id", "person_id"))
    people = {
        cid: (channel, month)
        for cid, channel, month in PersonFact.objects.filter(customer_id__any=list(set(rows.values()))).values_list(
            "customer_id", "acquisition_channel", "registered_month"
        )
    }
    return {cid: (pid, *people.get(pid, ("", None))) for cid, pid in rows.items()}


def _adopt_orders_placed_before_registration(customer_ids: list) -> None:
    """Orders placed by a profile before insights saw it registered (one read per batch; rarely any rows)."""
    orphans = set(
        OrderFact.objects.filter(person_id__any=customer_ids, acquisition_channel="").values_list(
            "person_id", flat=True
        )
    )
    for person_id, channel, month in PersonFact.objects.filter(customer_id__in=orphans).values_list(
        "customer_id", "acquisition_channel", "registered_month"
    ):
        OrderFact.objects.filter(person_id=person_id).update(acquisition_channel=channel, registered_month=month)


def _merged_into_any(frontier: set[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    return list(PersonFact.objects.filter(merged_into__in=frontier).values_list("customer_id", "merged_into"))


def _fold_merges(events) -> None:
    """Fold the batch's merges and unmerges in their order. A run of merges is folded at once (_MergeFold: a few
    statements whatever its length); an unmerge, rare and a walk of its own, is folded alone."""
    run: list = []
    for event in events:
        if event.type == CustomerMerged.type_name:
            run.append(event)
            continue
        _MergeFold(run).write()
        run = []
        _fold_unmerge(event)
    _MergeFold(run).write()


class _Profile(Row):
    """A PersonFact row as a run of merges moves it."""

    COLUMNS = ("customer_id", "person_id", "merged_into", "acquisition_channel", "registered_month")
    __slots__ = COLUMNS

    customer_id: uuid.UUID
    person_id: uuid.UUID
    merged_into: uuid.UUID | None
    acquisition_channel: str
    registered_month: int | None


class _MergeFold:
    """A run of `customer.merged` folded in memory, each merge as it would change the tables one at a time, then
    written in four statements: the profiles the run can touch are read (two reads), and the changed profiles and
    orders written (one statement each), instead of six statements per merge.

    One merge (survivor, merged): the merged profile's `merged_into` is the survivor; every profile whose person is
    the merged one (or the merged profile alone, when none is) takes the person of the survivor (its root); and the
    orders of the merged person move to that root, with the root's acquisition channel and registration month.
    The profiles a run can touch are those of its customers and of their people, and those whose person is one of
    them: a merge moves profiles only onto the root of a survivor, which is one of these."""

    def __init__(self, events) -> None:
        self.pairs = [(uuid.UUID(str(e.data["customer_id"])), uuid.UUID(str(e.data["merged"]))) for e in events]
        self.profiles: dict[uuid.UUID, _Profile] = {}
        self.changed: set[uuid.UUID] = set()
        # Orders keep the person they were placed under (a label): label -> (person, channel, month) once moved, and
        # which labels each person now holds.
        self.moved_orders: dict[uuid.UUID, tuple[uuid.UUID, str, int | None]] = {}
        self.labels_of: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        # person -> the profiles whose person it is
        self.members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        if not self.pairs:
            return
        customers = {customer for pair in self.pairs for customer in pair}
        people = set(
            PersonFact.objects.filter(customer_id__any=list(customers)).values_list("person_id", flat=True).distinct()
        )
        wanted = list(customers | people)
        rows = PersonFact.objects.filter(Q(customer_id__any=wanted) | Q(person_id__any=wanted))
        self.profiles = {row[0]: _Profile(*row) for row in rows.values_list(*_Profile.COLUMNS)}
        for profile in self.profiles.values():
            self.members[profile.person_id].add(profile.customer_id)
        for survivor, merged in self.pairs:
            self._fold(survivor, merged)

    def _fold(self, survivor: uuid.UUID, merged: uuid.UUID) -> None:
        profiles = self.profiles
        root = profiles[survivor].person_id if survivor in profiles else survivor
        channel, month = (
            (profiles[root].acquisition_channel, profiles[root].registered_month) if root in profiles else ("", None)
        )
        if merged in profiles:
            profiles[merged].merged_into = survivor
            self.changed.add(merged)
        for customer_id in list(self.members.get(merged) or {merged}):
            profile = profiles.get(customer_id)
            if profile is None:
                continue
            self.members[profile.person_id].discard(customer_id)
            profile.person_id = root
            self.members[root].add(customer_id)
            self.changed.add(customer_id)
        # The orders under the merged person now: those placed under it, unless moved already, and those moved to it.
        labels = self.labels_of.pop(merged, set())
        if merged not in self.moved_orders:
            labels.add(merged)
        for label in labels:
            self.moved_orders[label] = (root, channel, month)
        self.labels_of[root] |= labels

    def write(self) -> None:
        if self.changed:
            upsert(
                PersonFact,
                ("customer_id", "person_id", "merged_into"),
                [
                    (profile.customer_id, profile.person_id, profile.merged_into)
                    for profile in map(self.profiles.__getitem__, self.changed)
                ],
                key=("customer_id",),
                merge={"person_id": "replace", "merged_into": "replace"},
                update_only=True,
            )
        moves = [(label, *to) for label, to in self.moved_orders.items()]
        for start in range(0, len(moves), _MOVES_PER_STATEMENT):
            chunk = moves[start : start + _MOVES_PER_STATEMENT]

            def each(column: int, field: str, chunk=chunk) -> Case:
                return Case(
                    *(When(person_id=move[0], then=Value(move[column])) for move in chunk),
                    output_field=OrderFact._meta.get_field(field),
                )

            OrderFact.objects.filter(person_id__any=[move[0] for move in chunk]).update(
                person_id=each(1, "person_id"),
                acquisition_channel=each(2, "acquisition_channel"),
                registered_month=each(3, "registered_month"),
            )


# Orders moved per UPDATE: a CASE branch per moved person (a run of merges is a handful; an import may bring more).
_MOVES_PER_STATEMENT = 500


def _fold_unmerge(event) -> None:
    """An unmerge: the profile is a person of its own again, with everyone merged into it (directly or through a
    chain), and their orders."""
    unmerged = uuid.UUID(str(event.data["unmerged"]))
    PersonFact.objects.filter(customer_id=unmerged).update(merged_into=None)
    group = set(merge_groups({unmerged}, _merged_into_any))
    channel, month = PersonFact.objects.filter(customer_id=unmerged).values_list(
        "acquisition_channel", "registered_month"
    ).first() or ("", None)
    PersonFact.objects.filter(customer_id__in=group).update(person_id=unmerged)
    OrderFact.objects.filter(customer_id__in=group).update(
        person_id=unmerged, acquisition_channel=channel, registered_month=month
    )


AUDIENCE_TYPES = type_names(CampaignAudienceSnapshotted, CampaignAudienceImported)
CAMPAIGN_TYPES = type_names(CampaignCreated, CampaignChanged, CampaignImported, CampaignLaunched)


class InsightsCampaignAudience(Projection):
    """Each campaign's frozen audience (who is held out) and its attribution window, for the lift: insights' own
    copy, so the lift joins insights' tables only."""

    name = "insights.campaign_audience"
    mode = ASYNC
    models = (AudienceFact, CampaignFact)
    event_types = (*AUDIENCE_TYPES, *CAMPAIGN_TYPES)

    def apply(self, events):
        members: list[AudienceFact] = []
        for event in events:
            data = event.data
            if event.type == CampaignAudienceSnapshotted.type_name:
                held = {str(cid) for cid in data.get("holdout_ids", ())}
                people = [(cid, str(cid) in held) for cid in data["customer_ids"]]
            elif event.type == CampaignAudienceImported.type_name:
                people = [(m["customer_id"], bool(m.get("is_holdout"))) for m in data["members"]]
            else:
                _campaign_fact(event)
                continue
            members += [
                AudienceFact(
                    campaign_id=uuid.UUID(data["campaign_id"]), profile_id=uuid.UUID(str(cid)), is_holdout=held
                )
                for cid, held in people
            ]
        # A chunk replayed after a crash (or imported as well as snapshotted) adds no one twice.
        AudienceFact.objects.bulk_create(members, ignore_conflicts=True, batch_size=2000)


def _campaign_fact(event) -> None:
    """The campaign's attribution days (its worksheet) and launch time; the window is their sum."""
    data = event.data
    campaign_id = uuid.UUID(data["campaign_id"])
    fact = CampaignFact.objects.filter(pk=campaign_id).first() or CampaignFact(campaign_id=campaign_id)
    if "worksheet" in data:
        fact.attribution_days = data["worksheet"].get("attribution_days", fact.attribution_days)
    launched_at = data.get("launched_at")
    if isinstance(launched_at, str):
        launched_at = datetime.fromisoformat(launched_at)
    if event.type == CampaignLaunched.type_name and not data.get("is_scheduled"):
        # The launch's own time, or the event's for launches recorded before the field existed.
        fact.launched_at = launched_at or event.occurred_at
    elif event.type == CampaignImported.type_name and launched_at:
        fact.launched_at = launched_at
    fact.window_end = fact.launched_at + timedelta(days=fact.attribution_days) if fact.launched_at else None
    fact.save()
