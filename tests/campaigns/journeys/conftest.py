"""Journeys: publish through the services, trigger with real events, move time forward by running the step workers
at a later `now`."""

import copy
import uuid
from datetime import timedelta

from django.utils import timezone

from backoffice.eventstore import store
from campaigns import services
from campaigns.journeys.models import JourneyRun
from campaigns.journeys.templates import TEMPLATES

from ..conftest import person, revoke  # noqa: F401 - fixtures and helpers


def publish(definition: dict, *, name: str = "", holdout: str = "0", actor: str = "user:1", **values):
    journey = services.journey_save(
        journey_id=None,
        values={
            "name": name or f"journey {uuid.uuid4().hex[:6]}",
            "definition": definition,
            "holdout_share": holdout,
            **values,
        },
        actor=actor,
    )
    return services.journey_publish(journey_id=journey.id, actor=actor)


def template(name: str) -> dict:
    return copy.deepcopy(TEMPLATES[name]["definition"])


def emit(customer_id, type_name: str, data: dict, *, channel: str = "web"):
    """An interaction of the customer on their own stream, then what the process manager and the step workers do
    after its commit (the tests run inside one transaction: the after-commit wake-ups are called here)."""
    event = store.NewEvent(type_name, data, customer_id=customer_id, channel=channel)
    recorded = store.append(f"customer-{customer_id}", [event])[0]
    settle()
    return recorded


def settle():
    services.journeys_consume()
    advance()


def page_viewed(customer_id, *, channel: str = "web", **data):
    return emit(customer_id, "page.viewed", {"url": "https://shop.example/p", **data}, channel=channel)


def advance(hours: float = 0, minutes: float = 0):
    """The step workers run at a later time: every run due by then takes its steps."""
    now = timezone.now() + timedelta(hours=hours, minutes=minutes)
    while services.journey_runs_advance(now=now):
        pass
    return now


def run_of(journey, customer_id) -> JourneyRun:
    return JourneyRun.objects.get(journey=journey, customer_id=customer_id)
