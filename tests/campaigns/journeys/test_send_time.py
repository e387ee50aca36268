"""Send-time optimisation: a send step that opts in waits for the hour of the week the person engages most (their
own reads, clicks and orders, in their time zone), else the hour of the people around them, never in quiet hours;
the simulator shows the same time the run uses."""

import uuid
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from campaigns import services
from campaigns.journeys.services.send_time import best_send_time, engagement_hours

from .conftest import page_viewed, publish, run_of

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")


def _read_at(customer_id, at: datetime):
    data = {"message_id": str(uuid.uuid4()), "purpose": "marketing"}
    event = store.NewEvent("message.read", data, customer_id=customer_id, channel="email", occurred_at=at)
    store.append(f"message-{data['message_id']}", [event])


def _last(weekday: int, hour: int) -> datetime:
    """The latest past moment on that weekday at that local hour (Madrid), 20 minutes past."""
    now = timezone.now().astimezone(MADRID)
    day = now.date() - timedelta(days=(now.weekday() - weekday) % 7 or 7)
    return datetime.combine(day, time(hour, 20), tzinfo=MADRID)


def test_the_best_hour_is_the_persons_own_and_falls_back_to_the_batch_outside_quiet_hours():
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Madrid
    own = Counter({(2, 19): 3, (0, 10): 1})
    chosen = best_send_time(own, Counter(), now=now, time_zone="Europe/Madrid", quiet=(None, None))
    assert chosen == datetime(2026, 12, 9, 19, 0, tzinfo=MADRID)
    # Without history, the batch's hour; with quiet hours over 19:00, the next best allowed hour.
    fallback = best_send_time(Counter(), own, now=now, time_zone="Europe/Madrid", quiet=(time(18), time(22)))
    assert fallback == datetime(2026, 12, 7, 10, 0, tzinfo=MADRID)
    assert best_send_time(Counter(), Counter(), now=now, time_zone="Europe/Madrid", quiet=(None, None)) is None


def test_a_send_step_that_opts_in_waits_for_the_persons_hour_and_the_simulator_agrees(person):
    customer = person(time_zone="Europe/Madrid")
    for weeks in range(3):
        _read_at(customer, _last(3, 20) - timedelta(weeks=weeks))  # Thursdays at 20:xx
    assert engagement_hours([customer], zones={customer: "Europe/Madrid"}, now=timezone.now())[customer] == Counter(
        {(3, 20): 3}
    )
    definition = {
        "trigger": {"kind": "event", "event": "page.viewed"},
        "steps": [
            {
                "id": "hello",
                "kind": "send",
                "channel": "email",
                "optimise_send_time": True,
                "variants": {"email": {"subject": "Hola", "body": "Hola"}},
            }
        ],
    }
    journey = publish(definition)
    simulated = services.journey_simulate(journey_id=journey.id, customer_id=customer)

    page_viewed(customer)

    run = run_of(journey, customer)
    local = run.due_at.astimezone(MADRID)
    assert (run.step, local.weekday(), local.hour) == ("hello", 3, 20)
    assert datetime.fromisoformat(simulated["steps"][0]["at"]).astimezone(MADRID).hour == 20
