"""The campaign lifecycle's commands (campaigns.services.campaigns): what an approval covers when a segment the
campaign uses changes afterwards, and what a cancellation stops."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services.pipeline import messages_drain, messages_release_deferred
from backoffice.messaging.vocabulary import Status as MessageStatus
from campaigns import selectors, services
from campaigns.events import CampaignApproved
from campaigns.models import AudienceMember, Campaign, Outcome, Segment, Status
from campaigns.segments import SegmentRuleError
from campaigns.services.campaigns import worksheet_snapshot
from tests.openapi import documented_properties

from .conftest import segment
from .test_admin import marketing_client  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

EMAIL = {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}
EMAIL_OR_SMS = {"op": "or", "rules": [{"field": "consent", "cmp": "eq", "value": c} for c in ("email", "sms")]}


def _widen(seg: Segment, *, actor: str = "user:1") -> None:
    services.segment_save(name=seg.name, rules=EMAIL_OR_SMS, actor=actor, segment=seg)


def test_a_segment_changed_after_approval_does_not_launch_an_audience_nobody_approved(
    person, make_campaign, django_capture_on_commit_callbacks
):
    """Four eyes: user:2 approves a campaign for the people with email consent (one person). The author then widens
    the segment to everybody on its own page: the campaign goes back to draft, and its launch is refused."""
    person(consents=("email",))
    for _ in range(3):
        person(consents=("sms",))
    seg = segment(EMAIL, actor="user:1")
    campaign = make_campaign(segments=[seg], author="user:1", holdout_share="0")
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    _widen(seg)

    with pytest.raises(services.CampaignRefused) as caught, django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign_id=campaign.id, actor="user:1")
    assert caught.value.code == "not_approved"
    assert Campaign.objects.get(pk=campaign.pk).status == Status.DRAFT
    assert not AudienceMember.objects.filter(campaign=campaign).exists()
    assert not OutboundMessage.objects.filter(campaign_id=str(campaign.id)).exists()


def test_a_segments_new_rules_send_every_approved_or_scheduled_campaign_using_it_back_to_draft_with_the_reason(
    person, make_campaign
):
    person(consents=("email", "sms"))
    person(consents=("sms",))
    seg, other = segment(EMAIL), segment({"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "sms"}]})
    targeting = make_campaign(name="Destino", segments=[seg])
    excluding = make_campaign(name="Excluye", segments=[other])
    services.campaign_save(campaign=excluding, values={}, exclusion_ids=[seg.id], actor="user:1")
    scheduled = make_campaign(name="Programada", segments=[seg], starts_at=timezone.now() + timedelta(hours=2))
    unrelated = make_campaign(name="Otra", segments=[other])
    draft = make_campaign(name="Borrador", segments=[seg])
    for campaign in (targeting, excluding, scheduled, unrelated):
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=scheduled.id, actor="user:2")
    assert Campaign.objects.get(pk=scheduled.pk).status == Status.SCHEDULED

    _widen(seg, actor="user:3")

    statuses = dict(Campaign.objects.values_list("name", "status"))
    assert statuses == {
        "Destino": Status.DRAFT,
        "Excluye": Status.DRAFT,
        "Programada": Status.DRAFT,
        "Otra": Status.APPROVED,
        "Borrador": Status.DRAFT,
    }
    changes = {
        e.stream: e
        for e in Event.objects.filter(type="campaign.changed").order_by("position")
        if seg.name in e.data.get("reason", "")
    }
    assert set(changes) == {f"campaign-{c.pk}" for c in (targeting, excluding, scheduled)}
    assert changes[f"campaign-{targeting.pk}"].data["changed"] == ["segments"]
    assert changes[f"campaign-{excluding.pk}"].data["changed"] == ["exclusions"]
    assert changes[f"campaign-{targeting.pk}"].metadata["actor"] == "user:3"
    # Whoever changed the audience is one of the writers now: they cannot approve it themselves.
    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=targeting.id, actor="user:3")
    assert caught.value.code == "same_author"
    assert services.campaign_approve(campaign_id=targeting.id, actor="user:2").status == Status.APPROVED
    assert Campaign.objects.get(pk=draft.pk).approved_by == ""


def test_renaming_a_segment_keeps_the_approval_of_the_campaigns_using_it(person, make_campaign):
    person()
    seg = segment(EMAIL)
    campaign = make_campaign(segments=[seg])
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    services.segment_save(
        name="Con email (clientes)", description="otro texto", rules=EMAIL, actor="user:1", segment=seg
    )

    assert Campaign.objects.get(pk=campaign.pk).status == Status.APPROVED
    assert services.campaign_launch(campaign_id=campaign.id, actor="user:2").status == Status.RUNNING


def test_the_history_says_a_segment_changed_the_campaign_and_a_rebuild_gives_it_back(
    person,
    make_campaign,
    marketing_client,  # noqa: F811
):
    person()
    seg = segment(EMAIL)
    campaign = make_campaign(segments=[seg])
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    _widen(seg)

    last = selectors.campaign_history(campaign_id=campaign.id)[-1]
    page = marketing_client().get(reverse("admin:campaigns_campaign_history", args=[campaign.pk])).content.decode()
    before = list(Campaign.objects.values_list("id", "status", "approved_by", "approved_at"))
    call_command("rebuild_projections", "campaigns.campaigns")

    assert (last.type, last.status) == ("campaign.changed", Status.DRAFT)
    assert seg.name in last.reason
    assert "approved_by" in [c.field for c in last.changes]
    assert 'class="history-reason"' in page
    assert seg.name in page
    assert list(Campaign.objects.values_list("id", "status", "approved_by", "approved_at")) == before


def test_a_launch_refuses_when_a_segment_is_not_the_one_approved(person, make_campaign):
    """However the segment's definition came to differ from the approved one (here: its row changed under the
    service, as a restored backup or a hand fix would), the launch compares the approval's record with it now."""
    person()
    seg = segment(EMAIL)
    campaign = make_campaign(segments=[seg])
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    Segment.objects.filter(pk=seg.pk).update(rules=EMAIL_OR_SMS)
    events = Event.objects.count()

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_launch(campaign_id=campaign.id, actor="user:2")

    assert caught.value.code == "segments_changed"
    assert [(e["field"], e["code"]) for e in caught.value.errors] == [("segments", "segment_changed")]
    assert seg.name in caught.value.errors[0]["message"]
    assert Campaign.objects.get(pk=campaign.pk).status == Status.APPROVED
    assert Event.objects.count() == events


