"""Segments and the campaign lifecycle: save, approve (a second staff member), launch, cancel, complete."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from backoffice.eventstore import store, times

from .. import segments as segment_rules
from .. import worksheet
from ..models import AudienceMember, Campaign, Outcome, Segment, Status

EDITABLE = (Status.DRAFT, Status.APPROVED)
WORKSHEET_FIELDS = (
    "name",
    "key_message",
    "intent",
    "offer_code",
    "discount",
    "valid_until",
    "holdout_share",
    "channels",
    "channel_mode",
    "starts_at",
    "ends_at",
    "send_window_start",
    "send_window_end",
    "email_subject",
    "email_body",
    "sms_text",
    "whatsapp_template",
    "whatsapp_parameters",
    "push_title",
    "push_body",
    "facebook_text",
    "instagram_text",
    "objective",
    "kpi",
    "target_value",
    "attribution_days",
    "costs",
    "budget",
)


class CampaignRefused(Exception):
    """A command the campaign's state or content does not allow; `errors` name the fields ([{field, message,
    code}]), `code` says why as a whole."""

    def __init__(self, code: str, message: str, errors: list[dict[str, str]] | None = None):
        self.code, self.message, self.errors = code, message, errors or []
        super().__init__(message)


def segment_save(
    *, name: str, rules: Any, actor: str, description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or change a segment; rules are validated (SegmentRuleError names every bad path) before any write."""
    cleaned = segment_rules.validate_rules(rules)
    now = timezone.now()
    with transaction.atomic():
        if segment is None:
            segment = Segment(created_by=actor[:100], created_at=now)
        segment.name, segment.description, segment.rules, segment.updated_at = name, description, cleaned, now
        segment.save()
    return segment


def campaign_save(
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    actor: str,
    segment_ids: Iterable[uuid.UUID] | None = None,
    exclusion_ids: Iterable[uuid.UUID] | None = None,
) -> Campaign:
    """Create a draft or change one. Changing an approved campaign sends it back to draft: what was approved is not
    what it became. Raises CampaignRefused("invalid") naming each bad field before anything is written."""
    errors = campaign_values_errors(values)
    if errors:
        raise CampaignRefused("invalid", "the campaign is invalid", errors)
    now = timezone.now()
    with transaction.atomic():
        if campaign is None:
            campaign = Campaign(created_by=actor[:100], created_at=now)
        elif campaign.pk:
            current = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if current.status not in EDITABLE:
                raise CampaignRefused("not_editable", f"a {current.status} campaign cannot be changed")
        for name, value in values.items():
            if name in WORKSHEET_FIELDS:
                setattr(campaign, name, value)
        if campaign.status == Status.APPROVED:
            campaign.status, campaign.approved_by, campaign.approved_at = Status.DRAFT, "", None
        campaign.updated_at = now
        campaign.save()
        if segment_ids is not None:
            campaign.segments.set(list(segment_ids))
        if exclusion_ids is not None:
            campaign.exclusions.set(list(exclusion_ids))
    return campaign


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


def worksheet_snapshot(campaign: Campaign) -> dict:
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
        if actor == campaign.created_by:
            raise CampaignRefused(
                "same_author",
                "a campaign is approved by a second staff member, not by its author",
                [{"field": "approved_by", "message": "must differ from the author", "code": "same_author"}],
            )
        problems = worksheet.campaign_problems(campaign, now=now)
        if problems:
            raise CampaignRefused("inconsistent", "the campaign is not ready", [p.as_error() for p in problems])
        campaign.status, campaign.approved_by, campaign.approved_at = Status.APPROVED, actor[:100], now
        campaign.updated_at = now
        campaign.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
        data = {
            "campaign_id": str(campaign.id),
            "approved_by": actor[:100],
            "author": campaign.created_by,
            "worksheet": worksheet_snapshot(campaign),
        }
        store.append(campaign.stream, [store.NewEvent("campaign.approved", data, metadata={"actor": actor})])
    return campaign


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
        problems = worksheet.campaign_problems(campaign, now=now)
        if problems:
            raise CampaignRefused("inconsistent", "the campaign is not ready", [p.as_error() for p in problems])
        is_scheduled = bool(campaign.starts_at and campaign.starts_at > now)
        _start(campaign, now, actor, is_scheduled=is_scheduled)
    return campaign


def _start(campaign: Campaign, now: datetime, actor: str, *, is_scheduled: bool) -> None:
    campaign.status = Status.SCHEDULED if is_scheduled else Status.RUNNING
    if not is_scheduled:
        campaign.launched_at = now
    campaign.updated_at = now
    campaign.save(update_fields=["status", "launched_at", "updated_at"])
    data = {
        "campaign_id": str(campaign.id),
        "channels": list(campaign.channels),
        "channel_mode": campaign.channel_mode,
        "holdout_share": str(campaign.holdout_share),
        "is_scheduled": is_scheduled,
    }
    event_id = uuid.uuid5(campaign.id, "launched" if not is_scheduled else "scheduled")
    store.append(campaign.stream, [store.NewEvent("campaign.launched", data, id=event_id, metadata={"actor": actor})])
    if not is_scheduled:
        campaign_id = str(campaign.id)

        def snapshot() -> None:
            from ..tasks import campaign_snapshot_task  # tasks import services; the hand-off goes the other way lazily

            campaign_snapshot_task.delay(campaign_id)

        transaction.on_commit(snapshot)


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
    """Stop a campaign: nobody still pending gets a message (messages already queued are the pipeline's)."""
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
        if campaign.status in (Status.COMPLETED, Status.CANCELLED):
            raise CampaignRefused("finished", f"a {campaign.status} campaign cannot be cancelled")
        campaign.status, campaign.updated_at = Status.CANCELLED, now
        campaign.save(update_fields=["status", "updated_at"])
        AudienceMember.objects.filter(campaign=campaign, outcome=Outcome.PENDING).update(
            outcome=Outcome.CANCELLED, decided_at=now
        )
        data = {"campaign_id": str(campaign.id), "reason": reason[:500]}
        store.append(campaign.stream, [store.NewEvent("campaign.cancelled", data, metadata={"actor": actor})])
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
        now = timezone.now()
        campaign.status, campaign.completed_at, campaign.updated_at = Status.COMPLETED, now, now
        campaign.save(update_fields=["status", "completed_at", "updated_at"])
        data = {
            "campaign_id": str(campaign.id),
            "audience": audience.count(),
            "holdout": audience.filter(is_holdout=True).count(),
            "messages": campaign.deliveries.count(),
        }
        event_id = uuid.uuid5(campaign.id, "completed")
        store.append(campaign.stream, [store.NewEvent("campaign.completed", data, id=event_id)])
    return True
