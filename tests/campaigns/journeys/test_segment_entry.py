"""Entry by segment: the people of the segment enter on the beat's tick, by the re-entry rules, never twice."""

import pytest

from campaigns import services
from campaigns.journeys.models import JourneyRun

from ..conftest import segment
from .conftest import publish

pytestmark = pytest.mark.django_db


def test_the_people_of_a_segment_enter_once_on_the_tick(person):
    inside = [person(consents=("email",)) for _ in range(3)]
    outside = person(consents=("sms",))
    members = segment()
    journey = publish(
        {
            "trigger": {"kind": "segment", "segment": str(members.id)},
            "reentry": {"mode": "once"},
            "steps": [{"id": "w", "kind": "wait", "minutes": 60}],
        }
    )

    assert services.journeys_enter_segments() == 3
    assert services.journeys_enter_segments() == 0  # the next tick: nobody twice

    entered = set(JourneyRun.objects.filter(journey=journey).values_list("customer_id", flat=True))
    assert entered == set(inside)
    assert outside not in entered


def test_a_segment_journey_with_no_such_segment_cannot_be_published():
    from campaigns.journeys.services.plans import JourneyRefused

    journey = services.journey_save(
        journey_id=None,
        values={
            "name": "x",
            "definition": {"trigger": {"kind": "segment", "segment": "nope"}, "steps": [{"id": "e", "kind": "end"}]},
        },
        actor="t",
    )
    with pytest.raises(JourneyRefused) as refused:
        services.journey_publish(journey_id=journey.id, actor="t")
    assert refused.value.errors[0]["field"] == "trigger.segment"
