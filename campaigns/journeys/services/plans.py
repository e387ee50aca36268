"""Commands on a journey's plan: save the draft, publish it as a new version, pause. One transaction each; the
journey's events are appended at its stream's version."""

import uuid
from decimal import Decimal
from functools import partial
from typing import Any

from django.db import transaction

from backoffice.eventstore import store

from ...commands import CommandRefused, append_from_data
from ...models import Segment
from .. import definition as rules
from ..events import JourneyChanged, JourneyCreated, JourneyPaused, JourneyPublished, JourneyResumed
from ..models import Journey, JourneyStatus, JourneyVersion

PLAN_FIELDS = ("name", "objective", "kpi", "holdout_share", "attribution_days", "definition")


class JourneyRefused(CommandRefused):
    """A command the journey's state or content does not allow; a broken step is named by its id:
    `steps.<id>.<field>`."""

    noun = "journey"


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    plain = dict(values)
    if "holdout_share" in plain:
        plain["holdout_share"] = str(Decimal(str(plain["holdout_share"])).quantize(Decimal("0.001")))
    return plain


def journey_save(*, journey_id: uuid.UUID | None, values: dict[str, Any], actor: str, template: str = "") -> Journey:
    """Create a draft journey or change one (a live or paused journey too: the change is the next version's draft,
    published when staff publish it). Saving it unchanged records nothing. The definition's shape is checked at
    publication, so an unfinished draft can be kept."""
    values = _plain({name: value for name, value in values.items() if name in PLAN_FIELDS})
    if "definition" in values and not isinstance(values["definition"], dict):
        raise JourneyRefused.invalid([_must_be_object()])
    with transaction.atomic():
        current = Journey.objects.select_for_update().filter(pk=journey_id).first() if journey_id else None
        if current is None:
            journey_id = journey_id or uuid.uuid4()
            data = {
                "journey_id": str(journey_id),
                "created_by": actor[:100],
                "template": template,
                "definition": {},
                **values,
            }
            _append(f"journey-{journey_id}", JourneyCreated, data, actor=actor, expected_version=store.NO_STREAM)
            return Journey.objects.get(pk=journey_id)
        before = _plain({name: getattr(current, name) for name in PLAN_FIELDS})
        after = {**before, **values}
        changed = [name for name in PLAN_FIELDS if after[name] != before[name]]
        if not changed:
            return current
        data = {"journey_id": str(current.id), "changed": changed, **after}
        _append(current.stream, JourneyChanged, data, actor=actor)
        current.refresh_from_db()
        return current


def _must_be_object() -> dict[str, str]:
    return {"field": "definition", "message": "must be an object", "code": "invalid"}


def journey_problems(journey: Journey) -> list[dict[str, str]]:
    """What stops this journey's draft from being published, each naming its step."""
    known = {str(pk) for pk in Segment.objects.values_list("id", flat=True)}
    return rules.validate(journey.definition, known_segments=known)


def journey_publish(*, journey_id: uuid.UUID, actor: str) -> Journey:
    """Publish the draft as a new version, or resume a paused journey whose draft is its live version. Refused with
    every broken step named; nothing is written then. Publishing a live journey unchanged changes nothing."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey_id)
        problems = journey_problems(journey)
        if problems:
            raise JourneyRefused("invalid_definition", "the journey cannot be published", problems)
        live = JourneyVersion.objects.filter(journey=journey, version=journey.version).first()
        is_same = live is not None and (
            live.definition == journey.definition
            and live.holdout_share == Decimal(str(journey.holdout_share))
            and live.attribution_days == journey.attribution_days
        )
        if is_same:
            if journey.status == JourneyStatus.PAUSED:
                resumed = {"journey_id": str(journey.id), "resumed_by": actor}
                _append(journey.stream, JourneyResumed, resumed, actor=actor)
                journey.refresh_from_db()
            return journey
        data = {
            "journey_id": str(journey.id),
            "version": journey.version + 1,
            "published_by": actor[:100],
            "definition": journey.definition,
            "holdout_share": str(journey.holdout_share),
            "attribution_days": journey.attribution_days,
        }
        _append(journey.stream, JourneyPublished, data, actor=actor)
        journey.refresh_from_db()
    return journey


def journey_pause(*, journey_id: uuid.UUID, actor: str) -> Journey:
    """Stop new entries and hold every step where it is; exits by goal go on. Pausing a paused journey changes
    nothing; a draft has nothing to pause."""
    with transaction.atomic():
        journey = Journey.objects.select_for_update().get(pk=journey_id)
        if journey.status == JourneyStatus.DRAFT:
            raise JourneyRefused("not_live", "a draft journey cannot be paused; publish it first")
        if journey.status == JourneyStatus.LIVE:
            _append(journey.stream, JourneyPaused, {"journey_id": str(journey.id), "paused_by": actor}, actor=actor)
            journey.refresh_from_db()
    return journey


# Every event of a journey's plan is built from plain data; a bad value refuses the command as invalid.
_append = partial(append_from_data, refused=JourneyRefused.invalid)
