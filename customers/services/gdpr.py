"""GDPR: erasure of a customer (crypto-shredding, DESIGN.md section 3 rule 8) and export of all we hold about them.

Erasure destroys the data keys of the customer and of every customer merged into them, and scrubs the projections
through `customer.erased` (the directory drops their identifiers and sets `erased_at`). The events stay: their
personal fields read back as "[erased]", their amounts, channels and times still count.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from backoffice.eventstore import keys, store
from backoffice.eventstore.locks import appends_locked_out

from ..events import ConsentGranted, CustomerErased, CustomerExported
from ..models import Case, Consent, Customer, CustomerIdentifier
from ..selectors import CONSENT_TYPES, customer_absorbed_ids, customer_resolve_id
from .cases import case_resolved_on_erasure


class CustomerAlreadyErased(Exception):
    def __init__(self, customer_id: uuid.UUID, erased_at: datetime):
        self.customer_id = customer_id
        self.erased_at = erased_at
        super().__init__(f"customer {customer_id} was erased at {erased_at.isoformat()}")


@dataclass(frozen=True)
class Erasure:
    customer_id: uuid.UUID
    erased_at: datetime
    # Customers merged into this one: the same person, erased with them.
    absorbed: tuple[uuid.UUID, ...]


def customer_erase(*, customer_id: uuid.UUID, actor: str) -> Erasure:
    """Erase the customer (a merged id erases the customer it was merged into). Irreversible.

    Raises CustomerNotFound, or CustomerAlreadyErased with nothing written.
    """
    with transaction.atomic():
        # Before the check, so two erasures, or an erasure and a merge, cannot both pass it. The append and the key
        # destruction take it too (shared, exclusive), which does not wait: a transaction never waits for itself.
        appends_locked_out()
        owner = customer_resolve_id(customer_id=customer_id)
        customer = Customer.objects.get(id=owner)
        if customer.erased_at is not None:
            raise CustomerAlreadyErased(owner, customer.erased_at)
        absorbed = _absorbed_ids(owner)
        still_live = set(Customer.objects.filter(id__in=absorbed, erased_at=None).values_list("id", flat=True))
        # Read before the append: the directory drops them on `customer.erased`.
        identifier_keys = list(
            CustomerIdentifier.objects.filter(customer_id__in=[owner, *absorbed]).values_list("key", flat=True)
        )
        now = timezone.now()
        erased = _erased_event(owner, actor=actor, occurred_at=now)
        # Their open cases are closed with them (no resolution text, no survey): nobody can reply to or resolve them
        # with personal text afterwards, and they would breach the SLA in the inbox forever.
        appends = [
            store.StreamAppend(
                f"case-{case_id}", [case_resolved_on_erasure(case_id=case_id, actor=actor, occurred_at=now)]
            )
            for case_id in _open_case_ids((owner, *absorbed))
        ]
        first = len(appends)
        appends.append(store.StreamAppend(f"customer-{owner}", [erased]))
        appends += [
            store.StreamAppend(
                f"customer-{cid}", [_erased_event(cid, actor=actor, occurred_at=now, causation_id=erased.id)]
            )
            for cid in absorbed
            if cid in still_live
        ]
        recorded = store.append_batches(appends)
        for cid in (owner, *absorbed):
            keys.customer_key_destroy(customer_id=cid)
        _run_erasure_hooks(customer_ids=(owner, *absorbed), identifier_keys=identifier_keys)
    return Erasure(customer_id=owner, erased_at=recorded[first].event.occurred_at, absorbed=absorbed)


def customer_export(*, customer_id: uuid.UUID, actor: str) -> dict[str, Any]:
    """Everything held about the customer (a merged id exports the customer it was merged into), decrypted, as
    JSON-able data; for an erased customer, only that they were erased. Recorded as `customer.exported`.

    Raises CustomerNotFound.
    """
    with transaction.atomic():
        owner = customer_resolve_id(customer_id=customer_id)
        customer = Customer.objects.get(id=owner)
        absorbed = _absorbed_ids(owner)
        body = _erased_export(customer, absorbed) if customer.erased_at else _full_export(customer, absorbed)
        store.append(
            f"customer-{owner}",
            [
                store.NewEvent.of(
                    CustomerExported(customer_id=str(owner)),
                    customer_id=owner,
                    metadata={"actor": actor},
                )
            ],
        )
    return body


def _erased_event(
    customer_id: uuid.UUID, *, actor: str, occurred_at: datetime, causation_id: uuid.UUID | None = None
) -> store.NewEvent:
    metadata = {"actor": actor}
    if causation_id is not None:
        metadata["causation_id"] = str(causation_id)
    return store.NewEvent.of(
        CustomerErased(customer_id=str(customer_id)),
        customer_id=customer_id,
        occurred_at=occurred_at,
        metadata=metadata,
    )


def _run_erasure_hooks(*, customer_ids: tuple[uuid.UUID, ...], identifier_keys: list[str]) -> None:
    """Copies of personal data that higher layers keep outside the log (dead-lettered shop deliveries) are dropped
    in the erasure's transaction: CUSTOMERS_ERASURE_HOOKS names them, since this layer cannot import theirs."""
    for path in settings.CUSTOMERS_ERASURE_HOOKS:
        import_string(path)(customer_ids=customer_ids, identifier_keys=identifier_keys)


