"""Projections of the customers app.

- customers.directory (inline): who exists, by which identifiers, under which name, who was merged into whom, and
  who was erased; identity resolution reads it inside the same transaction that appends, so it must never lag.
  Identifiers stay with the customer who brought them; a merge only points the younger customer at the older
  (`merged_into`), so an unmerge gives each back exactly what it had.
- customers.cases (inline): service cases and their cross-channel threads.
- customers.commerce (async): order count, net lifetime value and first and last order per customer, from the
  orders app's events read by type name (this app sits below orders and never imports it). Analytic figures (the
  360's orders, segments, personalisation): off the append's transaction; readers that must count an order placed
  a moment ago catch it up first (campaign fan-out, segment counts).
- customers.consents (inline): the current consent per channel and purpose; senders must see a withdrawal at once.
- customers.activity (async): last interaction, interaction count and channels used per customer, from every event
  that concerns a customer, whatever app wrote it.
- customers.channel_daily (async): interactions per day x channel x type.
"""

import unicodedata
import uuid
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from django.db import connection, models
from django.db.models import Count, F, Max, Min, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from backoffice.eventstore.keys import ERASED
from backoffice.eventstore.projector import ALL_TYPES, ASYNC, INLINE, Projection, handles, type_names
from backoffice.eventstore.times import LocalDays
from backoffice.eventstore.upserts import Row, insert, upsert
from backoffice.messaging.events import NOT_ENGAGEMENT_TYPES

from .events import (
    CaseCsatRecorded,
    CaseMessageAdded,
    CaseOpened,
    CaseResolved,
    ConsentGranted,
    ConsentRevoked,
    CustomerAddressUndeliverable,
    CustomerErased,
    CustomerExported,
    CustomerIdentified,
    CustomerIdentifierAdded,
    CustomerMerged,
    CustomerProfileUpdated,
    CustomerRegistered,
    CustomerUnmerged,
)
from .models import Case, CaseMessage, ChannelActivityDaily, Consent, Customer, CustomerIdentifier, CustomerOrder

# Staff acting on the customer's record, not the customer interacting: an export must not make them look active.
# What we sent and how the pipeline handled it is not the customer interacting either (opens and clicks are).
RECORD_KEEPING_TYPES = frozenset(
    {*type_names(CustomerErased, CustomerExported, CustomerMerged, CustomerUnmerged), *NOT_ENGAGEMENT_TYPES}
)


# The events whose data may change a profile: an identify only by a birthday among its traits.
PROFILE_TYPES: Final = type_names(CustomerProfileUpdated, CustomerIdentified)


