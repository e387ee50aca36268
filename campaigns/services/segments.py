"""Segments: create and change them. A change of a segment's rules is a change of the audience of the campaigns using
it, so the campaigns not yet launched go back to draft with it (campaigns.services.campaigns approves and launches)."""

import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q

from backoffice.eventstore import store

from .. import segments as segment_rules
from ..commands import append_from_data
from ..events import CampaignChanged, SegmentChanged, SegmentCreated
from ..models import WORKSHEET_FIELDS, Campaign, Segment, Status
from ..projections import campaign_state
from .campaigns import CampaignRefused, field_named, ids_sorted

SEGMENT_FIELDS = ("name", "description", "rules")


def segment_save(
    *, name: str, rules: Any, actor: str, description: str = "", segment: Segment | None = None
) -> Segment:
    """Create or change a segment; rules are validated (SegmentRuleError names every bad path) before any write.
    Saving it unchanged records nothing.

    A change of its rules changes the audience of every campaign that uses it (as a target or an exclusion): an
    approved or scheduled campaign goes back to draft in the same transaction, with the reason on its log, so nobody
    launches an audience nobody approved. Refused (SegmentRuleError, code `in_use`) while a running campaign that
    uses it is still taking its audience snapshot: the rest of that audience would follow the new rules."""
    cleaned = segment_rules.validate_rules(rules)
    values = {"name": name, "description": description, "rules": cleaned}
    with transaction.atomic():
        current = Segment.objects.select_for_update().filter(pk=segment.pk).first() if segment is not None else None
        if current is None:
            segment_id = segment.pk if segment is not None and segment.pk else uuid.uuid4()
            data = {"segment_id": str(segment_id), "created_by": actor[:100], **values}
            append_from_data(
                f"segment-{segment_id}",
                SegmentCreated,
                data,
                actor=actor,
                refused=segment_rules.SegmentRuleError,
                expected_version=store.NO_STREAM,
            )
            return Segment.objects.get(pk=segment_id)
        changed = [field for field in SEGMENT_FIELDS if getattr(current, field) != values[field]]
        if not changed:
            return current
        using = _campaigns_using_locked(current) if "rules" in changed else []
        data = {"segment_id": str(current.pk), "changed": changed, **values}
        append_from_data(
            f"segment-{current.pk}", SegmentChanged, data, actor=actor, refused=segment_rules.SegmentRuleError
        )
        for campaign in using:
            _audience_changed(campaign, current, name=name, actor=actor)
        target = segment or current
        target.refresh_from_db()
        return target


def _campaigns_using_locked(segment: Segment) -> list[Campaign]:
    """The campaigns not yet launched whose audience this segment defines (approved or scheduled: a draft is approved
    with its segments as they are then), locked in id order; SegmentRuleError while a running one is still taking
    its audience snapshot. Locked, so a launch under way either commits first (and is seen running here) or waits."""
    uses = Q(segments=segment) | Q(exclusions=segment)
    ids = Campaign.objects.filter(uses).values_list("pk", flat=True).distinct()
    campaigns = list(
        Campaign.objects.select_for_update()
        .filter(pk__in=list(ids), status__in=(Status.APPROVED, Status.SCHEDULED, Status.RUNNING))
        .order_by("pk")
    )
    snapshotting = [c for c in campaigns if c.status == Status.RUNNING and not c.is_snapshot_done]
    if snapshotting:
        names = ", ".join(c.name for c in snapshotting)
        message = f"campaign {names} is taking its audience from this segment now; change its rules when it is done"
        raise segment_rules.SegmentRuleError([{"field": "rules", "message": message, "code": "in_use"}])
    return [c for c in campaigns if c.status in (Status.APPROVED, Status.SCHEDULED)]


def _audience_changed(campaign: Campaign, segment: Segment, *, name: str, actor: str) -> None:
    """Back to draft, through the event an edit of the campaign appends (its worksheet unchanged, what changed named
    as the segments or exclusions it uses, and why)."""
    state = campaign_state(campaign)
    sheet = {field: state[field] for field in WORKSHEET_FIELDS}
    sheet["segments"], sheet["exclusions"] = ids_sorted(state["segments"]), ids_sorted(state["exclusions"])
    changed = [role for role in ("segments", "exclusions") if str(segment.pk) in sheet[role]]
    reason = f'segment "{name}" changed after the approval: the audience is not the one approved'
    data = {"campaign_id": str(campaign.pk), "changed": changed, "worksheet": sheet, "reason": reason[:500]}
    append_from_data(
        campaign.stream, CampaignChanged, data, actor=actor, refused=CampaignRefused.invalid, field=field_named
    )
    campaign.refresh_from_db()
