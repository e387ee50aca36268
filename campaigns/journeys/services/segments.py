"""Entry by segment: beat (campaigns.journeys_tick) enters the people who ENTERED a live journey's segment since the
previous evaluation: not members then, members now. Each journey keeps the members it saw last
(JourneySegmentMember, its own bookkeeping like the process manager's cursor, not a projection); people who left are
forgotten, so coming back is entering again. The re-entry rules then decide who of the arrivals enters (once: only
the first time ever; once per N days: if their last entry is N days old; every time: each time they come in, unless
still in the journey) and the cap holds.

The first evaluation of a journey's segment (after the first publication, or after a version that changed the
segment) decides what the people already in it are: arrivals when the trigger says `"include_current_members":
true` (the default: a segment journey published today reaches today's members), otherwise only recorded, so only
people who join from now on enter. Republishing with the same segment keeps the members seen: nobody re-enters for a
new version. While the journey is paused the members are still followed but nobody enters: who joined meanwhile
does not enter on resume (as triggers recorded while paused do not).

One transaction per journey under its row lock, so two ticks never enter anybody twice; arrivals beyond a batch
(JOURNEYS_CONSUMER_BATCH) are left unrecorded and arrive on the next tick."""

import uuid
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ...models import Segment
from ...segments import segment_queryset
from ..models import Journey, JourneySegmentMember, JourneySegmentState, JourneyStatus, JourneyVersion
from .entries import journeys_triggered_by, people_who_may_enter, record_entries


def journeys_enter_segments(*, now: datetime | None = None) -> int:
    """Enter who joined the segment of every live segment-triggered journey (and follow the members of paused
    ones). Returns how many entered."""
    now = now or timezone.now()
    entered = 0
    for journey_id in journeys_triggered_by("segment", statuses=(JourneyStatus.LIVE, JourneyStatus.PAUSED)):
        entered += _enter_journey(journey_id, now)
    return entered


def _enter_journey(journey_id: uuid.UUID, now: datetime) -> int:
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey_id)
        version = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
        if journey.status not in (JourneyStatus.LIVE, JourneyStatus.PAUSED) or version is None:
            return 0
        trigger = version.definition.get("trigger") or {}
        if trigger.get("kind") != "segment":
            return 0
        segment_id: str | None = trigger.get("segment")
        segment = Segment.objects.filter(pk=segment_id).first() if segment_id else None
        if segment is None:
            return 0
        is_first = _start_following(journey.id, segment.pk, now)
        members = segment_queryset(segment.rules, now=now).values_list("id", flat=True)
        seen = JourneySegmentMember.objects.filter(journey_id=journey.id)
        seen.exclude(customer_id__in=members).delete()  # they left: coming back is entering again
        arrivals = members.exclude(id__in=seen.values("customer_id")).order_by("id")
        if is_first and not trigger.get("include_current_members", True):
            while _remember(journey.id, list(arrivals[: settings.JOURNEYS_CONSUMER_BATCH]), now):
                pass
            return 0
        people = list(arrivals[: settings.JOURNEYS_CONSUMER_BATCH])
        _remember(journey.id, people, now)
        if journey.status != JourneyStatus.LIVE:
            return 0
        chosen, entries = people_who_may_enter(journey, version.definition, people, now=now)
        return record_entries(journey, version, chosen, entries, now=now, trigger_type=f"segment:{segment.pk}")


def _start_following(journey_id: uuid.UUID, segment_id: uuid.UUID, now: datetime) -> bool:
    """Whether this is the first evaluation of this segment for the journey (its members seen so far are then
    forgotten: they were another segment's)."""
    state = JourneySegmentState.objects.filter(journey_id=journey_id).first()
    if state is not None and state.segment_id == segment_id:
        state.evaluated_at = now
        state.save(update_fields=["evaluated_at"])
        return False
    JourneySegmentMember.objects.filter(journey_id=journey_id).delete()
    JourneySegmentState.objects.update_or_create(
        journey_id=journey_id, defaults={"segment_id": segment_id, "evaluated_at": now}
    )
    return True


def _remember(journey_id: uuid.UUID, people: list[uuid.UUID], now: datetime) -> int:
    JourneySegmentMember.objects.bulk_create(
        [JourneySegmentMember(journey_id=journey_id, customer_id=customer_id, since=now) for customer_id in people]
    )
    return len(people)
