"""Entry by a date attribute (a birthday): beat (campaigns.journeys_tick) enters the people whose date falls today in
THEIR time zone (the customer's, else settings.TIME_ZONE), from the trigger's local time on. Once per occurrence: a
person entered less than definition.DATE_OCCURRENCE_GAP ago never enters again, however often beat looks (under the
journey's row lock, so two ticks at once enter nobody twice); the re-entry rules decide the other years (once: only
the first; every time: each year; once per N days: when N days have passed). People without the attribute never
enter. The attribute is read through customers' selectors."""

import uuid
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from customers.selectors import customers_with_birthday_on

from .. import definition as rules
from ..models import Journey, JourneyStatus, JourneyVersion
from .entries import journeys_triggered_by, people_who_may_enter, record_entries


def journeys_enter_dates(*, now: datetime | None = None) -> int:
    """Enter who celebrates today in every live date-triggered journey. Returns how many entered."""
    now = now or timezone.now()
    entered = 0
    candidates: list[tuple[uuid.UUID, date, str]] | None = None  # read once per tick, for every such journey
    for journey_id in journeys_triggered_by("date", statuses=(JourneyStatus.LIVE,)):
        with transaction.atomic():
            journey = Journey.objects.select_for_update().get(pk=journey_id)
            version = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
            if journey.status != JourneyStatus.LIVE or version is None:
                continue
            trigger = version.definition.get("trigger") or {}
            if trigger.get("kind") != "date":
                continue
            if candidates is None:
                candidates = customers_with_birthday_on(month_days=rules.date_month_days(now))
            due = [
                customer_id
                for customer_id, value, zone in candidates
                if rules.date_is_due(trigger, value, now=now, time_zone=zone or settings.TIME_ZONE)
            ]
            entered += _enter(journey, version, sorted(due), now=now, attribute=trigger["attribute"])
    return entered


def _enter(journey: Journey, version: JourneyVersion, due: list[uuid.UUID], *, now: datetime, attribute: str) -> int:
    entered = 0
    for start in range(0, len(due), settings.JOURNEYS_CONSUMER_BATCH):
        people = due[start : start + settings.JOURNEYS_CONSUMER_BATCH]
        chosen, entries = people_who_may_enter(
            journey, version.definition, people, now=now, min_gap=rules.DATE_OCCURRENCE_GAP
        )
        entered += record_entries(journey, version, chosen, entries, now=now, trigger_type=f"date:{attribute}")
    return entered
