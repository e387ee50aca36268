"""Segment-spec calls into the log: translate every message, then ingest the batch through the customers app's
`interactions_ingest` (identity resolution included) in one transaction, with the source's counters.

Idempotent on messageId: messages already stored are left out before ingestion, because a resend carries another
`sentAt`, so its clock-corrected time (and the digest the store compares) differs from the first send's.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from backoffice.eventstore import store
from backoffice.eventstore.errors import ConcurrencyError, EventValidationError, IdempotencyConflict
from customers.events import CustomerAliased
from customers.selectors import customer_id_by_identifier_key, customer_resolve_id
from customers.services import MergeRefused, customer_merge, interactions_ingest

from ..mapping import segment
from ..models import TrackingSource
from .sources import tracking_source_count
from .tracking_orders import tracking_orders_place

ATTEMPTS = 3


class TrackingRefused(Exception):
    """The call is refused as a whole (nothing written): `errors` [{field, message, code}] with Segment's names."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass(frozen=True)
class TrackingResult:
    written: int
    duplicates: int


def source_of(source: TrackingSource) -> segment.Source:
    return segment.Source(source.id, source.name, source.channel, source.user_id_system)


def tracking_messages_translate(
    *,
    source: TrackingSource,
    messages: list[Any],
    kind: str | None,
    received_at: datetime,
    sent_at: Any = None,
    context: Any = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Every message as (its index, its interaction), or TrackingRefused listing the problems of all of them.
    `kind` None: a batch (fields are named `batch.<n>.<field>`)."""
    seen: set[str] = set()
    items: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, str]] = []
    info = source_of(source)
    for index, message in enumerate(messages):
        prefix = f"batch.{index}" if kind is None else ""
        try:
            item = segment.translate(
                message, kind=kind, source=info, received_at=received_at, batch_sent_at=sent_at, batch_context=context
            )
        except segment.MessageRefused as exc:
            errors.extend(
                {
                    "field": ".".join(p for p in (prefix, problem.field) if p),
                    "message": problem.message,
                    "code": problem.code,
                }
                for problem in exc.problems
            )
            continue
        if item["id"] not in seen:  # the same messageId twice in one batch is one event
            seen.add(item["id"])
            items.append((index, item))
    if errors:
        raise TrackingRefused(errors)
    return items


def _interaction(item: dict[str, Any]) -> dict[str, Any]:
    """The translated message without what only order placement reads."""
    if segment.ORDER_KEY not in item:
        return item
    return {key: value for key, value in item.items() if key != segment.ORDER_KEY}


def _alias_of_a_user_id(item: dict[str, Any], *, actor: str) -> dict[str, Any]:
    """An alias whose previousId is a userId the source identified someone by (Segment's spec allows it as well as an
    anonymous id): the alias names that person by our id, so the new userId is added to them, and whoever holds the
    new userId already is merged with them (the alias says they are one person). Otherwise the item as translated:
    the previous id is stitched as an anonymous id."""
    if item["type"] != CustomerAliased.type_name:
        return item
    external_id = item["customer"]["external_id"]
    previous = customer_id_by_identifier_key(key=f"external:{external_id['system']}:{item['data']['previous_id']}")
    if previous is None:
        return item
    person = customer_resolve_id(customer_id=previous)
    holder = customer_id_by_identifier_key(key=f"external:{external_id['system']}:{external_id['id']}")
    if holder is not None and customer_resolve_id(customer_id=holder) != person:
        try:
            # The note names no id: user ids may be personal data, and a merge's evidence is not sealed.
            person = customer_merge(customer_ids=(person, holder), note="Segment alias", actor=actor).survivor
        except MergeRefused:
            pass  # one of them was erased: the alias stays with the previous userId's person
    return {**item, "customer": {"id": str(person), "external_id": external_id}}


def tracking_messages_ingest(
    *, source: TrackingSource, items: list[tuple[int, dict[str, Any]]], is_batch: bool = True
) -> TrackingResult:
    """Store translated messages (from tracking_messages_translate) once each. Raises TrackingRefused when the
    store refuses one (its data does not fit the type), with nothing written."""
    actor = f"tracking:{source.name}"
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                known = store.stored_events([uuid.UUID(item["id"]) for _, item in items])
                fresh = [(index, item) for index, item in items if uuid.UUID(item["id"]) not in known]
                if fresh:
                    results = interactions_ingest(
                        raw_items=[_alias_of_a_user_id(_interaction(item), actor=actor) for _, item in fresh],
                        actor=actor,
                        source="integrations.tracking",
                        unstored=True,
                    )
                    orders = [item for _, item in fresh if segment.ORDER_KEY in item]
                    if orders and source.order_location:
                        customers = {str(result.id): result.customer_id for result in results}
                        tracking_orders_place(
                            source=source, orders=[(item, customers.get(item["id"])) for item in orders]
                        )
            # Counted after the commit, in a statement of its own: inside, it would lengthen the store's append
            # lock (held until commit) or, taken first, serialise a source's concurrent calls on its row. A crash
            # between the two loses a count, never an event.
            tracking_source_count(source_id=source.id, events=len(fresh))
            return TrackingResult(written=len(fresh), duplicates=len(items) - len(fresh))
        except (IdempotencyConflict, IntegrityError, ConcurrencyError):
            # A concurrent call committed between our reads and our append: a resend of the same messages (the
            # store's idempotency check), or the first visit of the same new person (the identifier's unique key:
            # identity resolution reads who holds an identifier before the store's append lock). Done again, the
            # messages are found stored, or the person found registered. (ConcurrencyError: that other call appended
            # to the person's stream after this transaction began, which the store refuses to order before it.)
            if attempt == ATTEMPTS - 1:
                raise
        except EventValidationError as exc:
            raise TrackingRefused(
                [
                    {
                        "field": ".".join(p for p in (is_batch and f"batch.{fresh[e.index][0]}", e.field) if p),
                        "message": e.message,
                        "code": e.code,
                    }
                    for e in exc.errors
                ]
            ) from None
    raise AssertionError("unreachable")
