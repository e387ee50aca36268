"""Entry by segment: beat (campaigns.journeys_tick) enters the people of a live journey's segment who may enter now
by its re-entry rules (once: the first time they are found in it; once per N days: again after N days if still in
it; every time: whenever they are in it and not in the journey). One transaction per journey and page, under the
journey's row lock, so two ticks never enter anybody twice."""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from backoffice.eventstore import store

from ...models import Segment
from ...segments import segment_queryset
from .. import definition as rules
from ..events import JourneyEntered
from ..models import Journey, JourneyRun, JourneyStatus, JourneyVersion, RunStatus
from .facts import BatchFacts
from .walk import arrive

ACTOR = "journeys"


def journeys_enter_segments(*, now: datetime | None = None) -> int:
    """Enter who may enter every live segment-triggered journey. Returns how many entered."""
    now = now or timezone.now()
    entered = 0
    for journey_id in Journey.objects.filter(status=JourneyStatus.LIVE).values_list("id", flat=True):
        entered += _enter_journey(journey_id, now)
    return entered


def _enter_journey(journey_id: uuid.UUID, now: datetime) -> int:
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey_id)
        version = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
        if journey.status != JourneyStatus.LIVE or version is None:
            return 0
        definition = version.definition
        trigger = definition.get("trigger") or {}
        if trigger.get("kind") != "segment":
            return 0
        segment = Segment.objects.filter(pk=trigger.get("segment")).first()
        if segment is None:
            return 0
        members = segment_queryset(segment.rules, now=now).values_list("id", flat=True)
        runs = JourneyRun.objects.filter(journey=journey)
        reentry = definition.get("reentry") or {"mode": "once"}
        blocked = runs.filter(status=RunStatus.ACTIVE)
        if reentry["mode"] == "once":
            blocked = runs
        elif reentry["mode"] == "once_per_days":
            blocked = runs.filter(entered_at__gt=now - timedelta(days=reentry["days"])) | blocked
        candidates = members.exclude(id__in=blocked.values("customer_id")).order_by("id")
        cap = definition.get("cap")
        limit = settings.JOURNEYS_CONSUMER_BATCH
        if cap:
            limit = min(limit, max(cap - runs.count(), 0))
        people = list(candidates[:limit])
        if not people:
            return 0
        entries = dict(
            runs.filter(customer_id__in=people).values_list("customer_id").annotate(n=Max("entry")).order_by()
        )
        facts = BatchFacts(people, now=now)
        steps = rules.steps_by_id(definition)
        start = rules.start_step(definition)
        appends = []
        for customer_id in people:
            entry = entries.get(customer_id, 0) + 1
            run_id = uuid.uuid5(journey.id, f"run:{customer_id}:{entry}")
            is_holdout = rules.is_holdout(journey.id, customer_id, version.holdout_share)
            if is_holdout:
                step, due_at, awaiting = "", now + timedelta(days=version.attribution_days), ""
            else:
                step = start
                due_at, awaiting = arrive(steps, start, customer_id=customer_id, now=now, facts=facts)
            data = {
                "journey_id": str(journey.id),
                "run_id": str(run_id),
                "version": journey.version,
                "entry": entry,
                "is_holdout": is_holdout,
                "trigger_type": f"segment:{segment.pk}"[:100],
                "step": step,
                "due_at": due_at,
                "awaiting": awaiting,
            }
            event = store.NewEvent.of(
                JourneyEntered.from_data(data),
                id=uuid.uuid5(run_id, "entered"),
                customer_id=customer_id,
                metadata={"actor": ACTOR},
            )
            appends.append(store.StreamAppend(f"journey-{journey.id}-{customer_id}", [event]))
        store.append_batches(appends)
    return len(people)
