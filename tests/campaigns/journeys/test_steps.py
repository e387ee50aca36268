"""The step workers (campaigns.journeys.services.steps): one run that cannot take its step never holds up the others,
a refused case is an outcome, and no run is taken ahead of what the process manager has read."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from campaigns import services
from campaigns.journeys.services import steps

from .conftest import advance, page_viewed, publish, run_of

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def _trigger(**extra):
    return {"kind": "event", "event": "page.viewed", **extra}


def _task_then_send():
    return {
        "trigger": _trigger(),
        "steps": [
            {"id": "w", "kind": "wait", "minutes": 60, "next": "call"},
            {"id": "call", "kind": "task", "queue": "support", "title": "Llamar", "next": "s"},
            {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
        ],
    }


def test_an_erased_person_at_a_task_step_does_not_stop_every_other_run(person):
    """A person erased while waiting before a task step: case_open refuses erased customers (CaseRefused), the
    step worker's whole batch rolled back, and the run stayed due at the head of the queue: nobody else's steps ran
    any more (a poison run). The erased person's run ends, the others go on."""
    from customers.services.gdpr import customer_erase

    erased, other = person(), person()
    journey = publish(_task_then_send())
    page_viewed(erased)
    page_viewed(other)
    customer_erase(customer_id=erased, actor="test")

    try:
        advance(minutes=61)
    except Exception as exc:  # noqa: BLE001 - the failure is the finding
        pytest.fail(f"the step worker's batch failed for everybody: {exc!r}")
    assert run_of(journey, other).status == "done"
    assert OutboundMessage.objects.filter(customer_id=other).count() == 1


def test_a_case_refused_at_a_task_step_is_the_steps_outcome_and_the_run_goes_on(person, settings):
    """An erasure the journeys' hook did not see (erased before it was registered): the task step records that the
    case was refused and the run goes on; everybody else's steps are taken in the same batch."""
    from customers.services.gdpr import customer_erase

    erased, other = person(), person()
    journey = publish(_task_then_send())
    page_viewed(erased)
    page_viewed(other)
    settings.CUSTOMERS_ERASURE_HOOKS = [hook for hook in settings.CUSTOMERS_ERASURE_HOOKS if "journeys" not in hook]
    customer_erase(customer_id=erased, actor="test")

    advance(minutes=61)

    run = run_of(journey, erased)
    assert [step_outcome[:2] for step_outcome in run.path][:2] == [["w", "waited"], ["call", "task_refused"]]
    assert run.status == "done"
    assert not OutboundMessage.objects.filter(customer_id=erased).exists()
    assert [step_outcome[:2] for step_outcome in run_of(journey, other).path][1] == ["call", "task_created"]
    assert OutboundMessage.objects.filter(customer_id=other).count() == 1


def _failing_for(customer_id):
    real = steps.walk

    def walk(definition, position, **kwargs):
        if position.customer_id == customer_id:
            raise RuntimeError("a bug in one run's step")
        return real(definition, position, **kwargs)

    return mock.patch.object(steps, "walk", walk)


def test_a_run_whose_step_fails_is_set_aside_and_the_rest_of_the_batch_goes_on(person):
    """One run's step raises: the batch is not lost. The others take their steps (their messages queued once); the
    failing run records journey.step_failed and is due again later, out of the head of the queue."""
    failing, other = person(), person()
    journey = publish(
        {
            "trigger": _trigger(),
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    page_viewed(failing)
    page_viewed(other)

    with _failing_for(failing):
        later = advance(minutes=61)

    assert run_of(journey, other).status == "done"
    assert OutboundMessage.objects.filter(customer_id=other).count() == 1
    run = run_of(journey, failing)
    assert (run.status, run.step, run.path) == ("active", "w", [])
    assert run.due_at > later
    (failed,) = Event.objects.filter(stream=run.stream, type="journey.step_failed")
    assert (failed.data["step"], failed.data["attempt"], failed.data["error"]) == ("w", 1, "RuntimeError")


def test_a_run_that_keeps_failing_leaves_the_journey_after_its_last_attempt(person):
    customer = person()
    journey = publish(
        {
            "trigger": _trigger(),
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    page_viewed(customer)

    with _failing_for(customer):
        for _ in range(len(steps.RETRY_MINUTES) + 1):
            run = run_of(journey, customer)
            assert run.status == "active"
            minutes = (run.due_at - timezone.now()).total_seconds() / 60 + 1
            advance(minutes=minutes)

    run = run_of(journey, customer)
    assert (run.status, run.exit_reason, run.due_at) == ("done", "failed", None)
    attempts = Event.objects.filter(stream=run.stream, type="journey.step_failed").count()
    assert attempts == len(steps.RETRY_MINUTES)
    assert not OutboundMessage.objects.filter(customer_id=customer).exists()


def test_a_goal_reached_during_a_wait_stops_the_message_even_if_the_process_manager_is_a_little_behind(person, shop):
    """The person buys (the goal) while waiting; the wait comes due before the process manager has read the order
    (it is woken after commit and by beat, the step workers by beat too: two independent tasks). The step worker
    took the run anyway and sent the reminder to someone who already bought. It takes no run due after the first
    event the process manager has yet to read."""
    customer = person(consents=("email",))
    journey = publish(
        {
            "trigger": _trigger(),
            "goal": {"event": "order.placed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    page_viewed(customer)
    shop(customer, ["ZAP-RUN"])  # the goal, not yet read by the process manager

    advance(minutes=61)  # beat's tick: the step worker runs before (or beside) the process manager
    services.journeys_consume()

    assert run_of(journey, customer).exit_reason == "goal"
    assert not OutboundMessage.objects.filter(customer_id=customer).exists()


def test_the_step_worker_takes_no_run_due_after_an_event_the_process_manager_has_not_read(person, shop):
    """The process manager's cursor is held by another worker (it cannot be caught up from here): the step worker
    leaves the runs due after the first unread event where they are, and takes them once it has been read."""
    customer = person(consents=("email",))
    journey = publish(
        {
            "trigger": _trigger(),
            "goal": {"event": "order.placed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        }
    )
    page_viewed(customer)
    shop(customer, ["ZAP-RUN"])

    with mock.patch.object(steps, "journeys_consume", return_value=(0, False)):
        taken = services.journey_runs_advance(now=timezone.now() + timedelta(minutes=61))

    assert taken == 0
    assert run_of(journey, customer).step == "w"
    assert not OutboundMessage.objects.filter(customer_id=customer).exists()
