"""The process manager (campaigns.journeys.services.consumer): the goal and attribution window of the version each
run entered, conversions only within that window, and one run per person when two profiles in flight are merged."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.messaging.models import OutboundMessage
from campaigns import services
from campaigns.journeys.models import JourneyRun

from .conftest import advance, page_viewed, publish, run_of, settle

pytestmark = pytest.mark.django_db

EMAIL = {"email": {"subject": "Hola", "body": "Un mensaje"}}


def _trigger(**extra):
    return {"kind": "event", "event": "page.viewed", **extra}


def _wait_then_send(**extra):
    return {
        "trigger": _trigger(),
        "steps": [
            {"id": "w", "kind": "wait", "minutes": 60, "next": "s"},
            {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
        ],
        **extra,
    }


def test_people_in_flight_keep_the_goal_of_the_version_they_entered(person, shop):
    """Version 1's goal is order.placed. Marketing publishes version 2 with another goal (product.viewed) while a
    person waits in version 1. The person buys: the process manager only listened for the live version's goal and
    applied it to every run of the journey, so the version-1 run was not taken out and the reminder went to someone
    who had bought. People in flight stay on their version (docs/journeys.md), its goal included."""
    customer = person(consents=("email",))
    definition = _wait_then_send(goal={"event": "order.placed"})
    journey = publish(definition)
    page_viewed(customer)
    services.journey_save(
        journey_id=journey.id, values={"definition": {**definition, "goal": {"event": "product.viewed"}}}, actor="u:1"
    )
    services.journey_publish(journey_id=journey.id, actor="u:1")

    shop(customer, ["ZAP-RUN"])
    settle()
    advance(hours=2)

    run = run_of(journey, customer)
    assert (run.version, run.exit_reason) == (1, "goal")
    assert not OutboundMessage.objects.filter(customer_id=customer).exists()


def test_the_live_versions_goal_does_not_take_out_people_of_an_earlier_version(person):
    """The other way round: version 2's goal (product.viewed) is not version 1's, so it takes nobody of version 1
    out; people who entered version 2 do leave on it."""
    first, second = person(consents=("email",)), person(consents=("email",))
    definition = _wait_then_send(goal={"event": "order.placed"})
    journey = publish(definition)
    page_viewed(first)
    services.journey_save(
        journey_id=journey.id, values={"definition": {**definition, "goal": {"event": "product.viewed"}}}, actor="u:1"
    )
    services.journey_publish(journey_id=journey.id, actor="u:1")
    page_viewed(second)

    for customer in (first, second):
        store.append(
            f"customer-{customer}",
            [store.NewEvent("product.viewed", {"sku": "ZAP-RUN"}, customer_id=customer, channel="web")],
        )
    settle()

    assert (run_of(journey, first).version, run_of(journey, first).status) == (1, "active")
    assert (run_of(journey, second).version, run_of(journey, second).exit_reason) == (2, "goal")


def _enter_in_the_past(days: float):
    """The process manager reads the triggers `days` ago (its clock only; the store accepts past occurred_at)."""
    from campaigns.journeys.services import consumer

    past = timezone.now() - timedelta(days=days)
    return mock.patch.object(consumer, "timezone", SimpleNamespace(now=lambda: past))


def _treated_and_held(person, journey):
    from campaigns.journeys.definition import is_holdout

    treated = held = None
    while treated is None or held is None:
        customer = person()
        if is_holdout(journey.id, customer, journey.holdout_share):
            held = held or customer
        else:
            treated = treated or customer
    return treated, held


def _enter_days_ago(days, *customers):
    for customer in customers:
        store.append(
            f"customer-{customer}",
            [store.NewEvent("page.viewed", {"url": "https://x/p"}, customer_id=customer, channel="web")],
        )
    with _enter_in_the_past(days):
        services.journeys_consume()


def test_an_order_after_the_attribution_window_is_not_a_conversion_of_the_treated_either(person, shop):
    """attribution_days=1. A treated person and a held-out person enter 3 days ago; the treated one is still in a
    5-day wait, the held-out one's window ended after a day. Both buy today, 3 days after entering: outside the
    window. The held-out purchase is (rightly) not a conversion; the treated one's was counted with its revenue
    because the goal exit of an active run ignored the window. The treated person still leaves on the goal."""
    from campaigns.journeys.selectors import journey_report

    journey = publish(
        {
            "trigger": _trigger(),
            "goal": {"event": "order.placed"},
            "steps": [
                {"id": "w", "kind": "wait", "minutes": 5 * 1440, "next": "s"},
                {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
            ],
        },
        holdout="0.5",
        attribution_days=1,
    )
    treated, held = _treated_and_held(person, journey)
    _enter_days_ago(3, treated, held)
    advance()  # the held-out person's window (1 day) is over
    assert run_of(journey, held).exit_reason == "holdout_window"
    assert run_of(journey, treated).step == "w"

    shop(treated, ["ZAP-RUN"])
    shop(held, ["ZAP-RUN"])
    settle()

    report = journey_report(journey=journey)
    assert (report["holdout"]["converted"], report["treated"]["converted"]) == (0, 0), report
    run = run_of(journey, treated)
    assert (run.status, run.exit_reason, run.converted_at, run.revenue) == ("exited", "goal", None, 0)
    assert report["exited"]["goal"] == 1


def test_a_goal_within_the_attribution_window_of_the_runs_version_is_a_conversion(person, shop):
    """The window is the version's the person entered: version 1 has 5 days, version 2 (live now) 1 day. A person of
    version 1 who buys 3 days after entering converts, with the order's revenue."""
    customer = person(consents=("email",))
    definition = {
        "trigger": _trigger(),
        "goal": {"event": "order.placed"},
        "steps": [
            {"id": "w", "kind": "wait", "minutes": 5 * 1440, "next": "s"},
            {"id": "s", "kind": "send", "channel": "email", "variants": EMAIL},
        ],
    }
    journey = publish(definition, attribution_days=5)
    _enter_days_ago(3, customer)
    services.journey_save(journey_id=journey.id, values={"attribution_days": 1}, actor="u:1")
    services.journey_publish(journey_id=journey.id, actor="u:1")

    shop(customer, ["ZAP-RUN"])
    settle()

    run = run_of(journey, customer)
    assert (run.version, run.exit_reason, run.revenue) == (1, "goal", Decimal("69.90"))
    assert run.converted_at is not None