def identifier_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def name_search_key(text: str) -> str:
    """A name (or what staff typed to find one) as the name search compares it: accents and other marks dropped
    (NFKD, then the combining marks left out), case folded and spaces collapsed. "ÁLVARO  Núñez" -> "alvaro nunez"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).split())


class CustomerDirectory(Projection):
    name = "customers.directory"
    mode = INLINE
    models = (CustomerIdentifier, Customer)
    event_types = (
        CustomerRegistered,
        CustomerIdentifierAdded,
        CustomerProfileUpdated,
        CustomerMerged,
        CustomerUnmerged,
        CustomerErased,
        CustomerAddressUndeliverable,
        CustomerIdentified,
    )

    def apply(self, events):
        # Registrations and identifiers (the bulk of ingestion) are written in two statements; the rarer events
        # after them, in order, since they change rows a registration of the same batch may have just created.
        customers: dict = {}
        identifiers, later = [], []
        for event in events:
            if event.type == CustomerRegistered.type_name:
                name = readable_text(event.data.get("name", ""))
                customers[event.customer_id] = {
                    "id": event.customer_id,
                    "registered_at": event.occurred_at,
                    "acquisition_channel": event.channel or "",
                    "display_name": name,
                    "search_name": name_search_key(name or ""),
                }
                readable = readable_identifiers(event.data["identifiers"])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            elif event.type == CustomerIdentifierAdded.type_name:
                readable = readable_identifiers([event.data["identifier"]])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            elif event.type == CustomerIdentified.type_name:
                if self._profile_changes(event):  # only a birthday among its traits changes the profile
                    later.append(event)
            else:
                later.append(event)
        # A name given, or a merge made, to a customer this batch registers goes into the new row itself until
        # something else comes (an unmerge, an erasure...): applied in order, the rows would end the same. Names and
        # merges of other customers touch other rows, so they keep their order among the rest.
        rest, folding = [], True
        for event in later:
            if folding and event.type in (*PROFILE_TYPES, CustomerMerged.type_name):
                if event.type == CustomerMerged.type_name:
                    row = customers.get(uuid.UUID(str(event.data["merged"])))
                    if row is not None:
                        row["merged_into_id"] = event.customer_id
                        continue
                else:
                    row = customers.get(event.customer_id)
                    if row is not None:
                        row.update(self._profile_changes(event))
                        continue
            else:
                folding = False
            rest.append(event)
        # One statement per table for the whole batch: a conflict (an identifier another call registered) raises.
        insert(Customer, list(customers.values()))
        insert(CustomerIdentifier, identifiers)
        # Name changes and merges are collected and written one statement per kind; an unmerge or an erasure
        # writes what was collected before it first, so the rows end as applying every event in order would.
        profiles: dict = {}
        merges: dict = {}
        for event in rest:
            if event.type in PROFILE_TYPES:
                profiles.setdefault(event.customer_id, {}).update(self._profile_changes(event))
            elif event.type == CustomerMerged.type_name:
                merges[event.data["merged"]] = event.customer_id
            else:
                self._flush(profiles, merges)
                profiles, merges = {}, {}
                if event.type == CustomerUnmerged.type_name:
                    Customer.objects.filter(id=event.data["unmerged"]).update(merged_into_id=None)
                elif event.type == CustomerAddressUndeliverable.type_name:
                    for readable in readable_identifiers([event.data["identifier"]]):
                        CustomerIdentifier.objects.filter(
                            key=identifier_key(readable["kind"], readable["value"]), undeliverable_at=None
                        ).update(undeliverable_at=event.occurred_at)
                elif event.type == CustomerErased.type_name:
                    CustomerIdentifier.objects.filter(customer_id=event.customer_id).delete()
                    Customer.objects.filter(id=event.customer_id).update(
                        erased_at=event.occurred_at, display_name="", search_name="", birthday=None
                    )
        self._flush(profiles, merges)

    @staticmethod
    def _profile_changes(event) -> list[tuple[str, object]]:
        """The columns a profile update names (one it does not name keeps its value); of an identify, the birthday
        among its traits."""
        if event.type == CustomerIdentified.type_name:
            traits = event.data.get("traits")
            trait = traits.get("birthday") if isinstance(traits, dict) else None  # erased: not a dict any more
            birthday = readable_birthday(trait, given_at=event.occurred_at)
            return [("birthday", birthday)] if birthday is not None else []
        name = readable_text(event.data.get("name"))
        changes = (
            ("display_name", name),
            ("search_name", None if name is None else name_search_key(name)),
            ("language", event.data.get("language")),
            ("time_zone", event.data.get("time_zone")),
            ("birthday", readable_birthday(event.data.get("birthday"), given_at=event.occurred_at)),
        )
        return [(column, value) for column, value in changes if value is not None]

    @staticmethod
    def _flush(profiles: dict, merges: dict) -> None:
        """One UPDATE for the profiles changed (an erased customer's profile stays scrubbed; a column an event did
        not name keeps its value), one for the birthdays given and one for merges, each row given its own values."""
        columns = ("display_name", "search_name", "language", "time_zone")
        changed = {cid: changes for cid, changes in profiles.items() if set(changes) & set(columns)}
        if changed:
            rows = [(cid, *(changes.get(c) for c in columns)) for cid, changes in changed.items()]
            _update_rows(Customer, columns, rows, assign="COALESCE({new}, {old})", where="erased_at IS NULL")
        # Apart: a VALUES column of NULLs only is text to PostgreSQL, which a date column cannot COALESCE with.
        birthdays = [(cid, changes["birthday"]) for cid, changes in profiles.items() if "birthday" in changes]
        if birthdays:
            _update_rows(Customer, ("birthday",), birthdays, assign="{new}", where="erased_at IS NULL")
        if merges:
            rows = [(uuid.UUID(str(merged)), into) for merged, into in merges.items()]
            _update_rows(Customer, ("merged_into_id",), rows, assign="{new}")

    def reset(self):
        # merged_into protects the customer a merge points at; the pointers go first.
        Customer.objects.exclude(merged_into=None).update(merged_into=None)
        super().reset()

    @staticmethod
    def _identifier(event, ident) -> dict:
        return {
            "key": identifier_key(ident["kind"], ident["value"]),
            "customer_id": event.customer_id,
            "kind": ident["kind"],
            "value": ident["value"],
            "added_at": event.occurred_at,
        }


# Rows per Case/When UPDATE: a few parameters each, under SQLite's limit of variables per statement.
_ROWS_PER_UPDATE: Final = 200


def _update_rows(model, columns: tuple[str, ...], rows: list[tuple], *, assign: str, where: str = "") -> None:
    """UPDATE many rows of `model`, each with its own values, in one statement: rows are (pk, *values of columns),
    given as a VALUES list named `new`; `assign` says how a column takes its new value ({new}, {old}).

    What Case/When does in the ORM, at a tenth of the cost: Django compiled each When as a filter (a profile update
    of 43 customers was 60-90 ms of Python per ingested batch). Values are prepared by their fields; the SQL is the
    same on every database (a common table expression and correlated subqueries)."""
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in columns)]
    names = ["k", *(f"c{i}" for i in range(len(columns)))]
    sets = ", ".join(
        "{} = {}".format(
            quote(field.column),
            assign.format(
                new=f"(SELECT new.{name} FROM new WHERE new.k = {table}.{pk})",  # noqa: S608 - names
                old=f"{table}.{quote(field.column)}",
            ),
        )
        for field, name in zip(fields[1:], names[1:], strict=True)
    )
    condition = f" AND {where}" if where else ""
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_UPDATE):
            chunk = rows[start : start + _ROWS_PER_UPDATE]
            params = [
                None if value is None else field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            cursor.execute(
                f"WITH new({', '.join(names)}) AS (VALUES {', '.join([one_row] * len(chunk))}) "  # noqa: S608 - names
                f"UPDATE {table} SET {sets} WHERE {pk} IN (SELECT k FROM new){condition}",
                params,
            )


def readable_identifiers(identifiers) -> list[dict]:
    """The identifiers still readable. Once the customer's key is destroyed the sealed field reads back as ERASED
    (the whole list, or a value); keeping those would bring erased rows back on a rebuild, and their shared key
    ("email:[erased]") would collide between erased customers."""
    if identifiers == ERASED:
        return []
    return [ident for ident in identifiers if ident != ERASED and ident["value"] != ERASED]


def readable_birthday(value, *, given_at: datetime) -> date | None:
    """A birthday as given (an ISO-8601 date, or a date and time of which the date counts), or None when it is not
    one: absent, erased, unreadable, before 1900 or after the day it was given."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        found = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return found if date(1900, 1, 1) <= found <= given_at.date() else None


