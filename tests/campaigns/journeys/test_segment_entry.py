"""Entry by segment: people enter when they JOIN the segment (not members at the previous evaluation, members now),
on the beat's tick, by the re-entry rules and the cap, never twice."""

import pytest

from backoffice.messaging.models import OutboundMessage
from campaigns import services
from campaigns.journeys.models import JourneyRun

from ..conftest import grant, revoke, segment
from .conftest import advance, emit, publish

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def _grant(customer_id):
    grant(customer_id, "email")


def _journey(reentry, **trigger):
    members = segment()  # people with email consent: revoking it leaves, granting it again comes back
    return publish(
        {
            "trigger": {"kind": "segment", "segment": str(members.id), **trigger},
            "reentry": reentry,
            # Short: the run ends at once, so only the re-entry rules (not "still in it") keep people out.
            "steps": [{"id": "t", "kind": "tag", "tag": "joined"}],
        }
    )


def tick() -> int:
    """What beat does: enter who joined, then the step workers take the steps due."""
    entered = services.journeys_enter_segments()
    advance()
    return entered


def _entries(journey, customer_id=None):
    runs = JourneyRun.objects.filter(journey=journey)
    if customer_id is not None:
        runs = runs.filter(customer_id=customer_id)
    return runs.count()


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


def test_someone_who_stays_in_the_segment_enters_once_in_every_time_mode(person):
    customer = person(consents=("email",))
    journey = _journey({"mode": "every_time"})

    for _tick in range(3):
        tick()

    assert _entries(journey, customer) == 1  # their run ended, but they never left: no new entry


@pytest.mark.parametrize(("reentry", "entries"), [({"mode": "every_time"}, 2), ({"mode": "once"}, 1)])
def test_someone_who_leaves_and_comes_back_reenters_by_the_rules(person, reentry, entries):
    customer = person(consents=("email",))
    journey = _journey(reentry)
    tick()

    revoke(customer, "email")
    tick()  # they left
    _grant(customer)
    tick()  # they came back: entering again
    tick()

    assert _entries(journey, customer) == entries


def test_someone_who_joins_after_publication_enters(person):
    journey = _journey({"mode": "once"})
    tick()
    customer = person(consents=("sms",))
    tick()
    assert _entries(journey, customer) == 0

    _grant(customer)
    tick()

    assert _entries(journey, customer) == 1


def test_current_members_do_not_enter_when_the_trigger_says_so_but_newcomers_do(person):
    already = person(consents=("email",))
    journey = _journey({"mode": "every_time"}, include_current_members=False)

    assert tick() == 0
    newcomer = person(consents=("sms",))
    _grant(newcomer)
    assert tick() == 1

    assert (_entries(journey, already), _entries(journey, newcomer)) == (0, 1)


def test_the_cap_holds_across_people_coming_and_going(person):
    first, second, third = (person(consents=("email",)) for _ in range(3))
    members = segment()
    journey = publish(
        {
            "trigger": {"kind": "segment", "segment": str(members.id)},
            "reentry": {"mode": "every_time"},
            "cap": 4,
            "steps": [{"id": "t", "kind": "tag", "tag": "joined"}],
        }
    )
    assert tick() == 3
    for customer in (first, second, third):
        revoke(customer, "email")
    tick()
    for customer in (first, second, third):
        _grant(customer)

    assert tick() == 1  # three came back, room for one

    assert _entries(journey) == 4
    assert tick() == 0


def test_a_paused_journey_follows_the_members_but_nobody_enters_not_even_on_resume(person):
    journey = _journey({"mode": "every_time"})
    tick()
    services.journey_pause(journey_id=journey.id, actor="user:1")
    customer = person(consents=("sms",))
    _grant(customer)
    tick()

    services.journey_publish(journey_id=journey.id, actor="user:1")
    tick()

    assert _entries(journey, customer) == 0


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


def test_a_goal_met_before_the_entry_is_not_the_runs_conversion(person):
    """A run entered by segment has no trigger in the log; the process manager reads the log from before its entry
    (from the first journey's publication), so a product viewed earlier must not end the run as its goal."""
    customer = person(consents=("email",))
    emit(customer, "product.viewed", {"sku": "X"}, channel="web")
    journey = publish(
        {
            "trigger": {"kind": "segment", "segment": str(segment().id)},
            "goal": {"event": "product.viewed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    assert services.journeys_enter_segments() == 1
    services.journeys_consume()
    advance(hours=2)
    run = JourneyRun.objects.get(journey=journey, customer_id=customer)
    assert (run.status, run.exit_reason, run.converted_at) == ("done", "completed", None)
    assert OutboundMessage.objects.filter(customer_id=customer).count() == 1

    # The same product viewed after the entry is the run's conversion (within the window, after its end).
    advance(minutes=1)
    emit(customer, "product.viewed", {"sku": "X"}, channel="web")
    services.journeys_consume()
    run.refresh_from_db()
    assert run.converted_at is not None
