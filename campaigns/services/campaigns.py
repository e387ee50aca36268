"""The campaign lifecycle: save, approve (a second staff member), launch, cancel, complete (segments: .segments).

Every command checks against the projected rows (locked), appends its event, and the inline projection
(campaigns.projections) changes the rows in the same transaction: the services never write a campaign table
themselves. A refused command appends nothing."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backoffice.celery import task_send
from backoffice.eventstore import store, times
from backoffice.eventstore.vocabulary import SuppressionReason
from backoffice.messaging.services import messages_withdraw

from .. import segments as segment_rules
from .. import selectors, worksheet
from ..commands import CommandRefused, append_from_data, check_from_data
from ..events import (
    CampaignApproved,
    CampaignCancelled,
    CampaignChanged,
    CampaignCompleted,
    CampaignCreated,
    CampaignLaunched,
    CampaignWorksheet,
)
from ..models import WORKSHEET_FIELDS, AudienceMember, Campaign, Outcome, Segment, Status
from ..projections import campaign_state

EDITABLE = (Status.DRAFT, Status.APPROVED)
# Why a cancelled campaign's waiting messages are suppressed (messaging's reason code on each).
CANCELLED_REASON = SuppressionReason.CAMPAIGN_CANCELLED

__all__ = ["EDITABLE", "WORKSHEET_FIELDS"]


class CampaignRefused(CommandRefused):
    """A command the campaign's state or content does not allow."""

    noun = "campaign"


def campaign_save(
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    actor: str,
    segment_ids: Iterable[uuid.UUID] | None = None,
    exclusion_ids: Iterable[uuid.UUID] | None = None,
) -> Campaign:
    """Create a draft or change one. Changing an approved campaign sends it back to draft: what was approved is not
    what it became. Saving it unchanged records nothing. Raises CampaignRefused("invalid") naming each bad field
    before anything is written."""
    errors = campaign_values_errors(values)
    if errors:
        raise CampaignRefused.invalid(errors)
    with transaction.atomic():
        current = Campaign.objects.select_for_update().filter(pk=campaign.pk).first() if campaign is not None else None
        save = _worksheet_save(current, campaign, values, segment_ids, exclusion_ids, actor=actor)
        if save is None:
            assert current is not None  # only a change can change nothing
            return current
        append_from_data(
            save.stream,
            save.event_type,
            save.data,
            actor=actor,
            refused=CampaignRefused.invalid,
            expected_version=save.expected_version,
            field=field_named,
        )
        if current is None:
            return Campaign.objects.get(pk=save.campaign_id)
        # The caller's instance shows what the campaign became, as it did when services saved it themselves.
        target = campaign or current
        target.refresh_from_db()
        return target


def campaign_save_check(
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    segment_ids: Iterable[uuid.UUID] | None = None,
    exclusion_ids: Iterable[uuid.UUID] | None = None,
) -> None:
    """Raise CampaignRefused as `campaign_save` would with these arguments now, writing nothing: the event it would
    append is built and checked as the log checks it (its size too), so a form shows the reasons on its fields
    before the save. The save checks again under its lock."""
    errors = campaign_values_errors(values)
    if errors:
        raise CampaignRefused.invalid(errors)
    current = Campaign.objects.filter(pk=campaign.pk).first() if campaign is not None else None
    save = _worksheet_save(current, campaign, values, segment_ids, exclusion_ids, actor="")
    if save is not None:
        check_from_data(save.event_type, save.data, refused=CampaignRefused.invalid, field=field_named)


@dataclass(frozen=True)
class _WorksheetSave:
    campaign_id: str
    stream: str
    event_type: type[CampaignCreated] | type[CampaignChanged]
    data: dict[str, Any]
    expected_version: store.ExpectedVersion