def readable_text(value):
    """A sealed text as the projection may keep it: None stays None (not given), an erased one becomes ""."""
    if value == ERASED:
        return ""
    return value


class ConsentLedger(Projection):
    """Current consent per customer, channel and purpose: the latest change by when it happened, so a till that
    syncs late cannot overwrite a newer withdrawal."""

    name = "customers.consents"
    mode = INLINE
    models = (Consent,)
    event_types = (ConsentGranted, ConsentRevoked)

    def apply(self, events):
        """One change (a command): read and write its row. Many (a rebuild, an import): one read of their rows, the
        latest change per row chosen here, one upsert."""
        if len(events) == 1:
            self.changed(events[0])
            return
        keys = {(event.customer_id, event.data["channel"], event.data["purpose"]) for event in events}
        latest: dict[tuple, tuple] = {
            (row[0], row[1], row[2]): (row[3], row[4])
            for row in Consent.objects.filter(customer_id__in={key[0] for key in keys}).values_list(
                "customer_id", "channel", "purpose", "changed_at", "position"
            )
        }
        chosen: dict[tuple, object] = {}
        for event in events:
            key = (event.customer_id, event.data["channel"], event.data["purpose"])
            if key in latest and latest[key] > (event.occurred_at, event.position):
                continue
            latest[key] = (event.occurred_at, event.position)
            chosen[key] = event
        Consent.objects.bulk_create(
            [
                Consent(
                    customer_id=customer_id,
                    channel=channel,
                    purpose=purpose,
                    is_granted=event.type == ConsentGranted.type_name,
                    source_channel=event.channel or "",
                    wording=event.data["wording"],
                    changed_at=event.occurred_at,
                    position=event.position,
                )
                for (customer_id, channel, purpose), event in chosen.items()
            ],
            update_conflicts=True,
            unique_fields=["customer_id", "channel", "purpose"],
            update_fields=["is_granted", "source_channel", "wording", "changed_at", "position"],
        )

    def changed(self, event):
        current = Consent.objects.filter(
            customer_id=event.customer_id, channel=event.data["channel"], purpose=event.data["purpose"]
        ).first()
        if current is not None and (current.changed_at, current.position) > (event.occurred_at, event.position):
            return
        Consent.objects.update_or_create(
            customer_id=event.customer_id,
            channel=event.data["channel"],
            purpose=event.data["purpose"],
            defaults={
                "is_granted": event.type == ConsentGranted.type_name,
                "source_channel": event.channel or "",
                "wording": event.data["wording"],
                "changed_at": event.occurred_at,
                "position": event.position,
            },
        )


