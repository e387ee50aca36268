"""Merging two customers who are one person, and undoing it.

Both histories stay in the log: a merge only records that the younger customer is now part of the older
(`customer.merged`, on the survivor's stream), and an unmerge that it is not (`customer.unmerged`). Identifiers,
consents and events keep the customer they were recorded for, so an unmerge gives each customer back exactly what
it had; what the person did while merged stays with the customer it was recorded for.

One exception: withdrawals of consent. While merged, a consent change is recorded on the person's root, whichever
of them said it (a STOP from the merged customer's phone, a word at the counter). An unmerge cannot tell who said it,
and an opt-out lost is a message sent against someone's will, so every withdrawal recorded on the rest of the
person while the unmerged customer was part of them is copied to it (`consent.revoked`, in the unmerge's
transaction, with the original's time, channel and wording). Grants are not copied: consent must be given
explicitly, by each.
"""

import uuid
from dataclasses import dataclass

from django.db import transaction

from backoffice.eventstore import store
from backoffice.eventstore.locks import appends_locked_out

from ..events import ConsentRevoked, CustomerMerged, CustomerUnmerged, MergeEvidence
from ..models import Customer
from ..selectors import CustomerNotFound, consent_states, customer_group_ids, customer_resolve_id


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
        withdrawals = _withdrawals_while_merged(customer_id=customer_id, survivor=survivor)
        unmerged = store.append(
            f"customer-{survivor}",
            [
                store.NewEvent.of(
                    CustomerUnmerged(customer_id=str(survivor), unmerged=str(customer_id), reason=reason),
                    customer_id=survivor,
                    metadata={"actor": actor},
                )
            ],
        )[0]
        if withdrawals:
            store.append(
                f"customer-{customer_id}",
                [
                    store.NewEvent.of(
                        ConsentRevoked.from_data({**withdrawal.data, "customer_id": str(customer_id)}),
                        # Derived from the withdrawal and the customer: the same copy is never made twice.
                        id=uuid.uuid5(withdrawal.id, f"unmerged:{customer_id}"),
                        channel=withdrawal.channel,
                        customer_id=customer_id,
                        occurred_at=withdrawal.occurred_at,
                        metadata={"actor": actor, "causation_id": str(unmerged.id), "copied_from": str(withdrawal.id)},
                    )
                    for withdrawal in withdrawals
                ],
            )
        return unmerged


def _withdrawals_while_merged(*, customer_id: uuid.UUID, survivor: uuid.UUID) -> list[store.RecordedEvent]:
    """Per (channel, purpose), the last withdrawal recorded on the rest of the person since `customer_id` was merged
    into `survivor`, unless the customer's own ledger already says withdrawn. The last withdrawal, even if a grant
    followed it: who gave that grant is as unknown as who withdrew. In a chain of merges, a withdrawal made by another
    member before it joined counts too: an opt-out kept too widely is the safe side."""
    merged_at = max(
        event.position
        for event in store.read_customer(survivor, types=[CustomerMerged.type_name])
        if event.data["merged"] == str(customer_id)
    )
    own = set(customer_group_ids(customer_id=customer_id))
    rest = [cid for cid in customer_group_ids(customer_id=customer_resolve_id(customer_id=survivor)) if cid not in own]
    last: dict[tuple[str, str], store.RecordedEvent] = {}
    for event in store.read_customer(rest, types=[ConsentRevoked.type_name]):
        if event.position > merged_at:
            last[(event.data["channel"], event.data["purpose"])] = event  # in the order they happened
    own_states = {
        (state.channel, state.purpose): state.is_granted
        for state in consent_states(customer_id=customer_id, group=list(own))
    }
    return [event for key, event in sorted(last.items()) if own_states.get(key) is not False]
