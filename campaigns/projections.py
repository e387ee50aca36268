"""The tables of campaigns as projections of its events: segments, campaigns (with their segments and exclusions),
the audience frozen at launch with the fan-out's decisions, and the deliveries (from messaging's `message.queued`
of the campaign's idempotency keys, read by type name).

INLINE: the services read them back in the same transaction (the campaign's status guards every command, the
audience rows are the fan-out's work queue). Each value a row holds comes from an event, so a rebuild gives the same
rows; the surrogate ids of audience and delivery rows are the only thing that differs (rows are known by campaign and
customer, and by campaign, customer and channel).

`campaign_state_apply` is the one definition of what a campaign's own events do to it: this projection writes its
answer to the row, and `selectors.campaign_as_of` replays a stream through it in memory.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from backoffice.eventstore.projector import INLINE, Projection, type_names
from backoffice.eventstore.store import RecordedEvent
from backoffice.messaging.events import MessageQueued

from .events import (
    CampaignApproved,
    CampaignAudienceDecided,
    CampaignAudienceImported,
    CampaignAudienceSnapshotted,
    CampaignCancelled,
    CampaignChanged,
    CampaignCompleted,
    CampaignCreated,
    CampaignDeliveriesImported,
    CampaignImported,
    CampaignLaunched,
    CampaignWorksheet,
    SegmentChanged,
    SegmentCreated,
    SegmentImported,
)
from .models import WORKSHEET_FIELDS, AudienceMember, Campaign, Delivery, Outcome, Segment, Status

CAMPAIGN_TYPES: Final = type_names(
    CampaignCreated,
    CampaignChanged,
    CampaignApproved,
    CampaignLaunched,
    CampaignCancelled,
    CampaignCompleted,
    CampaignImported,
)
AUDIENCE_TYPES: Final = type_names(
    CampaignAudienceSnapshotted, CampaignAudienceDecided, CampaignAudienceImported, CampaignDeliveriesImported
)
SEGMENT_TYPES: Final = type_names(SegmentCreated, SegmentChanged, SegmentImported)
# The campaign fields a state holds besides the worksheet (the snapshot's progress is the audience's business).
LIFECYCLE_FIELDS: Final = (
    "status",
    "created_by",
    "approved_by",
    "approved_at",
    "launched_at",
    "completed_at",
    "created_at",
    "updated_at",
)
KEY_PREFIX: Final = "campaign:"


def worksheet_values(worksheet: dict[str, Any]) -> dict[str, Any]:
    """A recorded worksheet as the model's values (dates, times, decimals; costs as strings, as the table has them)."""
    parsed = CampaignWorksheet.model_validate(worksheet)
    values = parsed.model_dump()
    values["costs"] = {channel: str(cost) for channel, cost in parsed.costs.items()}
    values["channels"] = list(parsed.channels)
    return values


def _at(data: dict[str, Any], name: str, event: RecordedEvent) -> datetime:
    """A time the event's data names, or the event's own time (events recorded before the field existed)."""
    value = data.get(name)
    if value is None:
        return event.occurred_at
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def campaign_state_apply(state: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any] | None:
    """The campaign after one of its own events: a dict of worksheet values (segments and exclusions as lists of
    ids) and LIFECYCLE_FIELDS. None stays None for lifecycle events of a campaign not known yet (recorded before
    campaigns were event-sourced: its state arrives with campaign.imported)."""
    data = event.data
    if event.type == CampaignCreated.type_name:
        return {
            **worksheet_values(data["worksheet"]),
            "status": Status.DRAFT.value,
            "created_by": data.get("created_by", ""),
            "approved_by": "",
            "approved_at": None,
            "launched_at": None,
            "completed_at": None,
            "created_at": event.occurred_at,
            "updated_at": event.occurred_at,
        }
    if event.type == CampaignImported.type_name:
        imported = CampaignImported.model_validate(data)
        return {
            **worksheet_values(data["worksheet"]),
            **{name: getattr(imported, name) for name in LIFECYCLE_FIELDS},
        }
    if state is None:
        return None
    state = {**state, "updated_at": event.occurred_at}
    if event.type == CampaignChanged.type_name:
        state.update(worksheet_values(data["worksheet"]))
        # Scheduled: only a segment's change reaches a scheduled campaign (its worksheet is no longer editable).
        if state["status"] in (Status.APPROVED, Status.SCHEDULED):
            state.update(status=Status.DRAFT.value, approved_by="", approved_at=None)
    elif event.type == CampaignApproved.type_name:
        state.update(
            status=Status.APPROVED.value, approved_by=data["approved_by"], approved_at=_at(data, "approved_at", event)
        )
    elif event.type == CampaignLaunched.type_name:
        if data.get("is_scheduled"):
            state["status"] = Status.SCHEDULED.value
        else:
            state.update(status=Status.RUNNING.value, launched_at=_at(data, "launched_at", event))
    elif event.type == CampaignCancelled.type_name:
        state["status"] = Status.CANCELLED.value
    elif event.type == CampaignCompleted.type_name:
        state.update(status=Status.COMPLETED.value, completed_at=_at(data, "completed_at", event))
    return state