class CustomerActivity(Projection):
    """Last interaction, interaction count and channels used per customer. A batch sums its events per customer and
    merges the sums into the customers' rows in one UPDATE (eventstore.upserts: the database adds the counts)."""

    name = "customers.activity"
    mode = ASYNC
    event_types = (ALL_TYPES,)
    writes = (Customer,)
    _COLUMNS = ("interaction_count", "last_interaction_at", "channels_used")

    def apply(self, events):
        per_customer: dict = {}
        skipped = RECORD_KEEPING_TYPES
        for event in events:
            customer_id = event.customer_id
            if customer_id is None or event.type in skipped:
                continue
            summary = per_customer.get(customer_id)
            if summary is None:
                summary = per_customer[customer_id] = [0, event.occurred_at, set()]
            summary[0] += 1
            if event.occurred_at > summary[1]:
                summary[1] = event.occurred_at
            if event.channel:
                summary[2].add(event.channel)
        # One UPDATE of the touched customers: the database adds the count, keeps the later time and the sorted
        # union of the channels (no read of their rows, no ORM object per customer).
        upsert(
            Customer,
            ("id", *self._COLUMNS),
            [(cid, added, latest, sorted(used)) for cid, (added, latest, used) in per_customer.items()],
            key=("id",),
            merge={"interaction_count": "add", "last_interaction_at": "max", "channels_used": "union"},
            update_only=True,
        )

    def reset(self):
        Customer.objects.update(interaction_count=0, last_interaction_at=None, channels_used=[])


class ChannelDaily(Projection):
    """Interactions per local day x channel x type: one upsert of the batch's counts, added by the database."""

    name = "customers.channel_daily"
    mode = ASYNC
    models = (ChannelActivityDaily,)
    event_types = (ALL_TYPES,)

    def apply(self, events):
        counts: dict[tuple, int] = defaultdict(int)
        days = LocalDays()
        for event in events:
            if event.channel:
                counts[(days.of(event.occurred_at), event.channel, event.type)] += 1
        if not counts:
            return
        upsert(
            ChannelActivityDaily,
            ("day", "channel", "type", "count"),
            [(*key, count) for key, count in counts.items()],
            key=("day", "channel", "type"),
            merge={"count": "add"},
        )


class _CommerceOrder(Row):
    """A CustomerOrder row as a batch works on it (no model instance per order read or placed)."""

    COLUMNS = ("order_id", "customer_id", "channel", "placed_at", "total", "refunded", "is_cancelled")
    __slots__ = COLUMNS

    order_id: str
    customer_id: uuid.UUID
    channel: str
    placed_at: datetime
    total: Decimal
    refunded: Decimal
    is_cancelled: bool


