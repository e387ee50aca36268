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

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import connection, models
from django.db.models import F
from django.utils import timezone

from backoffice.eventstore.keys import ERASED
from backoffice.eventstore.projector import ALL_TYPES, ASYNC, INLINE, Projection, handles
from backoffice.messaging.events import NOT_ENGAGEMENT_TYPES

from .models import Case, CaseMessage, ChannelActivityDaily, Consent, Customer, CustomerIdentifier, CustomerOrder

# Staff acting on the customer's record, not the customer interacting: an export must not make them look active.
# What we sent and how the pipeline handled it is not the customer interacting either (opens and clicks are).
RECORD_KEEPING_TYPES = frozenset(
    {"customer.erased", "customer.exported", "customer.merged", "customer.unmerged", *NOT_ENGAGEMENT_TYPES}
)


def identifier_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


class CustomerDirectory(Projection):
    name = "customers.directory"
    mode = INLINE
    models = (CustomerIdentifier, Customer)
    event_types = (
        "customer.registered",
        "customer.identifier_added",
        "customer.profile_updated",
        "customer.merged",
        "customer.unmerged",
        "customer.erased",
        "customer.address_undeliverable",
    )

    def apply(self, events):
        # Registrations and identifiers (the bulk of ingestion) are written in two statements; the rarer events
        # after them, in order, since they change rows a registration of the same batch may have just created.
        customers, identifiers, later = [], [], []
        for event in events:
            if event.type == "customer.registered":
                customers.append(
                    {
                        "id": event.customer_id,
                        "registered_at": event.occurred_at,
                        "acquisition_channel": event.channel or "",
                        "display_name": readable_text(event.data.get("name", "")),
                    }
                )
                readable = readable_identifiers(event.data["identifiers"])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            elif event.type == "customer.identifier_added":
                readable = readable_identifiers([event.data["identifier"]])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            else:
                later.append(event)
        _insert(Customer, customers)
        _insert(CustomerIdentifier, identifiers)
        # Name changes and merges are collected and written one statement per kind; an unmerge or an erasure
        # writes what was collected before it first, so the rows end as applying every event in order would.
        profiles: dict = {}
        merges: dict = {}
        for event in later:
            if event.type == "customer.profile_updated":
                changes = profiles.setdefault(event.customer_id, {})
                for column, value in (
                    ("display_name", readable_text(event.data.get("name"))),
                    ("language", event.data.get("language")),
                    ("time_zone", event.data.get("time_zone")),
                ):
                    if value is not None:
                        changes[column] = value
            elif event.type == "customer.merged":
                merges[event.data["merged"]] = event.customer_id
            else:
                self._flush(profiles, merges)
                profiles, merges = {}, {}
                if event.type == "customer.unmerged":
                    Customer.objects.filter(id=event.data["unmerged"]).update(merged_into_id=None)
                elif event.type == "customer.address_undeliverable":
                    for readable in readable_identifiers([event.data["identifier"]]):
                        CustomerIdentifier.objects.filter(
                            key=identifier_key(readable["kind"], readable["value"]), undeliverable_at=None
                        ).update(undeliverable_at=event.occurred_at)
                elif event.type == "customer.erased":
                    CustomerIdentifier.objects.filter(customer_id=event.customer_id).delete()
                    Customer.objects.filter(id=event.customer_id).update(erased_at=event.occurred_at, display_name="")
        self._flush(profiles, merges)

    @staticmethod
    def _flush(profiles: dict, merges: dict) -> None:
        """One UPDATE for the profiles changed (an erased customer's profile stays scrubbed) and one for merges."""
        if profiles:
            columns = ("display_name", "language", "time_zone")
            # A column an event did not name keeps its value (NULL in the row of values: COALESCE keeps the old).
            rows = [(cid, *(changes.get(c) for c in columns)) for cid, changes in profiles.items()]
            _update_from_values(
                Customer._meta.db_table,
                key="id",
                columns=columns,
                rows=rows,
                assign="{column} = COALESCE(v.{column}, t.{column})",
                where="t.erased_at IS NULL",
            )
        if merges:
            _update_from_values(
                Customer._meta.db_table,
                key="id",
                columns=("merged_into_id",),
                rows=[(uuid.UUID(str(merged)), into) for merged, into in merges.items()],
                assign="{column} = v.{column}",
            )

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


