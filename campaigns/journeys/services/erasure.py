"""Erasure ends the person's journeys: a hook of customers' erasure (CUSTOMERS_ERASURE_HOOKS), run in its
transaction, so nothing is sent to, nor a case opened for, someone who is no longer there (their task steps would be
refused by the customers app, their messages by messaging)."""

import uuid
from collections.abc import Iterable

from backoffice.eventstore import store

from ..events import JourneyExited
from ..models import JourneyRun, RunStatus

ACTOR = "journeys"


def journey_runs_end_erased(*, customer_ids: Iterable[uuid.UUID], **_context: object) -> int:
    """Every active run of these customers (the erased person and the profiles merged into them) leaves its journey,
    whatever the journey's status: journey.exited, reason erased. Returns how many ended. The events hold no personal
    data, so the erased customer's destroyed key is not needed."""
    runs = list(
        JourneyRun.objects.filter(customer_id__in=list(customer_ids), status=RunStatus.ACTIVE)
        .order_by("id")
        .values_list("id", "journey_id", "version", "customer_id", "step")
    )
    appends = [
        store.StreamAppend(
            f"journey-{journey_id}-{customer_id}",
            [
                store.NewEvent.of(
                    JourneyExited.from_data(
                        {
                            "journey_id": str(journey_id),
                            "run_id": str(run_id),
                            "version": version,
                            "reason": "erased",
                            "step": step,
                        }
                    ),
                    id=uuid.uuid5(run_id, "exited"),
                    customer_id=customer_id,
                    metadata={"actor": ACTOR},
                )
            ],
        )
        for run_id, journey_id, version, customer_id, step in runs
    ]
    store.append_batches(appends)
    return len(runs)