def test_two_profiles_in_flight_merged_into_one_person_get_the_journey_once(person, settings):
    """Both profiles of one person entered (before anyone knew they were the same person) and wait. They are merged:
    one person had two active runs of the same journey ("never twice at once"), and the step worker sent them the
    same message twice, both reaching the survivor's addresses. The merged profile's run ends (reason "merged")
    when the process manager reads the merge; the person gets the journey's message once."""
    from customers import services as customer_services

    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 10, "days": 7}
    ana, ana_shop = person(consents=("email",)), person(consents=("email",))
    journey = publish(_wait_then_send())
    page_viewed(ana)
    page_viewed(ana_shop)
    merge = customer_services.customer_merge(customer_ids=(ana, ana_shop), actor="test")

    advance(hours=2)

    messages = OutboundMessage.objects.filter(customer_id__in=(ana, ana_shop))
    assert messages.count() == 1, [(m.customer_id, m.recipient if hasattr(m, "recipient") else "") for m in messages]
    assert run_of(journey, merge.merged).exit_reason == "merged"
    assert run_of(journey, merge.survivor).status == "done"


def test_a_merged_profiles_run_goes_on_when_the_survivor_has_none(person, settings):
    """Runs are the person's: the merged profile's run is the person's only one in the journey, so it goes on."""
    from customers import services as customer_services

    ana, ana_shop = person(consents=("email",)), person(consents=("email",))
    journey = publish(_wait_then_send())
    page_viewed(ana_shop)
    merge = customer_services.customer_merge(customer_ids=(ana, ana_shop), actor="test")
    settle()

    advance(hours=2)

    runs = JourneyRun.objects.filter(journey=journey)
    assert [(run.customer_id, run.status, run.exit_reason) for run in runs] == [(ana_shop, "done", "completed")]
    assert merge.merged == ana_shop
    assert OutboundMessage.objects.filter(customer_id__in=(ana, ana_shop)).count() == 1