def _insert(model, rows: list[dict]) -> None:
    """Insert rows given as {attname: value}; the model's other columns get their defaults. What bulk_create does,
    without building model instances and compiling every value of every row (a third of an ingested batch's time):
    the defaults are prepared once, and PostgreSQL takes the rows through COPY."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.attname not in rows[0])]
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in fields if f.attname not in rows[0]}
    columns = [f.column for f in fields]
    # Per column: (attname, how to adapt a given value, default); the constant ones once per call.
    plan = [(f.attname, _adapter(f), defaults.get(f.attname)) for f in fields]
    values = [[adapt(row[name]) if name in row else default for name, adapt, default in plan] for row in rows]
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy,
            ):
                for row in values:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES ({marks})", values)  # noqa: S608


def _adapter(field):
    """How a value of this field goes to the driver: what Django's preparation would give, without its cost for the
    plain types (psycopg takes uuid and aware datetimes as they are; SQLite stores uuids as hex, times as text)."""
    if isinstance(field, models.ForeignKey):
        return _adapter(field.target_field)
    if isinstance(field, models.CharField):
        return lambda value: value
    if connection.vendor == "postgresql" and isinstance(field, models.UUIDField | models.DateTimeField):
        return lambda value: value
    if connection.vendor == "sqlite" and isinstance(field, models.UUIDField):
        return lambda value: value.hex
    if connection.vendor == "sqlite" and isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    return lambda value: field.get_db_prep_save(value, connection)


def _update_from_values(table: str, *, key: str, columns, rows, assign: str, where: str = "") -> None:
    """UPDATE table AS t SET ... FROM (VALUES ...) AS v WHERE t.key = v.key: many rows, each with its own values, in
    one statement (PostgreSQL, and SQLite >= 3.33). UUIDs in rows are uuid.UUID (SQLite stores them as hex)."""
    quote = connection.ops.quote_name
    names = (key, *columns)
    if connection.vendor == "postgresql":
        # The first row's casts type the columns, whatever NULLs the others hold.
        casts = ["::uuid" if isinstance(value, uuid.UUID) else "::text" for value in rows[0]]
        first = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
        source = "(VALUES {values}) AS v(" + ", ".join(quote(n) for n in names) + ")"
    else:
        rows = [tuple(v.hex if isinstance(v, uuid.UUID) else v for v in row) for row in rows]
        first = "(" + ", ".join(["%s"] * len(names)) + ")"
        aliases = ", ".join(f"column{i} AS {quote(n)}" for i, n in enumerate(names, start=1))
        source = f"(SELECT {aliases} FROM (VALUES {{values}})) AS v"  # noqa: S608 - model names
    later = "(" + ", ".join(["%s"] * len(names)) + ")"
    sets = ", ".join(assign.format(column=quote(c)) for c in columns)
    condition = f"t.{quote(key)} = v.{quote(key)}" + (f" AND {where}" if where else "")
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join([first, *[later] * (len(chunk) - 1)])
            cursor.execute(
                f"UPDATE {quote(table)} AS t SET {sets} FROM {source.format(values=values)} "  # noqa: S608 - model names
                f"WHERE {condition}",
                [value for row in chunk for value in row],
            )


def readable_identifiers(identifiers) -> list[dict]:
    """The identifiers still readable. Once the customer's key is destroyed the sealed field reads back as ERASED
    (the whole list, or a value); keeping those would bring erased rows back on a rebuild, and their shared key
    ("email:[erased]") would collide between erased customers."""
    if identifiers == ERASED:
        return []
    return [ident for ident in identifiers if ident != ERASED and ident["value"] != ERASED]


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

    @handles("consent.granted", "consent.revoked")
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
                "is_granted": event.type == "consent.granted",
                "source_channel": event.channel or "",
                "wording": event.data["wording"],
                "changed_at": event.occurred_at,
                "position": event.position,
            },
        )


class CustomerActivity(Projection):
    name = "customers.activity"
    mode = ASYNC
    event_types = (ALL_TYPES,)

    def apply(self, events):
        per_customer: dict = defaultdict(lambda: {"count": 0, "last": None, "channels": set()})
        for event in events:
            if event.customer_id is None or event.type in RECORD_KEEPING_TYPES:
                continue
            summary = per_customer[event.customer_id]
            summary["count"] += 1
            if summary["last"] is None or event.occurred_at > summary["last"]:
                summary["last"] = event.occurred_at
            if event.channel:
                summary["channels"].add(event.channel)
        if not per_customer:
            return
        rows = Customer.objects.in_bulk(list(per_customer))
        changed = []
        for customer_id, summary in per_customer.items():
            customer = rows.get(customer_id)
            if customer is None:
                continue
            customer.interaction_count += summary["count"]
            last: datetime | None = customer.last_interaction_at
            if last is None or summary["last"] > last:
                customer.last_interaction_at = summary["last"]
            customer.channels_used = sorted(set(customer.channels_used) | summary["channels"])
            changed.append(customer)
        Customer.objects.bulk_update(
            changed, ["interaction_count", "last_interaction_at", "channels_used"], batch_size=500
        )

    def reset(self):
        Customer.objects.update(interaction_count=0, last_interaction_at=None, channels_used=[])


class ChannelDaily(Projection):
    name = "customers.channel_daily"
    mode = ASYNC
    models = (ChannelActivityDaily,)
    event_types = (ALL_TYPES,)

    def apply(self, events):
        counts: dict[tuple, int] = defaultdict(int)
        for event in events:
            if event.channel:
                counts[(timezone.localtime(event.occurred_at).date(), event.channel, event.type)] += 1
        if not counts:
            return
        ChannelActivityDaily.objects.bulk_create(
            [ChannelActivityDaily(day=d, channel=c, type=t, count=0) for (d, c, t) in counts],
            ignore_conflicts=True,
        )
        for (day, channel, type_), count in counts.items():
            ChannelActivityDaily.objects.filter(day=day, channel=channel, type=type_).update(count=F("count") + count)


class CustomerCommerce(Projection):
    """Each customer's orders as this app needs them (id, channel, value, refunds, whether cancelled), and the
    counters the 360 view and segments read, recomputed from those rows so a cancellation or a refund is exact.

    Asynchronous (issue 15): nothing a command checks reads it, so it stays out of the order's transaction. One order
    placed alone in a batch: its row, then the owner's counters moved by it, two statements whatever the customer's
    history. A batch: one INSERT for the new orders and one UPDATE that recounts every touched customer from their
    rows."""

    name = "customers.commerce"
    mode = ASYNC
    models = (CustomerOrder,)
    event_types = ("order.placed", "order.returned", "order.cancelled")

    def apply(self, events):
        if len(events) == 1 and events[0].type == "order.placed" and events[0].customer_id is not None:
            self._add_one(events[0])
            return
        placed: list[CustomerOrder] = []
        touched: list[str] = []
        for event in events:
            order_id = str(event.data.get("order_id", ""))
            if event.type == "order.placed":
                if event.customer_id is None:
                    continue
                placed.append(
                    CustomerOrder(
                        order_id=order_id,
                        customer_id=event.customer_id,
                        channel=event.channel or "",
                        placed_at=event.occurred_at,
                        total=Decimal(str(event.data.get("total", "0"))),
                    )
                )
                touched.append(order_id)
                continue
            if placed:  # a rebuild replays an order and its return in one batch: insert before updating
                CustomerOrder.objects.bulk_create(placed, ignore_conflicts=True)  # first write wins
                placed = []
            if event.type == "order.returned":
                CustomerOrder.objects.filter(order_id=order_id).update(
                    refunded=F("refunded") + Decimal(str(event.data.get("refund_amount", "0")))
                )
            else:
                CustomerOrder.objects.filter(order_id=order_id).update(is_cancelled=True)
            touched.append(order_id)
        if placed:
            CustomerOrder.objects.bulk_create(placed, ignore_conflicts=True)
        touched = list(dict.fromkeys(touched))
        for start in range(0, len(touched), 500):
            self._recount(touched[start : start + 500])

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
    def _recount(order_ids: list[str]) -> None:
        """Recount the customers who own these orders, from their rows, in one statement."""
        customers, orders = Customer._meta.db_table, CustomerOrder._meta.db_table
        marks = ", ".join(["%s"] * len(order_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {customers} SET (order_count, lifetime_value, first_order_at, last_order_at) = ("  # noqa: S608
                f" SELECT COUNT(*), COALESCE(SUM(o.total - o.refunded), 0), MIN(o.placed_at), MAX(o.placed_at)"
                f" FROM {orders} o WHERE o.customer_id = {customers}.id AND NOT o.is_cancelled)"
                f" WHERE id IN (SELECT customer_id FROM {orders} WHERE order_id IN ({marks}))",
                order_ids,
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

    @handles("case.opened")
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

    @handles("case.message_added")
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

    @handles("case.resolved")
    def resolved(self, event):
        Case.objects.filter(id=event.data["case_id"]).update(
            status=Case.Status.RESOLVED,
            resolved_at=event.occurred_at,
            resolution=readable_text(event.data["resolution"]),
            compensation=event.data["compensation"],
        )

    @handles("case.csat_recorded")
    def csat_recorded(self, event):
        Case.objects.filter(id=event.data["case_id"]).update(
            csat_score=event.data["score"], csat_comment=readable_text(event.data["comment"]), csat_at=event.occurred_at
        )

    @handles("customer.erased")
    def erased(self, event):
        cases = Case.objects.filter(customer_id=event.customer_id)
        CaseMessage.objects.filter(case__in=cases).update(text=ERASED)
        cases.update(subject=ERASED, resolution="", csat_comment="")