def _worksheet_save(
    current: Campaign | None,
    campaign: Campaign | None,
    values: dict[str, Any],
    segment_ids: Iterable[uuid.UUID] | None,
    exclusion_ids: Iterable[uuid.UUID] | None,
    *,
    actor: str,
) -> _WorksheetSave | None:
    """The event a save of `values` appends (None: nothing changes), or CampaignRefused when the campaign may not
    be changed."""
    if current is not None and current.status not in EDITABLE:
        raise CampaignRefused("not_editable", f"a {current.status} campaign cannot be changed")
    # A new campaign starts from the model's defaults; a change, from what the campaign holds.
    state = campaign_state(current) if current is not None else _defaults()
    sheet = {name: state[name] for name in (*WORKSHEET_FIELDS, "segments", "exclusions")}
    sheet.update({name: value for name, value in values.items() if name in WORKSHEET_FIELDS})
    if segment_ids is not None:
        sheet["segments"] = list(segment_ids)
    if exclusion_ids is not None:
        sheet["exclusions"] = list(exclusion_ids)
    sheet["segments"], sheet["exclusions"] = ids_sorted(sheet["segments"]), ids_sorted(sheet["exclusions"])
    if current is None:
        campaign_id = str(campaign.pk if campaign is not None and campaign.pk else uuid.uuid4())
        data = {"campaign_id": campaign_id, "created_by": actor[:100], "worksheet": sheet}
        return _WorksheetSave(campaign_id, f"campaign-{campaign_id}", CampaignCreated, data, store.NO_STREAM)
    changed = _changed(state, sheet)
    if not changed:
        return None
    data = {"campaign_id": str(current.pk), "changed": changed, "worksheet": sheet}
    return _WorksheetSave(str(current.pk), f"campaign-{current.pk}", CampaignChanged, data, store.ANY)


def _defaults() -> dict[str, Any]:
    blank = Campaign()
    return {**{name: getattr(blank, name) for name in WORKSHEET_FIELDS}, "segments": [], "exclusions": []}


def ids_sorted(values: Iterable[Any]) -> list[str]:
    return sorted({str(getattr(value, "pk", value)) for value in values})


def _changed(before: dict[str, Any], sheet: dict[str, Any]) -> list[str]:
    """The worksheet fields whose value differs, compared as the event schema types them (0.1 is 0.100)."""
    try:
        old_sheet = {name: before[name] for name in WORKSHEET_FIELDS}
        old_sheet.update(segments=ids_sorted(before["segments"]), exclusions=ids_sorted(before["exclusions"]))
        old = CampaignWorksheet.model_validate(old_sheet).model_dump()
        new = CampaignWorksheet.model_validate(sheet).model_dump()
    except ValueError:
        return list(sheet)  # not valid: the append names the fields
    return [name for name in new if new[name] != old[name]]


def field_named(path: str) -> str:
    """`data.worksheet.costs.sms` is the worksheet's `costs.sms`; a refusal of the whole event is the worksheet's."""
    name = path.removeprefix("data.").removeprefix("worksheet.")
    return "worksheet" if name == "data" else name


def campaign_values_errors(values: dict[str, Any]) -> list[dict[str, str]]:
    """What no campaign may hold, whoever sends it (API, admin, import): times without a zone or outside the span
    the product accepts, and negative money. The worksheet's checks of a complete plan come at approval."""
    errors = []
    for name in ("starts_at", "ends_at"):
        moment = values.get(name)
        if moment is None:
            continue
        if timezone.is_naive(moment):
            errors.append({"field": name, "message": "a time zone offset is required", "code": "naive_datetime"})
        elif (reason := times.out_of_range(moment)) is not None:
            errors.append({"field": name, "message": reason, "code": "out_of_range"})
    valid_until = values.get("valid_until")
    if valid_until is not None and not times.earliest().date() <= valid_until < times.LATEST.date():
        message = f"must be between {times.earliest().date()} and {times.LATEST.date()}"
        errors.append({"field": "valid_until", "message": message, "code": "out_of_range"})
    for name in ("budget", "target_value"):
        amount = values.get(name)
        if amount is not None and amount < 0:
            errors.append({"field": name, "message": "cannot be negative", "code": "min_value"})
    for channel, cost in (values.get("costs") or {}).items():
        if Decimal(str(cost)) < 0:
            errors.append({"field": f"costs.{channel}", "message": "cannot be negative", "code": "min_value"})
    return errors


def worksheet_snapshot(campaign: Campaign) -> dict[str, Any]:
    data = {}
    for name in WORKSHEET_FIELDS:
        value = getattr(campaign, name)
        data[name] = value if isinstance(value, (str, int, list, dict, type(None))) else str(value)
    data["segments"] = sorted(str(s) for s in campaign.segments.values_list("id", flat=True))
    data["exclusions"] = sorted(str(s) for s in campaign.exclusions.values_list("id", flat=True))
    return data


