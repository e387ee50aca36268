"""Event types of journeys (imported by campaigns.events, so the store knows them).

Streams:
- `journey-<uuid>`: the definition staff edit (journey.created, journey.changed: the whole definition after the
  change), its versions (journey.published: the definition frozen under a version number) and its lifecycle
  (journey.paused, journey.resumed).
- `journey-<uuid>-<customer uuid>`: one person's progress through that journey, every run of it in order:
  journey.entered, journey.step_completed (what the step did and where the person goes next, and when),
  journey.step_failed (a step that could not be taken, tried again later), journey.exited (with the reason),
  journey.converted (the goal reached after the run ended, within the attribution window). The position of every
  person is a projection of these (campaigns.journeys.projections).

No personal data: steps name channels and message ids, never addresses or texts (the messages are messaging's).
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from backoffice.eventstore.schema import EventData

JourneyStatus = Literal["draft", "live", "paused"]
# goal: the goal event; completed: the last step done; holdout_window: a held-out person's window ended; erased: the
# person was erased; merged: their profile was merged into one already in the journey; failed: a step kept failing.
ExitReason = Literal["goal", "completed", "holdout_window", "erased", "merged", "failed"]


class _JourneyEvent(EventData):
    # Not stripped: texts of variants are stored as staff typed them.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
    journey_id: UUID


class _JourneyPlan(_JourneyEvent):
    name: str = Field(min_length=1, max_length=200)
    # Why: the objective, the KPI it is judged by and the target; the goal event is in the definition.
    objective: str = ""
    kpi: str = Field(default="", max_length=100)
    holdout_share: Decimal = Field(default=Decimal("0.100"), ge=0, le=Decimal("0.5"), max_digits=4, decimal_places=3)
    attribution_days: int = Field(default=7, ge=1, le=90)
    # Validated by campaigns.journeys.definition before it is recorded (the step it refuses is named there).
    definition: dict[str, Any]


class JourneyCreated(_JourneyPlan):
    type_name = "journey.created"
    created_by: str = Field(default="", max_length=100)
    template: str = Field(default="", max_length=40)


class JourneyChanged(_JourneyPlan):
    """The journey after the change, and the names of the fields that changed. People in flight are not moved: they
    stay on the version they entered."""

    type_name = "journey.changed"
    changed: list[str]


class JourneyPublished(_JourneyEvent):
    """A new version: the definition as published. From now on people enter this version."""

    type_name = "journey.published"
    version: int = Field(ge=1)
    published_by: str = Field(max_length=100)
    definition: dict[str, Any]
    holdout_share: Decimal = Field(ge=0, le=Decimal("0.5"), max_digits=4, decimal_places=3)
    attribution_days: int = Field(ge=1, le=90)


class JourneyPaused(_JourneyEvent):
    """No new entries and no steps until resumed; exits by goal still happen."""

    type_name = "journey.paused"
    paused_by: str = Field(max_length=100)


class JourneyResumed(_JourneyEvent):
    type_name = "journey.resumed"
    resumed_by: str = Field(max_length=100)


# --- One person's progress ------------------------------------------------------------------------------------------


class _RunEvent(_JourneyEvent):
    run_id: UUID
    version: int = Field(ge=1)


class JourneyEntered(_RunEvent):
    """The person entered (their `entry`-th time). Held out people (the control group) get no step: they are only
    watched for the goal until the attribution window ends."""

    type_name = "journey.entered"
    entry: int = Field(ge=1)
    is_holdout: bool = False
    trigger_event_id: UUID | None = None
    trigger_position: int | None = None
    trigger_type: str = Field(default="", max_length=100)
    step: str = Field(default="", max_length=64)
    due_at: datetime | None = None
    awaiting: str = Field(default="", max_length=100)


class JourneyStepCompleted(_RunEvent):
    """A step done: its outcome (sent, pressure, unreachable, yes/no, a split path, event/timeout, waited, ...) and
    where the person goes next (`next_step` empty: the end), due when (`due_at`), or on what event (`awaiting`)."""

    type_name = "journey.step_completed"
    step: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    outcome: str = Field(max_length=32)
    channel: str = Field(default="", max_length=16)
    message_id: str = Field(default="", max_length=64)
    case_id: str = Field(default="", max_length=64)
    tag: str = Field(default="", max_length=64)
    next_step: str = Field(default="", max_length=64)
    # "fallback": the send step stays current until its fallback check is due.
    phase: str = Field(default="", max_length=16)
    due_at: datetime | None = None
    awaiting: str = Field(default="", max_length=100)


class JourneyStepFailed(_RunEvent):
    """The run's step could not be taken (an error in it, recorded by its class name, never its text): the run stays
    where it is and is due again at `due_at`. After the last attempt the run exits instead (reason failed)."""

    type_name = "journey.step_failed"
    step: str = Field(max_length=64)
    error: str = Field(max_length=100)
    attempt: int = Field(ge=1)
    due_at: datetime


class JourneyExited(_RunEvent):
    type_name = "journey.exited"
    reason: ExitReason
    step: str = Field(default="", max_length=64)
    goal_event_id: UUID | None = None
    # A goal exit is a conversion (converted_at and revenue on the run) only within the attribution window of the
    # run's version; after it the person still leaves, unconverted (revenue 0). Events before this field: converted.
    is_conversion: bool = True
    revenue: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)


class JourneyConverted(_RunEvent):
    """The goal reached within the attribution window after the run had ended (a run still going exits by goal)."""

    type_name = "journey.converted"
    goal_event_id: UUID
    revenue: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=2)