def _open_case_ids(customer_ids: tuple[uuid.UUID, ...]) -> list[uuid.UUID]:
    return list(
        Case.objects.filter(customer_id__in=customer_ids, status=Case.Status.OPEN)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _absorbed_ids(owner: uuid.UUID) -> tuple[uuid.UUID, ...]:
    return customer_absorbed_ids(customer_id=owner)


def _erased_export(customer: Customer, absorbed: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    return {
        "id": str(customer.id),
        "erased": True,
        "erased_at": customer.erased_at.isoformat() if customer.erased_at else None,
        "detail": "this customer was erased: no personal data about them is held any more",
        "registered_at": customer.registered_at.isoformat(),
        "acquisition_channel": customer.acquisition_channel,
        "merged_customers": [str(cid) for cid in absorbed],
    }


def _full_export(customer: Customer, absorbed: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    ids = [customer.id, *absorbed]
    identifiers = CustomerIdentifier.objects.filter(customer_id__in=ids).order_by("added_at", "key")
    consents = Consent.objects.filter(customer_id__in=ids).order_by("channel", "purpose", "customer_id")
    events = sorted(
        (event for cid in ids for event in store.read_customer(cid)), key=lambda e: (e.occurred_at, e.position)
    )
    return {
        "id": str(customer.id),
        "erased": False,
        "exported_at": timezone.now().isoformat(),
        "profile": {
            "registered_at": customer.registered_at.isoformat(),
            "acquisition_channel": customer.acquisition_channel,
            "channels_used": customer.channels_used,
            "interaction_count": customer.interaction_count,
            "last_interaction_at": _iso(customer.last_interaction_at),
        },
        "merged_customers": [str(cid) for cid in absorbed],
        "identifiers": [
            {
                "customer_id": str(i.customer_id),
                "kind": i.kind,
                "value": i.value,
                "added_at": i.added_at.isoformat(),
            }
            for i in identifiers
        ],
        "consents": [
            {
                "customer_id": str(c.customer_id),
                "channel": c.channel,
                "purpose": c.purpose,
                "granted": c.is_granted,
                "source_channel": c.source_channel,
                "wording": c.wording,
                "changed_at": c.changed_at.isoformat(),
            }
            for c in consents
        ],
        "consent_history": [
            {
                "id": str(e.id),
                "customer_id": str(e.customer_id),
                "channel": e.data["channel"],
                "purpose": e.data["purpose"],
                "granted": e.type == ConsentGranted.type_name,
                "source_channel": e.channel or "",
                "wording": e.data["wording"],
                "occurred_at": e.occurred_at.isoformat(),
                "actor": e.metadata.get("actor", ""),
            }
            for e in events
            if e.type in CONSENT_TYPES
        ],
        "events": [_event(e) for e in events],
    }


def _event(event: store.RecordedEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "position": event.position,
        "stream": event.stream,
        "version": event.version,
        "type": event.type,
        "schema_version": event.schema_version,
        "channel": event.channel,
        "customer_id": str(event.customer_id) if event.customer_id else None,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "data": event.data,
        "metadata": event.metadata,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