class CustomerCommerce(Projection):
    """Each customer's orders as this app needs them (id, channel, value, refunds, whether cancelled), and the
    counters the 360 view and segments read, recomputed from those rows so a cancellation or a refund is exact.

    Asynchronous (issue 15): nothing a command checks reads it, so it stays out of the order's transaction. One order
    placed alone in a batch: its row, then the owner's counters moved by it, two statements whatever the customer's
    history. A batch (catch-up, rebuild, import): one read of the orders it refers to, one upsert of the orders it
    adds or changes, and one UPDATE that recounts every touched customer from their rows. Read-then-write is safe
    because one writer at a time applies this projection (the lease of its checkpoint, or a rebuild holding every
    lease)."""

    name = "customers.commerce"
    mode = ASYNC
    models = (CustomerOrder,)
    writes = (Customer,)
    # Orders are a higher layer: named by type, checked against the declared types by check_event_types.
    event_types = ("order.placed", "order.returned", "order.cancelled")

    def apply(self, events):
        if len(events) == 1 and events[0].type == "order.placed" and events[0].customer_id is not None:
            self._add_one(events[0])
            return
        known = {
            row[0]: _CommerceOrder(*row)
            for row in CustomerOrder.objects.filter(
                order_id__any=list({str(event.data.get("order_id", "")) for event in events})
            ).values_list(*_CommerceOrder.COLUMNS)
        }
        # What each stored order counted for before this batch: (live, net value).
        counted_before = {
            order_id: (not order.is_cancelled, order.total - order.refunded) for order_id, order in known.items()
        }
        placed: dict[str, _CommerceOrder] = {}
        changed: dict[str, _CommerceOrder] = {}
        for event in events:
            order_id = str(event.data.get("order_id", ""))
            if event.type == "order.placed":
                if event.customer_id is None or order_id in known or order_id in placed:
                    continue  # first write wins: a replayed placement changes nothing
                placed[order_id] = _CommerceOrder(
                    order_id=order_id,
                    customer_id=event.customer_id,
                    channel=event.channel or "",
                    placed_at=event.occurred_at,
                    total=Decimal(str(event.data.get("total", "0"))),
                    refunded=Decimal(0),
                    is_cancelled=False,
                )
                continue
            order = placed.get(order_id) or known.get(order_id)
            if order is None:
                continue  # an order this projection never saw placed (no customer): nothing to count
            if event.type == "order.returned":
                order.refunded += Decimal(str(event.data.get("refund_amount", "0")))
            else:
                order.is_cancelled = True
            if order_id not in placed:
                changed[order_id] = order
        rows = [*placed.values(), *changed.values()]
        if not rows:
            return
        upsert(
            CustomerOrder,
            _CommerceOrder.COLUMNS,
            [order.values() for order in rows],
            key=("order_id",),
            merge={"refunded": "replace", "is_cancelled": "replace"},
        )
        self._move_counters(rows, counted_before)

    def _move_counters(self, orders: list[_CommerceOrder], counted_before: dict[str, tuple[bool, Decimal]]) -> None:
        """Move the counters of the batch's customers by what their orders changed: one UPDATE adding the count and
        value and keeping the earliest and latest order. An order that stopped counting (cancelled) may have been
        the first or last: its customer is recounted from their rows instead (orders never start counting again)."""
        recount: set = set()
        moved: dict = {}
        for order in orders:
            was_live, was_net = counted_before.get(order.order_id, (False, Decimal(0)))
            if was_live and order.is_cancelled:
                recount.add(order.customer_id)
                continue
            if order.is_cancelled:
                continue  # counted neither before nor now
            figures = moved.get(order.customer_id)
            if figures is None:
                figures = moved[order.customer_id] = [0, Decimal(0), None, None]
            figures[1] += order.total - order.refunded - was_net
            if not was_live and order.order_id not in counted_before:  # placed in this batch
                figures[0] += 1
                figures[2] = order.placed_at if figures[2] is None else min(figures[2], order.placed_at)
                figures[3] = order.placed_at if figures[3] is None else max(figures[3], order.placed_at)
        upsert(
            Customer,
            ("id", "order_count", "lifetime_value", "first_order_at", "last_order_at"),
            [(cid, *figures) for cid, figures in moved.items() if cid not in recount],
            key=("id",),
            merge={"order_count": "add", "lifetime_value": "add", "first_order_at": "min", "last_order_at": "max"},
            update_only=True,
        )
        if recount:
            self._recount(recount)

    def retry(self, event, passed):
        # A cancellation or return read while the placement had failed found no order and counted nothing: applied
        # again after it, in order, as a rebuild would.
        self.apply([event, *passed] if event.type == "order.placed" else [event])

    @staticmethod
    def _add_one(event) -> None:
        order = CustomerOrder(
            order_id=str(event.data.get("order_id", "")),
            customer_id=event.customer_id,
            channel=event.channel or "",
            placed_at=event.occurred_at,
            total=Decimal(str(event.data.get("total", "0"))),
        )
        fields = CustomerOrder._meta.concrete_fields
        customers, orders = Customer._meta.db_table, CustomerOrder._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {orders} ({', '.join(f.column for f in fields)}) "  # noqa: S608 - names from the model
                f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
                [f.get_db_prep_save(getattr(order, f.attname), connection) for f in fields],
            )
            if cursor.fetchone() is None:
                return  # already recorded (a replay): first write wins, the counters already hold it
            placed_at = connection.ops.adapt_datetimefield_value(order.placed_at)
            cursor.execute(
                f"UPDATE {customers} SET order_count = order_count + 1, lifetime_value = lifetime_value + %s, "  # noqa: S608
                "first_order_at = CASE WHEN first_order_at IS NULL OR first_order_at > %s THEN %s "
                "ELSE first_order_at END, "
                "last_order_at = CASE WHEN last_order_at IS NULL OR last_order_at < %s THEN %s ELSE last_order_at END "
                "WHERE id = %s",
                [
                    CustomerOrder._meta.get_field("total").get_db_prep_save(order.total, connection),
                    placed_at,
                    placed_at,
                    placed_at,
                    placed_at,
                    Customer._meta.pk.get_db_prep_value(order.customer_id, connection),
                ],
            )

    @staticmethod
    def _recount(customer_ids: set) -> None:
        """Recount these customers from their rows: one UPDATE per chunk, a subquery per counter."""
        live = CustomerOrder.objects.filter(customer_id=OuterRef("pk"), is_cancelled=False).order_by()
        per_customer = live.values("customer_id")

        def figure(aggregate):
            return Subquery(per_customer.annotate(figure=aggregate).values("figure"))

        ids = list(customer_ids)
        for start in range(0, len(ids), 500):
            Customer.objects.filter(pk__in=ids[start : start + 500]).update(
                order_count=Coalesce(figure(Count("*")), 0),
                lifetime_value=Coalesce(
                    figure(Sum(F("total") - F("refunded"))), Value(Decimal(0)), output_field=models.DecimalField()
                ),
                first_order_at=figure(Min("placed_at")),
                last_order_at=figure(Max("placed_at")),
            )

    def reset(self):
        super().reset()
        Customer.objects.update(order_count=0, lifetime_value=0, first_order_at=None, last_order_at=None)


