"""Merging two customers who are one person, and undoing it.

Both histories stay in the log: a merge only records that the younger customer is now part of the older
(`customer.merged`, on the survivor's stream), and an unmerge that it is not (`customer.unmerged`). Identifiers,
consents and events keep the customer they were recorded for, so an unmerge gives each customer back exactly what
it had; what the person did while merged stays with the customer it was recorded for.
"""

import uuid
from dataclasses import dataclass

from django.db import transaction

from backoffice.eventstore import store
from backoffice.eventstore.locks import appends_locked_out

from ..events import CustomerMerged, CustomerUnmerged, MergeEvidence
from ..models import Customer
from ..selectors import CustomerNotFound, customer_resolve_id


class MergeRefused(Exception):
    """A merge or unmerge that cannot be done as asked; `field` and `code` say why, for the API's problem body."""

    def __init__(self, field: str, message: str, code: str):
        self.field = field
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Merge:
    survivor: uuid.UUID
    merged: uuid.UUID
    event: store.RecordedEvent


def customer_merge(
    *, customer_ids: tuple[uuid.UUID, uuid.UUID], into: uuid.UUID | None = None, note: str = "", actor: str
) -> Merge:
    """Merge two customers into one person: the younger into the older, or into `into` when staff choose.

    Raises MergeRefused (the same customer twice, already one person, erased) or CustomerNotFound, with nothing
    written.
    """
    first, second = customer_ids
    if first == second:
        raise MergeRefused("customer_ids", "a customer cannot be merged with itself", "same_customer")
    if into is not None and into not in customer_ids:
        raise MergeRefused("into", "must be one of customer_ids", "not_in_merge")
    with transaction.atomic():
        # Before the checks: two merges (or a merge and an erasure) of the same people cannot both pass them.
        appends_locked_out()
        roots = []
        for index, customer_id in enumerate(customer_ids):
            try:
                roots.append(customer_resolve_id(customer_id=customer_id))
            except CustomerNotFound:
                raise MergeRefused(f"customer_ids.{index}", "no such customer", "not_found") from None
        if roots[0] == roots[1]:
            raise MergeRefused("customer_ids", "these customers are already one person", "already_merged")
        rows = {row.id: row for row in Customer.objects.filter(id__in=roots)}
        for index, root in enumerate(roots):
            if rows[root].erased_at is not None:
                raise MergeRefused(f"customer_ids.{index}", "this customer was erased", "erased")
        if into is not None:
            survivor = customer_resolve_id(customer_id=into)
        else:
            survivor = min(roots, key=lambda cid: (rows[cid].registered_at, str(cid)))
        merged = roots[1] if survivor == roots[0] else roots[0]
        event = store.append(
            f"customer-{survivor}",
            [
                store.NewEvent.of(
                    CustomerMerged(
                        customer_id=str(survivor),
                        merged=str(merged),
                        evidence=MergeEvidence(reason="manual", note=note),
                    ),
                    customer_id=survivor,
                    metadata={"actor": actor},
                )
            ],
        )[0]
    return Merge(survivor=survivor, merged=merged, event=event)


def customer_unmerge(*, customer_id: uuid.UUID, reason: str = "", actor: str) -> store.RecordedEvent:
    """Undo the merge of `customer_id` (a customer that was merged into another): it stands on its own again.

    Raises CustomerNotFound, or MergeRefused (not merged, erased) with nothing written.
    """
    with transaction.atomic():
        appends_locked_out()
        customer = Customer.objects.filter(id=customer_id).first()
        if customer is None:
            raise CustomerNotFound(customer_id)
        if customer.merged_into_id is None:
            raise MergeRefused("customer_id", "this customer is not merged into another", "not_merged")
        if customer.erased_at is not None:
            raise MergeRefused("customer_id", "this customer was erased", "erased")
        survivor = customer.merged_into_id
        return store.append(
            f"customer-{survivor}",
            [
                store.NewEvent.of(
                    CustomerUnmerged(customer_id=str(survivor), unmerged=str(customer_id), reason=reason),
                    customer_id=survivor,
                    metadata={"actor": actor},
                )
            ],
        )[0]