def test_an_approval_recorded_before_segment_digests_still_reads_and_guards_the_launch(person, make_campaign):
    """Old campaign.approved events have no segment_digests: they validate (the field defaults to none), and the
    launch then compares the segments' last change with the approval's time."""
    person()
    seg, later = segment(EMAIL), segment(EMAIL)
    kept = make_campaign(segments=[seg])
    changed = make_campaign(segments=[later])
    for campaign in (kept, changed):
        data = {
            "campaign_id": str(campaign.id),
            "approved_by": "user:2",
            "author": campaign.created_by,
            "worksheet": worksheet_snapshot(campaign),
        }
        assert CampaignApproved.from_data(data).segment_digests == {}
        store.append(campaign.stream, [store.NewEvent.of(CampaignApproved.from_data(data))])
    Segment.objects.filter(pk=later.pk).update(rules=EMAIL_OR_SMS, updated_at=timezone.now() + timedelta(seconds=1))

    assert services.campaign_launch(campaign_id=kept.id, actor="user:2").status == Status.RUNNING
    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_launch(campaign_id=changed.id, actor="user:2")
    assert caught.value.code == "segments_changed"


def test_a_segments_rules_cannot_change_while_a_campaign_takes_its_audience_from_it(person, make_campaign):
    """A launched campaign reads its segments page by page while it snapshots the audience: new rules halfway would
    make the rest of the audience one nobody approved. Refused until the snapshot is done; nothing is written."""
    person()
    seg = segment(EMAIL)
    campaign = make_campaign(segments=[seg])
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")  # the snapshot task: not run yet
    events = Event.objects.count()

    with pytest.raises(SegmentRuleError) as caught:
        _widen(seg)

    assert [e["code"] for e in caught.value.errors] == ["in_use"]
    assert Segment.objects.get(pk=seg.pk).rules == EMAIL
    assert Event.objects.count() == events
    services.campaign_snapshot(campaign_id=campaign.id)
    _widen(seg)  # the audience is frozen now: the segment is free to change
    assert Segment.objects.get(pk=seg.pk).rules == EMAIL_OR_SMS


