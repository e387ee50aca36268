"""Two beat ticks at once (two workers took the same tick): the date and segment entries hold the journey's row
lock, so everybody enters once."""

from collections import Counter

import pytest

from campaigns import services
from campaigns.journeys.models import JourneyRun
from tests.concurrency import at_once

from ..conftest import segment
from .conftest import publish
from .test_date_entry import NIGHT, born

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _twice_at_once(tick) -> list[Exception]:
    return [result for result in at_once(tick, tick) if isinstance(result, Exception)]


def test_two_ticks_at_once_enter_each_birthday_once(person):
    people = [person() for _ in range(20)]
    for customer in people:
        born(customer, "1990-03-15", time_zone="Europe/Madrid")
    journey = publish(
        {
            "trigger": {"kind": "date", "attribute": "birthday"},
            "reentry": {"mode": "every_time"},
            "steps": [{"id": "w", "kind": "wait", "minutes": 60}],
        }
    )

    assert _twice_at_once(lambda: services.journeys_enter_dates(now=NIGHT)) == []

    entries = Counter(JourneyRun.objects.filter(journey=journey).values_list("customer_id", flat=True))
    assert entries == Counter(people)


def test_two_ticks_at_once_enter_each_segment_member_once(person):
    people = [person(consents=("email",)) for _ in range(20)]
    members = segment()
    journey = publish(
        {
            "trigger": {"kind": "segment", "segment": str(members.id)},
            "reentry": {"mode": "every_time"},
            "steps": [{"id": "w", "kind": "wait", "minutes": 60}],
        }
    )

    assert _twice_at_once(services.journeys_enter_segments) == []

    entries = Counter(JourneyRun.objects.filter(journey=journey).values_list("customer_id", flat=True))
    assert entries == Counter(people)
