"""Two beat ticks at once (two workers took the same tick): the date and segment entries hold the journey's row
lock, so everybody enters once."""

import threading
from collections import Counter

import pytest
from django.db import connection

from campaigns import services
from campaigns.journeys.models import JourneyRun

from ..conftest import segment
from .conftest import publish
from .test_date_entry import NIGHT, born

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _twice_at_once(tick) -> list[Exception]:
    errors: list[Exception] = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            tick()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


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