def campaign_approve(*, campaign_id: uuid.UUID, actor: str, now: datetime | None = None) -> Campaign:
    """Approve a draft that passes every check, as a staff member who is not its author."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != Status.DRAFT:
            raise CampaignRefused("not_draft", f"a {campaign.status} campaign cannot be approved")
        if actor == campaign.created_by or actor in _writers_since_approval(campaign):
            raise CampaignRefused(
                "same_author",
                "a campaign is approved by a second staff member, not by its author or whoever changed it",
                [
                    {
                        "field": "approved_by",
                        "message": "must differ from the author and from whoever changed the campaign since it was "
                        "last approved",
                        "code": "same_author",
                    }
                ],
            )
        problems = worksheet.campaign_problems(campaign, now=now)
        if problems:
            raise CampaignRefused("inconsistent", "the campaign is not ready", [p.as_error() for p in problems])
        data = {
            "campaign_id": str(campaign.id),
            "approved_by": actor[:100],
            "author": campaign.created_by,
            "worksheet": worksheet_snapshot(campaign),
            "approved_at": now,
            "segment_digests": segment_digests(campaign),
        }
        event = store.NewEvent.of(CampaignApproved.from_data(data), occurred_at=now, metadata={"actor": actor})
        store.append(campaign.stream, [event])
        campaign.refresh_from_db()
    return campaign


def segment_digests(campaign: Campaign) -> dict[str, str]:
    """{segment id: digest of its rules} of the campaign's segments and exclusions as they are now."""
    used = Segment.objects.filter(Q(campaigns=campaign) | Q(excluded_by=campaign)).distinct()
    return {str(pk): segment_rules.rules_digest(rules) for pk, rules in used.values_list("pk", "rules")}


def _segments_changed_since_approval(campaign: Campaign) -> list[dict[str, str]]:
    """The segments whose definition differs from the one the campaign's approval recorded, as errors naming them.
    An approval recorded before digests were kept compares the segments' last change with the approval's time."""
    approval = None
    for event in store.read_stream(campaign.stream):
        if event.type == CampaignApproved.type_name:
            approval = event
    if approval is None:
        return []
    recorded = CampaignApproved.model_validate(approval.data).segment_digests
    used = Segment.objects.filter(Q(campaigns=campaign) | Q(excluded_by=campaign)).distinct().order_by("name")
    approved_at = campaign.approved_at or approval.occurred_at
    changed = [
        segment
        for segment in used
        if (
            recorded.get(str(segment.pk)) != segment_rules.rules_digest(segment.rules)
            if recorded
            else segment.updated_at > approved_at
        )
    ]
    return [
        {
            "field": "segments",
            "message": f'segment "{segment.name}" changed after the approval: approve the campaign again',
            "code": "segment_changed",
        }
        for segment in changed
    ]


def _writers_since_approval(campaign: Campaign) -> set[str]:
    """Who wrote what an approval now would approve: whoever created or changed the campaign since it was last
    approved (from its stream: the read model keeps only the author). A second pair of eyes is not one of them."""
    writers: set[str] = set()
    for event in store.read_stream(campaign.stream):
        if event.type == CampaignApproved.type_name:
            writers.clear()
        elif event.type in (CampaignCreated.type_name, CampaignChanged.type_name):
            writers.add(str(event.metadata.get("actor", "")))
    return writers