def test_the_segment_page_shows_that_refusal_on_the_form(person, make_campaign, marketing_client):  # noqa: F811
    person()
    seg = segment(EMAIL)
    campaign = make_campaign(segments=[seg])
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")
    events = Event.objects.count()

    response = marketing_client().post(
        reverse("admin:campaigns_segment_change", args=[seg.pk]),
        {"name": seg.name, "description": "", "rules": json.dumps(EMAIL_OR_SMS)},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Segment.objects.get(pk=seg.pk).rules == EMAIL
    assert Event.objects.count() == events


# --- Cancelling -----------------------------------------------------------------------------------------------------


def _messages(campaign) -> dict:
    return dict(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("channel", "status"))


@pytest.fixture
def email_paused():
    """Operations paused the email channel: its messages wait in the outbox, as they do for a drain that has not
    come round yet. `resume()` lets them go."""
    from backoffice.messaging.models import ChannelSetting

    ChannelSetting.objects.update_or_create(channel="email", defaults={"is_paused": True})
    return lambda: ChannelSetting.objects.filter(channel="email").update(is_paused=False)


def test_cancelling_a_completed_campaign_stops_its_messages_still_waiting_for_quiet_hours(
    person, launched, outbox, settings, email_paused
):
    """Everyone is decided ("sent" = queued), so the campaign is completed though nothing has left: quiet hours began
    before the drain came round, which deferred the message to the morning. The manager sees the mistake and cancels:
    that was refused ("a completed campaign cannot be cancelled"), and in the morning the drain sent it."""
    person(time_zone="UTC")
    campaign = launched(holdout_share="0")
    assert campaign.status == Status.COMPLETED
    now = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    settings.MESSAGING_QUIET_HOURS = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    email_paused()  # resumed: the drain comes round in quiet hours
    messages_drain()
    assert _messages(campaign) == {"email": MessageStatus.DEFERRED}

    cancelled = services.campaign_cancel(campaign_id=campaign.id, actor="user:2", reason="wrong discount")

    assert cancelled.status == Status.CANCELLED
    message = OutboundMessage.objects.get(campaign_id=str(campaign.id))
    assert (message.status, message.reason) == (MessageStatus.SUPPRESSED, "campaign_cancelled")
    suppressed = Event.objects.get(stream=f"message-{message.id}", type="message.suppressed")
    assert suppressed.data["reason"] == "campaign_cancelled"
    assert suppressed.data["campaign_id"] == str(campaign.id)
    assert suppressed.metadata["actor"] == "user:2"
    # The morning comes: quiet hours are over, and nothing of the cancelled campaign leaves.
    settings.MESSAGING_QUIET_HOURS = "off"
    messages_release_deferred()
    messages_drain()
    assert _messages(campaign) == {"email": MessageStatus.SUPPRESSED}
    assert not outbox


def test_cancelling_during_the_fan_out_withdraws_the_messages_already_queued(person, launched, outbox, email_paused):
    """A running campaign: the batches queued messages the drain has not taken yet, and people are still pending
    (their send window opens later). A cancellation stops both, in one transaction."""
    person(time_zone="UTC")
    person(time_zone="Pacific/Kiritimati")
    local = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    campaign = launched(
        holdout_share="0",
        send_window_start=(local - timedelta(hours=1)).time().replace(second=0, microsecond=0),
        send_window_end=(local + timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    assert campaign.status == Status.RUNNING
    assert _messages(campaign) == {"email": MessageStatus.QUEUED}

    services.campaign_cancel(campaign_id=campaign.id, actor="user:2")
    email_paused()
    messages_drain()

    assert _messages(campaign) == {"email": MessageStatus.SUPPRESSED}
    assert set(AudienceMember.objects.filter(campaign=campaign).values_list("outcome", flat=True)) == {
        Outcome.SENT,
        Outcome.CANCELLED,
    }
    assert not outbox


def test_messages_held_for_review_are_withdrawn_and_one_being_sent_is_left_to_the_drain(person, launched, email_paused):
    for _ in range(3):
        person()
    campaign = launched(holdout_share="0")
    first, second, third = OutboundMessage.objects.filter(campaign_id=str(campaign.id)).order_by("id")
    OutboundMessage.objects.filter(pk=first.pk).update(status=MessageStatus.REVIEW, reason="outcome_unknown")
    OutboundMessage.objects.filter(pk=second.pk).update(status=MessageStatus.SENDING, sending_since=timezone.now())

    services.campaign_cancel(campaign_id=campaign.id, actor="user:2")

    statuses = dict(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("id", "status"))
    assert statuses == {
        first.pk: MessageStatus.SUPPRESSED,
        second.pk: MessageStatus.SENDING,
        third.pk: MessageStatus.SUPPRESSED,
    }


def test_a_completed_campaign_whose_messages_have_all_left_cannot_be_cancelled(person, launched, outbox):
    person()
    campaign = launched(holdout_share="0")
    messages_drain()
    events = Event.objects.count()

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_cancel(campaign_id=campaign.id, actor="user:2")

    assert caught.value.code == "finished"
    assert Campaign.objects.get(pk=campaign.pk).status == Status.COMPLETED
    assert Event.objects.count() == events
    assert len(outbox) == 1


def test_the_campaign_page_offers_cancel_while_messages_of_a_completed_campaign_wait(
    person,
    launched,
    marketing_client,  # noqa: F811
    email_paused,
):
    person()
    campaign = launched(holdout_share="0")
    browser = marketing_client()
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    cancel = reverse("admin:campaigns_campaign_command", args=[campaign.pk, "cancel"])

    waiting = browser.get(url).content.decode()
    email_paused()
    messages_drain()
    left = browser.get(url).content.decode()

    assert cancel in waiting
    assert cancel not in left


def test_the_report_counts_the_withdrawn_messages_as_suppressed(person, launched, api_client_for, email_paused):
    from backoffice.eventstore import projector

    person()
    campaign = launched(holdout_share="0")
    services.campaign_cancel(campaign_id=campaign.id, actor="user:2")
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])

    report = api_client_for("marketing").get(f"/api/v1/campaigns/{campaign.id}/report").json()

    rows = {row["channel"]: row for row in report["channels"]}
    assert (rows["email"]["queued"], rows["email"]["sent"], rows["email"]["suppressed"]) == (1, 0, 1)


def test_the_schema_documents_a_campaigns_problems(openapi_schema, api_client_for):
    from tests.factories import CampaignFactory

    campaign = CampaignFactory()
    answer = api_client_for("marketing").get(f"/api/v1/campaigns/{campaign.id}").json()

    documented = documented_properties(openapi_schema, "/api/v1/campaigns/{campaign_id}")

    assert "problems" in answer
    # docs/api.md: "GET one lists its sections answered and every problems entry"
    assert set(answer) <= documented, f"undocumented: {sorted(set(answer) - documented)}"
