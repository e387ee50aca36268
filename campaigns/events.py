"""Event types written by campaigns. Segments and campaigns are event-sourced: their tables are projections of these
(campaigns.projections), rebuilt by `rebuild_projections`, and a campaign can be replayed as it was at any instant.

Streams:
- `segment-<uuid>`: segment.created, segment.changed (the whole definition after the change, and what changed).
- `campaign-<uuid>`: the worksheet (campaign.created, campaign.changed: the whole worksheet after the change, and
  which fields changed) and the lifecycle (approved, launched, cancelled, completed). Short: `as_of` replays it.
- `campaign-audience-<uuid>`: the audience frozen at launch (campaign.audience_snapshotted, one event per chunk of a
  snapshot page) and what the fan-out decided for each person (campaign.audience_decided, one per chunk of a batch).
  Kept apart so the campaign's own stream stays a handful of events, whatever the audience's size.
- `*.imported`: the state of campaigns and segments that existed before they were event-sourced (migration 0002).

Deliveries are not written here: they are the `message.queued` events messaging records with the campaign's
idempotency key, read by type name. No personal data: a campaign is about a message, not a person; people appear
by id only.
"""

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from backoffice.eventstore.schema import EventData

# The most customer ids one audience event carries: 600 ids (400 and up to half as many again held out) stay well
# under EVENTSTORE_MAX_EVENT_BYTES (32 KB) at 39 bytes each.
AUDIENCE_CHUNK = 400

OutboundChannel = Literal["email", "sms", "whatsapp", "push", "facebook", "instagram"]
ChannelMode = Literal["best", "every"]
CampaignStatus = Literal["draft", "approved", "scheduled", "running", "completed", "cancelled"]
AudienceOutcome = Literal["", "sent", "holdout", "pressure", "unreachable", "invalid_content", "expired", "cancelled"]


class _Typed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CampaignWorksheet(_Typed):
    """The QQOQCP worksheet as staff left it: every field of the plan, none of the lifecycle."""

    name: str = Field(max_length=200)
    # What
    key_message: str = ""
    intent: str = Field(default="", max_length=300)
    offer_code: str = Field(default="", max_length=40)
    discount: str = Field(default="", max_length=40)
    valid_until: date | None = None
    # Who
    segments: list[UUID] = Field(default_factory=list)
    exclusions: list[UUID] = Field(default_factory=list)
    holdout_share: Decimal = Field(default=Decimal("0.100"), ge=0, le=Decimal("0.5"), max_digits=4, decimal_places=3)
    # Where
    channels: list[OutboundChannel] = Field(default_factory=list)
    channel_mode: ChannelMode = "best"
    # When
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    send_window_start: time | None = None
    send_window_end: time | None = None
    # How
    email_subject: str = Field(default="", max_length=200)
    email_body: str = ""
    sms_text: str = ""
    whatsapp_template: str = Field(default="", max_length=100)
    whatsapp_parameters: str = ""
    push_title: str = Field(default="", max_length=100)
    push_body: str = ""
    facebook_text: str = ""
    instagram_text: str = ""
    # Why
    objective: str = ""
    kpi: str = Field(default="", max_length=100)
    target_value: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    attribution_days: int = Field(default=7, ge=1, le=90)
    costs: dict[OutboundChannel, Decimal] = Field(default_factory=dict)
    budget: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)


class _CampaignEvent(EventData):
    # Not stripped: the worksheet's texts are stored as staff typed them.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
    campaign_id: str = Field(min_length=1, max_length=64)


class CampaignCreated(_CampaignEvent):
    type_name = "campaign.created"
    created_by: str = Field(default="", max_length=100)
    worksheet: CampaignWorksheet


class CampaignChanged(_CampaignEvent):
    """The worksheet after the change, and the names of the fields that changed (the audit trail's "what"). A change
    to an approved (or scheduled, not yet launched) campaign sends it back to draft: what was approved is not what it
    became. `reason`: why, when what changed is not the worksheet itself but a segment it uses (`changed` names
    `segments` or `exclusions`, the worksheet is as it was): its audience is no longer the approved one."""

    type_name = "campaign.changed"
    changed: list[str]
    worksheet: CampaignWorksheet
    # Absent from events recorded before segment changes were recorded on the campaigns using them.
    reason: str = Field(default="", max_length=500)


