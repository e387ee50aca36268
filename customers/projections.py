"""Projections of the customers app.

- customers.directory (inline): who exists, by which identifiers, and who was erased; identity resolution reads it
  inside the same transaction that appends, so it must never lag.
- customers.consents (inline): the current consent per channel and purpose; senders must see a withdrawal at once.
- customers.activity (async): last interaction, interaction count and channels used per customer, from every event
  that concerns a customer, whatever app wrote it.
- customers.channel_daily (async): interactions per day x channel x type.
"""

from collections import defaultdict
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from backoffice.eventstore.keys import ERASED
from backoffice.eventstore.projector import ALL_TYPES, ASYNC, INLINE, Projection, handles

from .models import ChannelActivityDaily, Consent, Customer, CustomerIdentifier

# Staff acting on the customer's record, not the customer interacting: an export must not make them look active.
RECORD_KEEPING_TYPES = frozenset({"customer.erased", "customer.exported"})


def identifier_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


class CustomerDirectory(Projection):
    name = "customers.directory"
    mode = INLINE
    models = (CustomerIdentifier, Customer)
    event_types = ("customer.registered", "customer.identifier_added", "customer.erased")

    def apply(self, events):
        customers, identifiers, erasures = [], [], []
        for event in events:
            if event.type == "customer.registered":
                customers.append(
                    Customer(
                        id=event.customer_id, registered_at=event.occurred_at, acquisition_channel=event.channel or ""
                    )
                )
                readable = readable_identifiers(event.data["identifiers"])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            elif event.type == "customer.identifier_added":
                readable = readable_identifiers([event.data["identifier"]])
                identifiers.extend(self._identifier(event, ident) for ident in readable)
            elif event.type == "customer.erased":
                erasures.append(event)
        Customer.objects.bulk_create(customers)
        CustomerIdentifier.objects.bulk_create(identifiers)
        # After the creations: an erasure always follows the registration it erases, possibly in the same batch.
        for event in erasures:
            CustomerIdentifier.objects.filter(customer_id=event.customer_id).delete()
            Customer.objects.filter(id=event.customer_id).update(erased_at=event.occurred_at)

    @staticmethod
    def _identifier(event, ident) -> CustomerIdentifier:
        return CustomerIdentifier(
            key=identifier_key(ident["kind"], ident["value"]),
            customer_id=event.customer_id,
            kind=ident["kind"],
            value=ident["value"],
            added_at=event.occurred_at,
        )


def readable_identifiers(identifiers) -> list[dict]:
    """The identifiers still readable. Once the customer's key is destroyed the sealed field reads back as ERASED
    (the whole list, or a value); keeping those would bring erased rows back on a rebuild, and their shared key
    ("email:[erased]") would collide between erased customers."""
    if identifiers == ERASED:
        return []
    return [ident for ident in identifiers if ident != ERASED and ident["value"] != ERASED]


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