def campaign_state(campaign: Campaign) -> dict[str, Any]:
    """The row's values in campaign_state_apply's shape."""
    state = {name: getattr(campaign, name) for name in (*WORKSHEET_FIELDS, *LIFECYCLE_FIELDS)}
    state["segments"] = list(campaign.segments.values_list("id", flat=True))
    state["exclusions"] = list(campaign.exclusions.values_list("id", flat=True))
    return state


class Campaigns(Projection):
    name = "campaigns.campaigns"
    mode = INLINE
    # Children before parents: emptied in this order before a rebuild.
    models = (
        Delivery,
        AudienceMember,
        Campaign.segments.through,
        Campaign.exclusions.through,
        Campaign,
        Segment,
    )
    event_types = (*SEGMENT_TYPES, *CAMPAIGN_TYPES, *AUDIENCE_TYPES, MessageQueued)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        queued: list[RecordedEvent] = []
        for event in events:
            if event.type == MessageQueued.type_name:
                queued.append(event)  # a fan-out batch is hundreds of these: one insert for them all
                continue
            if queued:
                _deliveries_from_messages(queued)
                queued = []
            if event.type in SEGMENT_TYPES:
                _segment(event)
            elif event.type in CAMPAIGN_TYPES:
                _campaign(event)
            else:
                _audience(event)
        if queued:
            _deliveries_from_messages(queued)


def _segment(event: RecordedEvent) -> None:
    data = event.data
    segment_id = uuid.UUID(str(data["segment_id"]))
    values = {"name": data["name"], "description": data.get("description", ""), "rules": data["rules"]}
    if event.type == SegmentCreated.type_name:
        Segment.objects.create(
            id=segment_id,
            created_by=data.get("created_by", ""),
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
            **values,
        )
    elif event.type == SegmentChanged.type_name:
        Segment.objects.filter(pk=segment_id).update(updated_at=event.occurred_at, **values)
    elif not Segment.objects.filter(pk=segment_id).exists():  # imported: the migration's rows are there already
        imported = SegmentImported.model_validate(data)
        Segment.objects.create(
            id=segment_id,
            created_by=imported.created_by,
            created_at=imported.created_at,
            updated_at=imported.updated_at,
            **values,
        )


def _campaign(event: RecordedEvent) -> None:
    campaign_id = uuid.UUID(event.data["campaign_id"])
    if event.type == CampaignImported.type_name and Campaign.objects.filter(pk=campaign_id).exists():
        return  # the migration that recorded it found the row: nothing to change (and reads no column of it)
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    before = campaign_state(campaign) if campaign is not None else None
    after = campaign_state_apply(before, event)
    if after is None:
        return
    is_new = campaign is None
    if campaign is None:
        campaign = Campaign(id=campaign_id)
    segments, exclusions = after.pop("segments"), after.pop("exclusions")
    for name, value in after.items():
        setattr(campaign, name, value)
    if event.type == CampaignImported.type_name:  # the snapshot's progress, which the audience's events move otherwise
        cursor = event.data.get("snapshot_cursor")
        campaign.is_snapshot_done = bool(event.data.get("is_snapshot_done"))
        campaign.snapshot_cursor = uuid.UUID(cursor) if cursor else None
    # Only the campaign's own fields: the snapshot's progress belongs to the audience's events.
    campaign.save(force_insert=is_new, update_fields=None if is_new else list(after))
    if before is None or sorted(before["segments"]) != sorted(segments):
        campaign.segments.set(segments)
    if before is None or sorted(before["exclusions"]) != sorted(exclusions):
        campaign.exclusions.set(exclusions)
    if event.type == CampaignCancelled.type_name:
        AudienceMember.objects.filter(campaign_id=campaign_id, outcome=Outcome.PENDING).update(
            outcome=Outcome.CANCELLED, decided_at=_at(event.data, "cancelled_at", event)
        )


