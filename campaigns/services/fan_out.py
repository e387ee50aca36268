"""The fan-out: snapshot the audience page by page, then decide and queue each person's messages in batches that
any number of workers share.

- Snapshot: the segments' SQL, read in keyset pages by customer id (never the whole audience in memory); each page
  becomes audience rows (holdout assigned by a hash of campaign and customer: the same answer every time) and one
  fan-out task; the cursor is saved with the page, so a snapshot that dies resumes where it stopped.
- Batch: one transaction takes the next pending rows (`select_for_update(skip_locked=True)`: workers never share
  a row), decides each person (holdout, send window in their time zone, reachable consented channels by engagement,
  the contact-pressure budget across every campaign and channel) and queues their messages through messaging's
  `message_send` with the key "campaign:<id>:<customer>:<channel>". Delivery rows carry a unique (campaign,
  customer, channel) constraint. A worker that dies mid-batch rolls the whole batch back; whoever takes the rows
  again queues each message once. Quiet hours are messaging's (the drain defers by them at send time): a person is
  decided only outside the quiet hours of the campaign's channels, so no message decided inside the send window is
  held until after it closes.
"""

import hashlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from backoffice.eventstore import projector, store
from backoffice.eventstore.locks import keys_locked
from backoffice.eventstore.vocabulary import Purpose
from backoffice.messaging.errors import ChannelRuleError
from backoffice.messaging.policy import ChannelRules, channel_rules_all, held_until, zone
from backoffice.messaging.selectors import marketing_messages_since
from backoffice.messaging.services import MessageRequest, messages_send
from customers.selectors import people_members

from .. import selectors, worksheet
from ..events import AUDIENCE_CHUNK, CampaignAudienceDecided, CampaignAudienceSnapshotted
from ..models import AudienceMember, Campaign, Outcome, Status
from ..personalisation import personal_values
from .campaigns import campaign_complete_if_done

logger = logging.getLogger(__name__)


@dataclass
class FanOutResult:
    taken: int = 0
    messages: int = 0
    holdout: int = 0
    pressure: int = 0
    unreachable: int = 0
    invalid_content: int = 0
    later: int = 0
    outcomes: dict[str, Any] = field(default_factory=dict)