def campaign_launch(*, campaign_id: uuid.UUID, actor: str, now: datetime | None = None) -> Campaign:
    """Launch an approved campaign: running at once, or scheduled when it starts later (beat launches it then).
    Launching a scheduled, running or completed campaign again changes nothing and sends nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status in (Status.RUNNING, Status.COMPLETED, Status.SCHEDULED):
            return campaign
        if campaign.status != Status.APPROVED:
            raise CampaignRefused("not_approved", f"a {campaign.status} campaign cannot be launched; approve it first")
        changed = _segments_changed_since_approval(campaign)
        if changed:
            raise CampaignRefused("segments_changed", "a segment changed after the approval", changed)
        problems = worksheet.campaign_problems(campaign, now=now)
        if problems:
            raise CampaignRefused("inconsistent", "the campaign is not ready", [p.as_error() for p in problems])
        is_scheduled = bool(campaign.starts_at and campaign.starts_at > now)
        _start(campaign, now, actor, is_scheduled=is_scheduled)
    return campaign


def _start(campaign: Campaign, now: datetime, actor: str, *, is_scheduled: bool) -> None:
    data = {
        "campaign_id": str(campaign.id),
        "channels": list(campaign.channels),
        "channel_mode": campaign.channel_mode,
        "holdout_share": str(campaign.holdout_share),
        "is_scheduled": is_scheduled,
        "launched_at": None if is_scheduled else now,
    }
    event_id = uuid.uuid5(campaign.id, "launched" if not is_scheduled else "scheduled")
    event = store.NewEvent.of(CampaignLaunched.from_data(data), id=event_id, occurred_at=now, metadata={"actor": actor})
    store.append(campaign.stream, [event])
    campaign.refresh_from_db()
    if not is_scheduled:
        campaign_id = str(campaign.id)

        def snapshot() -> None:
            # By the task's name: tasks import services, never the other way (an import-linter contract).
            task_send("campaigns.snapshot", campaign_id)

        # Robust: with the broker down at commit, the launch has happened all the same (beat's launch_due asks for
        # the unfinished snapshot again every minute); the error is logged, not a 500 for a committed launch.
        transaction.on_commit(snapshot, robust=True)


def campaigns_launch_due(*, now: datetime | None = None) -> list[uuid.UUID]:
    """Scheduled campaigns whose start has come start running (beat, every minute)."""
    now = now or timezone.now()
    started = []
    due = Campaign.objects.filter(status=Status.SCHEDULED, starts_at__lte=now).values_list("id", flat=True)
    for campaign_id in list(due):
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
            if campaign.status == Status.SCHEDULED:
                _start(campaign, now, "beat", is_scheduled=False)
                started.append(campaign.id)
    return started


def campaign_cancel(*, campaign_id: uuid.UUID, actor: str, reason: str = "") -> Campaign:
    """Stop a campaign: nobody still pending gets a message, and its messages no provider has been handed yet
    (queued, deferred by quiet hours, held for review) are withdrawn in the same transaction (messaging suppresses
    them as "campaign_cancelled"), so the drain never sends them. A completed campaign (everyone decided) can be
    cancelled while such messages wait; a message already in a provider's hands is not stopped."""
    now = timezone.now()
    with transaction.atomic():
        # FOR NO KEY UPDATE: excludes every other command on the campaign (they lock FOR UPDATE) but not the key
        # share a fan-out batch's new delivery rows take on it at commit. A batch holding audience rows this
        # cancellation waits for (to cancel them) then commits, rather than both waiting for each other; its
        # messages, committed by then, are withdrawn below (PostgreSQL: each statement sees what committed before it).
        campaign = Campaign.objects.select_for_update(no_key=True).get(pk=campaign_id)
        if campaign.status == Status.CANCELLED or (
            campaign.status == Status.COMPLETED and not selectors.campaign_has_waiting_messages(campaign_id=campaign.id)
        ):
            raise CampaignRefused("finished", f"a {campaign.status} campaign cannot be cancelled")
        # The projection cancels everyone still pending with it.
        data = {"campaign_id": str(campaign.id), "reason": reason[:500], "cancelled_at": now}
        event = store.NewEvent.of(CampaignCancelled.from_data(data), occurred_at=now, metadata={"actor": actor})
        store.append(campaign.stream, [event])
        messages_withdraw(campaign_id=str(campaign.id), reason=CANCELLED_REASON, actor=actor)
        campaign.refresh_from_db()
    return campaign


def campaign_complete_if_done(*, campaign_id: uuid.UUID) -> bool:
    """A running campaign whose audience is fully snapshotted and decided is completed (once)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status != Status.RUNNING or not campaign.is_snapshot_done:
            return False
        audience = AudienceMember.objects.filter(campaign=campaign)
        if audience.filter(outcome=Outcome.PENDING).exists():
            return False
        data = {
            "campaign_id": str(campaign.id),
            "audience": audience.count(),
            "holdout": audience.filter(is_holdout=True).count(),
            "messages": campaign.deliveries.count(),
        }
        # Completed once: the id is the campaign's, and the content carries no clock (the event's time is the
        # completion's), so a completion found again is the stored one.
        event_id = uuid.uuid5(campaign.id, "completed")
        store.append(campaign.stream, [store.NewEvent.of(CampaignCompleted.from_data(data), id=event_id)])
    return True