class CampaignApproved(_CampaignEvent):
    type_name = "campaign.approved"
    approved_by: str = Field(max_length=100)
    author: str = Field(max_length=100)
    # The worksheet as approved (no personal data: it is about a message, not a person).
    worksheet: dict[str, Any]
    # Absent from events recorded before campaigns were event-sourced: the event's time then.
    approved_at: datetime | None = None
    # {segment id: digest of its rules} of every segment and exclusion as approved (campaigns.segments.rules_digest):
    # a launch refuses when one differs now. Absent from events recorded before it was kept (then a segment changed
    # after the approval's time differs).
    segment_digests: dict[str, str] = Field(default_factory=dict)


class CampaignLaunched(_CampaignEvent):
    type_name = "campaign.launched"
    channels: list[str]
    channel_mode: str
    holdout_share: str
    is_scheduled: bool = False
    launched_at: datetime | None = None


class CampaignCompleted(_CampaignEvent):
    type_name = "campaign.completed"
    audience: int = Field(ge=0)
    holdout: int = Field(ge=0)
    messages: int = Field(ge=0)


class CampaignCancelled(_CampaignEvent):
    """Everyone still pending is cancelled with it (decided at `cancelled_at`)."""

    type_name = "campaign.cancelled"
    reason: str = Field(default="", max_length=500)
    cancelled_at: datetime | None = None


class CampaignAudienceSnapshotted(_CampaignEvent):
    """A chunk of a snapshot page: these people are in the audience (in id order), these of them held out.
    `is_done`: the snapshot is complete (the last chunk of the last page; it may carry no one)."""

    type_name = "campaign.audience_snapshotted"
    customer_ids: list[UUID] = Field(max_length=AUDIENCE_CHUNK)
    holdout_ids: list[UUID] = Field(default_factory=list, max_length=AUDIENCE_CHUNK)
    is_done: bool = False


class AudienceDecision(_Typed):
    """People of one decision: an outcome (or "" with `not_before`: wait for their send window)."""

    outcome: AudienceOutcome
    decided_at: datetime | None = None
    not_before: datetime | None = None
    customer_ids: list[UUID] = Field(max_length=AUDIENCE_CHUNK)


class CampaignAudienceDecided(_CampaignEvent):
    """What a fan-out batch decided for its people (a batch of more than AUDIENCE_CHUNK people is several events)."""

    type_name = "campaign.audience_decided"
    decisions: list[AudienceDecision]


class CampaignImported(_CampaignEvent):
    """A campaign that existed before campaigns were event-sourced, as it was then (migration 0002)."""

    type_name = "campaign.imported"
    worksheet: CampaignWorksheet
    status: CampaignStatus
    created_by: str = Field(default="", max_length=100)
    approved_by: str = Field(default="", max_length=100)
    approved_at: datetime | None = None
    launched_at: datetime | None = None
    completed_at: datetime | None = None
    is_snapshot_done: bool = False
    snapshot_cursor: UUID | None = None
    created_at: datetime
    updated_at: datetime


class ImportedMember(_Typed):
    customer_id: UUID
    is_holdout: bool = False
    outcome: AudienceOutcome = ""
    not_before: datetime | None = None
    decided_at: datetime | None = None


class CampaignAudienceImported(_CampaignEvent):
    type_name = "campaign.audience_imported"
    members: list[ImportedMember] = Field(max_length=AUDIENCE_CHUNK // 2)


class ImportedDelivery(_Typed):
    customer_id: UUID
    channel: OutboundChannel
    message_id: UUID
    queued_at: datetime


class CampaignDeliveriesImported(_CampaignEvent):
    type_name = "campaign.deliveries_imported"
    deliveries: list[ImportedDelivery] = Field(max_length=AUDIENCE_CHUNK // 2)


# --- Segments -------------------------------------------------------------------------------------------------------


class _SegmentEvent(EventData):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
    segment_id: UUID
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    # {"op": "and"|"or", "rules": [...]}, validated by campaigns.segments before it is recorded.
    rules: dict[str, Any]


class SegmentCreated(_SegmentEvent):
    type_name = "segment.created"
    created_by: str = Field(default="", max_length=100)


class SegmentChanged(_SegmentEvent):
    """The segment after the change, and the names of the fields that changed."""

    type_name = "segment.changed"
    changed: list[str]


class SegmentImported(_SegmentEvent):
    """A segment that existed before segments were event-sourced (migration 0002)."""

    type_name = "segment.imported"
    created_by: str = Field(default="", max_length=100)
    created_at: datetime
    updated_at: datetime


# Journeys are a part of campaigns; their event types live with their code and register on import.
from .journeys import events as journey_events  # noqa: E402, F401