class CaseBook(Projection):
    """Cases and their threads. Inline: the agent who replies must see the message that just arrived. Erasure
    scrubs the texts of the customer's cases (the events' copies are shredded with the key)."""

    name = "customers.cases"
    mode = INLINE
    models = (CaseMessage, Case)

    @handles(CaseOpened)
    def opened(self, event):
        Case.objects.create(
            id=event.data["case_id"],
            customer_id=event.customer_id,
            channel=event.channel or "",
            subject=readable_text(event.data["subject"]),
            order_ref=event.data["order_ref"],
            opened_at=event.occurred_at,
            last_message_at=event.occurred_at,
        )

    @handles(CaseMessageAdded)
    def message_added(self, event):
        case = Case.objects.get(id=event.data["case_id"])
        CaseMessage.objects.create(
            position=event.position,
            case=case,
            direction=event.data["direction"],
            channel=event.channel or "",
            text=readable_text(event.data["text"]),
            actor=event.metadata.get("actor", ""),
            message_id=event.data["message_id"],
            occurred_at=event.occurred_at,
        )
        case.message_count += 1
        case.last_message_at = max(case.last_message_at, event.occurred_at)
        fields = ["message_count", "last_message_at"]
        if event.data["direction"] == "out" and case.first_response_at is None:
            case.first_response_at = event.occurred_at
            fields.append("first_response_at")
        case.save(update_fields=fields)

    @handles(CaseResolved)
    def resolved(self, event):
        Case.objects.filter(id=event.data["case_id"]).update(
            status=Case.Status.RESOLVED,
            resolved_at=event.occurred_at,
            resolution=readable_text(event.data["resolution"]),
            compensation=event.data["compensation"],
        )

    @handles(CaseCsatRecorded)
    def csat_recorded(self, event):
        Case.objects.filter(id=event.data["case_id"]).update(
            csat_score=event.data["score"], csat_comment=readable_text(event.data["comment"]), csat_at=event.occurred_at
        )

    @handles(CustomerErased)
    def erased(self, event):
        cases = Case.objects.filter(customer_id=event.customer_id)
        CaseMessage.objects.filter(case__in=cases).update(text=ERASED)
        cases.update(subject=ERASED, resolution="", csat_comment="")