def is_holdout(campaign_id: uuid.UUID, customer_id: uuid.UUID, share: Decimal) -> bool:
    """Deterministic: the same campaign and customer always land on the same side."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < float(share)


_SEGMENT_PROJECTIONS = ("customers.commerce", "customers.activity")


def campaign_snapshot(
    *, campaign_id: uuid.UUID, page_size: int | None = None, enqueue: Callable[[uuid.UUID], object] | None = None
) -> int:
    """Freeze the audience, page by page; after each page commits, `enqueue(campaign_id)` asks for its batches."""
    page_size = page_size or settings.CAMPAIGNS_SNAPSHOT_PAGE
    # Segments read the commerce and activity figures, which asynchronous projections keep: the audience counts
    # every order and interaction committed before the snapshot starts, not only those a worker has caught up.
    for name in _SEGMENT_PROJECTIONS:
        projector.catch_up(name)
    batches_per_page = -(-page_size // settings.CAMPAIGNS_BATCH_SIZE)
    total = 0
    while True:
        with transaction.atomic():
            campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
            if campaign.status != Status.RUNNING or campaign.is_snapshot_done:
                break
            query = worksheet.audience_queryset(campaign, now=campaign.launched_at or timezone.now())
            if campaign.snapshot_cursor:
                query = query.filter(id__gt=campaign.snapshot_cursor)
            ids = list(query.order_by("id").values_list("id", flat=True)[:page_size])
            # The page is recorded (the projection inserts the rows and moves the cursor with it), so a snapshot that
            # dies resumes where it stopped and a rebuild gives the same audience.
            _record_audience(campaign, ids, is_done=len(ids) < page_size)
            if ids and enqueue is not None:
                batches = min(batches_per_page, -(-len(ids) // settings.CAMPAIGNS_BATCH_SIZE))
                transaction.on_commit(
                    _after_commit(partial(_enqueue_batches, enqueue, campaign_id, batches)), robust=True
                )
            total += len(ids)
        if len(ids) < page_size:
            break
    campaign_complete_if_done(campaign_id=campaign_id)
    return total


def _record_audience(campaign: Campaign, ids: list[uuid.UUID], *, is_done: bool) -> None:
    """A page of the audience as events of AUDIENCE_CHUNK people each (holdout assigned by a hash of campaign and
    customer), the last one saying whether the snapshot is complete. A page taken again inserts nobody twice."""
    chunks = [ids[start : start + AUDIENCE_CHUNK] for start in range(0, len(ids), AUDIENCE_CHUNK)] or [[]]
    events = []
    for index, chunk in enumerate(chunks):
        held = [cid for cid in chunk if is_holdout(campaign.id, cid, campaign.holdout_share)]
        data = {
            "campaign_id": str(campaign.id),
            "customer_ids": chunk,
            "holdout_ids": held,
            "is_done": is_done and index == len(chunks) - 1,
        }
        events.append(store.NewEvent.of(CampaignAudienceSnapshotted.from_data(data)))
    store.append(audience_stream(campaign.id), events)


def audience_stream(campaign_id: uuid.UUID) -> str:
    return f"campaign-audience-{campaign_id}"


def campaigns_snapshot_unfinished() -> list[uuid.UUID]:
    """Running campaigns whose snapshot has not finished (a worker died in it, or it is still going: running it
    twice is safe, pages are taken under the campaign's row lock from the saved cursor)."""
    return list(Campaign.objects.filter(status=Status.RUNNING, is_snapshot_done=False).values_list("id", flat=True))


def campaigns_due_batches(*, now: datetime | None = None) -> dict[uuid.UUID, int]:
    """Running campaigns with people due now, and how many batches they need (beat re-asks for these: people whose
    send window opened, batches a dead worker dropped)."""
    now = now or timezone.now()
    size = settings.CAMPAIGNS_BATCH_SIZE
    due = (
        AudienceMember.objects.filter(campaign__status=Status.RUNNING, outcome=Outcome.PENDING)
        .exclude(not_before__gt=now)
        .values("campaign_id")
        .annotate(n=Count("id"))
    )
    return {row["campaign_id"]: -(-row["n"] // size) for row in due}


def _after_commit(call: Callable[[], None]) -> Callable[[], None]:
    """`call` with a name Django can log it by when it fails after the commit (a partial has none): the broker down
    then loses nothing, as beat's launch_due asks again for the batches of every campaign with people due."""

    def enqueue_batches_after_commit() -> None:
        call()

    return enqueue_batches_after_commit


def _enqueue_batches(enqueue: Callable[[uuid.UUID], object], campaign_id: uuid.UUID, batches: int) -> None:
    for _ in range(batches):
        enqueue(campaign_id)


def campaign_fan_out_batch(
    *, campaign_id: uuid.UUID, batch_size: int | None = None, now: datetime | None = None
) -> FanOutResult:
    """Decide and queue the next pending people of the campaign (one transaction)."""
    batch_size = batch_size or settings.CAMPAIGNS_BATCH_SIZE
    now = now or timezone.now()
    result = FanOutResult()
    with transaction.atomic():
        # In the order of the due index (campaign, outcome, not_before), so the scan stops at the batch: ordered by
        # id, every batch read and sorted all the pending people and the versions earlier batches left behind.
        rows = list(
            AudienceMember.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, outcome=Outcome.PENDING)
            .exclude(not_before__gt=now)
            .order_by("not_before")[:batch_size]
        )
        result.taken = len(rows)
        if not rows:
            return result
        # The campaign's status read with these rows locked, not before: a cancellation committed by now cancelled
        # every pending person (these rows would not be pending); one still under way waits for these rows to cancel
        # them, and withdraws what this batch queues once it commits (campaign_cancel). Nothing queued here outlives
        # a cancellation.
        campaign = Campaign.objects.get(pk=campaign_id)
        if campaign.status != Status.RUNNING:
            outcome = Outcome.CANCELLED if campaign.status == Status.CANCELLED else None
            if outcome:
                _decide(rows, outcome, now)
            return result
        _fan_out(campaign, rows, now, result)
    if result.taken:
        campaign_complete_if_done(campaign_id=campaign_id)
    return result


def _decide(rows: list[AudienceMember], outcome: str, now: datetime) -> None:
    for row in rows:
        row.outcome, row.decided_at = outcome, now
    _save_decisions(rows[0].campaign_id, rows)


def _save_decisions(campaign_id: uuid.UUID, rows: list[AudienceMember]) -> None:
    """One event per AUDIENCE_CHUNK people, grouped by decision (a handful per batch); the projection applies one
    UPDATE per decision, not a CASE per row: bulk_update's cost grows with rows x fields."""
    if not rows:
        return
    groups: dict[tuple[str, datetime | None, datetime | None], list[uuid.UUID]] = defaultdict(list)
    for row in rows:
        groups[(row.outcome, row.decided_at, row.not_before)].append(row.customer_id)
    events: list[list[dict[str, Any]]] = []
    decisions: list[dict[str, Any]] = []
    size = 0
    for (outcome, decided_at, not_before), ids in groups.items():
        for start in range(0, len(ids), AUDIENCE_CHUNK):
            chunk = ids[start : start + AUDIENCE_CHUNK]
            if size + len(chunk) > AUDIENCE_CHUNK:
                events.append(decisions)
                decisions, size = [], 0
            decisions.append(
                {"outcome": outcome, "decided_at": decided_at, "not_before": not_before, "customer_ids": chunk}
            )
            size += len(chunk)
    events.append(decisions)
    store.append(
        audience_stream(campaign_id),
        [
            store.NewEvent.of(
                CampaignAudienceDecided.from_data({"campaign_id": str(campaign_id), "decisions": decisions})
            )
            for decisions in events
        ],
    )


def _fan_out(campaign: Campaign, rows: list[AudienceMember], now: datetime, result: FanOutResult) -> None:
    changed: list[AudienceMember] = []
    to_contact: list[AudienceMember] = []
    profiles = selectors.time_zones([r.customer_id for r in rows if not r.is_holdout])
    quiet = list(channel_rules_all(campaign.channels).values())
    for row in rows:
        row.decided_at = now
        if row.is_holdout:
            row.outcome = Outcome.HOLDOUT
            result.holdout += 1
        elif (campaign.ends_at and now >= campaign.ends_at) or _offer_expired(campaign, profiles, row, now):
            row.outcome = Outcome.EXPIRED
        else:
            opens_at = _window_opens(campaign, profiles.get(row.customer_id, ""), now, quiet)
            if opens_at is not None:
                if (campaign.ends_at and opens_at >= campaign.ends_at) or _offer_expired(
                    campaign, profiles, row, opens_at
                ):
                    row.outcome = Outcome.EXPIRED
                else:
                    row.not_before, row.decided_at = opens_at, None
                    result.later += 1
            else:
                to_contact.append(row)
                continue
        changed.append(row)
    if to_contact:
        ids = [r.customer_id for r in to_contact]
        _lock_people(ids)
        reachable = selectors.reachable_channels(customer_ids=ids, channels=campaign.channels, at=now)
        used = _marketing_messages_since(ids, now)
        cap = settings.CAMPAIGNS_CONTACT_PRESSURE["messages"]
        plan: dict[uuid.UUID, list[str]] = {}
        for row in to_contact:
            channels = reachable.get(row.customer_id, [])
            remaining = cap - used.get(row.customer_id, 0)
            if not channels:
                row.outcome = Outcome.UNREACHABLE
                result.unreachable += 1
            elif remaining <= 0:
                row.outcome = Outcome.PRESSURE
                result.pressure += 1
            else:
                picked = channels[:1] if campaign.channel_mode == "best" else channels[:remaining]
                plan[row.customer_id] = picked
                row.outcome = Outcome.SENT
            changed.append(row)
        nothing_queued = _queue(campaign, plan, now, result)
        for row in to_contact:
            if row.customer_id in nothing_queued:
                # Every message planned for them broke a channel rule with their values: sent is what they were not.
                row.outcome = Outcome.INVALID_CONTENT
                result.invalid_content += 1
    _save_decisions(campaign.id, changed)


def _queue(campaign: Campaign, plan: dict[uuid.UUID, list[str]], now: datetime, result: FanOutResult) -> set[uuid.UUID]:
    """Queue the planned messages; returns the people none of whose messages could be queued."""
    if not plan:
        return set()
    needs = set()
    for channel in {c for channels in plan.values() for c in channels}:
        needs |= worksheet.placeholders_in(worksheet.variant_text(campaign, channel))
    values = personal_values(list(plan), needs=needs)
    languages = selectors.languages(list(plan)) if "valid_until" in needs else {}
    offers: dict[str, dict[str, str]] = {}
    requests = []
    for customer_id, channels in plan.items():
        language = languages.get(customer_id, "")
        if language not in offers:
            offers[language] = worksheet.offer_values(campaign, language)
        filled = {**values.get(customer_id, {}), **offers[language]}
        for channel in channels:
            requests.append(
                MessageRequest(
                    customer_id=customer_id,
                    channel=channel,
                    purpose=Purpose.MARKETING,
                    content=worksheet.variant_content(campaign, channel, filled),
                    idempotency_key=f"campaign:{campaign.id}:{customer_id}:{channel}",
                    campaign_id=str(campaign.id),
                    variant=channel,
                )
            )
    # One append and one insert for the batch; the same keys again (a batch redone) answer the messages queued.
    while requests:
        try:
            messages_send(messages=requests, actor=f"campaign:{campaign.id}")
            break
        except ChannelRuleError as exc:
            # One customer's values broke a channel rule the worksheet's longest-values check did not foresee:
            # skip that message, not the batch (ids only in the log).
            if exc.index is None:
                raise
            skipped = requests.pop(exc.index)
            logger.warning(
                "campaign %s: message to %s on %s skipped (%s)",
                campaign.id,
                skipped.customer_id,
                skipped.channel,
                exc.code,
            )
    # Their deliveries are the projection's, from the message.queued events just recorded (campaigns.projections).
    result.messages += len(requests)
    queued = {request.customer_id for request in requests}
    return set(plan) - queued


def _offer_expired(campaign: Campaign, profiles: dict[uuid.UUID, str], row: AudienceMember, at: datetime) -> bool:
    """Whether the offer's last day has passed in the person's own time zone at `at`: a message would promise what
    no longer holds (a person east of the shop's zone reaches the next day first)."""
    if campaign.valid_until is None:
        return False
    return at.astimezone(zone(profiles.get(row.customer_id, ""))).date() > campaign.valid_until


# Steps of the search for the next open time (each moves past a closed send window or past quiet hours): two days
# of alternating window and quiet hours take a handful; more means the window lies inside quiet hours.
_OPEN_SEARCH_STEPS = 12


def _window_opens(
    campaign: Campaign, time_zone: str, now: datetime, quiet: Sequence[ChannelRules] = ()
) -> datetime | None:
    """When the person may next be sent the campaign (None: now): from its start, inside its send window in their
    local time, and outside the quiet hours of the campaign's channels. Quiet hours are messaging's (`held_until`,
    the drain's own answer): a message decided inside them would be deferred to their end, which may be after the
    send window has closed (window 20:00-22:00, quiet hours from 21:00: sent at 09:00 the next day)."""
    at = now
    for _ in range(_OPEN_SEARCH_STEPS):
        if campaign.starts_at and at < campaign.starts_at:
            at = campaign.starts_at
        opens = _send_window_opens(campaign, time_zone, at)
        if opens is not None:
            at = opens
            continue
        held = [
            until
            for rules in quiet
            if (until := held_until(at, purpose=Purpose.MARKETING, time_zone=time_zone, rules=rules)) is not None
        ]
        if held:
            at = max(held)
            continue
        return None if at == now else at
    # The send window lies inside quiet hours (set after the approval, which refuses such a window): the window alone,
    # and the drain defers, as before quiet hours were taken into account here.
    logger.warning("campaign %s: its send window lies inside the quiet hours of its channels", campaign.id)
    if campaign.starts_at and now < campaign.starts_at:
        return campaign.starts_at
    return _send_window_opens(campaign, time_zone, now)


def _send_window_opens(campaign: Campaign, time_zone: str, now: datetime) -> datetime | None:
    """When the campaign's send window next opens in the customer's local time; None when it is open now."""
    start, end = campaign.send_window_start, campaign.send_window_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone(time_zone))
    clock = local.time().replace(tzinfo=None)
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if inside:
        return None
    day = local.date() if clock < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=local.tzinfo)


def _lock_people(customer_ids: list[uuid.UUID]) -> None:
    """Serialise budget decisions per person across concurrent batches (locks taken in one order, so two batches never
    deadlock; see eventstore.locks.keys_locked)."""
    keys_locked(customer_ids)


def _marketing_messages_since(customer_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, int]:
    """Marketing messages each person was sent (or is about to be) in the budget's window, from every campaign and
    sender, on every channel, and to every customer merged into them: the budget is the person's, and yesterday's
    newsletter to a profile merged since went to the same person."""
    window = timedelta(days=settings.CAMPAIGNS_CONTACT_PRESSURE["days"])
    person_of = people_members(owner_ids=set(customer_ids))
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for member, sent in marketing_messages_since(customer_ids=list(person_of), since=now - window).items():
        counts[person_of[member]] += sent
    return dict(counts)