def _audience(event: RecordedEvent) -> None:
    data = event.data
    campaign_id = uuid.UUID(data["campaign_id"])
    if event.type == CampaignAudienceSnapshotted.type_name:
        ids = [uuid.UUID(str(cid)) for cid in data["customer_ids"]]
        held = {uuid.UUID(str(cid)) for cid in data.get("holdout_ids", ())}
        _insert_audience(campaign_id, ids, [cid in held for cid in ids])
        progress: dict[str, Any] = {"is_snapshot_done": bool(data.get("is_done"))}
        if ids:
            progress["snapshot_cursor"] = ids[-1]
        Campaign.objects.filter(pk=campaign_id).update(**progress)
    elif event.type == CampaignAudienceDecided.type_name:
        for decision in data["decisions"]:
            _decide(
                campaign_id,
                [uuid.UUID(str(cid)) for cid in decision["customer_ids"]],
                decision["outcome"],
                _parse(decision.get("decided_at")),
                _parse(decision.get("not_before")),
            )
    elif event.type == CampaignAudienceImported.type_name:
        members = {uuid.UUID(str(m["customer_id"])): m for m in data["members"]}
        known = set(
            AudienceMember.objects.filter(campaign_id=campaign_id, customer_id__in=list(members)).values_list(
                "customer_id", flat=True
            )
        )
        AudienceMember.objects.bulk_create(
            [
                AudienceMember(
                    campaign_id=campaign_id,
                    customer_id=cid,
                    is_holdout=m.get("is_holdout", False),
                    outcome=m.get("outcome", ""),
                    not_before=_parse(m.get("not_before")),
                    decided_at=_parse(m.get("decided_at")),
                )
                for cid, m in members.items()
                if cid not in known
            ]
        )
    else:  # campaign.deliveries_imported
        rows = [
            (uuid.UUID(str(d["customer_id"])), d["channel"], uuid.UUID(str(d["message_id"])), _parse(d["queued_at"]))
            for d in data["deliveries"]
        ]
        known = set(
            Delivery.objects.filter(campaign_id=campaign_id, customer_id__in=[r[0] for r in rows]).values_list(
                "customer_id", "channel"
            )
        )
        _insert_deliveries(campaign_id, [r for r in rows if (r[0], r[1]) not in known])


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _insert_audience(campaign_id: uuid.UUID, ids: list[uuid.UUID], holdout: list[bool]) -> None:
    """A chunk of the audience, each person once per campaign (in customer order, so concurrent chunks lock alike)."""
    if not ids:
        return
    AudienceMember.objects.bulk_create(
        [
            AudienceMember(campaign_id=campaign_id, customer_id=cid, is_holdout=flag, outcome=Outcome.PENDING)
            for cid, flag in sorted(zip(ids, holdout, strict=True))
        ],
        ignore_conflicts=True,
    )


def _decide(
    campaign_id: uuid.UUID,
    ids: list[uuid.UUID],
    outcome: str,
    decided_at: datetime | None,
    not_before: datetime | None,
) -> None:
    """One UPDATE per decision (a handful per batch), by the (campaign, customer) unique index."""
    if not ids:
        return
    AudienceMember.objects.filter(campaign_id=campaign_id, customer_id__in=ids).update(
        outcome=outcome, decided_at=decided_at, not_before=not_before
    )


def _deliveries_from_messages(events: list[RecordedEvent]) -> None:
    """The messages a campaign's fan-out queued (its idempotency keys) are its deliveries, once per campaign,
    customer and channel. Messages of a campaign this projection does not hold (recorded before campaigns were
    event-sourced) come with campaign.deliveries_imported instead."""
    by_campaign: dict[str, list[tuple]] = {}
    for event in events:
        data = event.data
        campaign_id = data.get("campaign_id")
        if not campaign_id or not str(data.get("idempotency_key", "")).startswith(KEY_PREFIX):
            continue
        by_campaign.setdefault(campaign_id, []).append(
            (event.customer_id, event.channel, uuid.UUID(data["message_id"]), event.occurred_at)
        )
    if not by_campaign:
        return
    wanted = []
    for key in by_campaign:
        try:
            wanted.append(uuid.UUID(key))
        except ValueError:
            continue
    for campaign_id in Campaign.objects.filter(pk__in=wanted).values_list("pk", flat=True):
        _insert_deliveries(campaign_id, by_campaign[str(campaign_id)])


def _insert_deliveries(campaign_id: uuid.UUID, rows: list[tuple]) -> None:
    """(customer, channel, message, queued_at) rows; a row already there is kept."""
    if not rows:
        return
    Delivery.objects.bulk_create(
        [
            Delivery(
                campaign_id=campaign_id,
                customer_id=customer_id,
                channel=channel,
                message_id=message_id,
                queued_at=queued_at,
            )
            for customer_id, channel, message_id, queued_at in rows
        ],
        ignore_conflicts=True,
    )


# Journeys are a part of campaigns; their projection registers on import.
from .journeys import projections as journey_projections  # noqa: E402, F401
