"""Campaigns and segments are in the log: `rebuild_projections` gives back every row and report exactly, a campaign
can be shown as it was at a past instant (`as_of`), its history says who changed what and when, a refused command
records nothing, and campaigns that existed before the log are recorded by migration 0002."""

import importlib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from backoffice.insights.campaign_figures import campaign_report
from campaigns import selectors, services
from campaigns.models import AudienceMember, Campaign, Delivery, Outcome, Segment, Status
from campaigns.segments import SegmentRuleError
from campaigns.services.fan_out import is_holdout

from .conftest import ready_values, revoke, segment
from .test_admin import marketing_client  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _rows(model, *, without=("id",)) -> list[tuple]:
    """Every row of a table by its values, surrogate ids left out (a rebuild inserts the rows again)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname not in without]
    return sorted(model.objects.values_list(*names), key=repr)


def _read_side() -> dict:
    reports = {}
    for campaign in Campaign.objects.order_by("id"):
        answer = campaign_report(campaign=campaign)
        answer["lift"].pop("as_of", None)  # the time the report was computed
        reports[str(campaign.id)] = answer
    return {
        "segments": _rows(Segment, without=()),
        "campaigns": _rows(Campaign, without=()),
        "campaign_segments": _rows(Campaign.segments.through),
        "campaign_exclusions": _rows(Campaign.exclusions.through),
        "audience": _rows(AudienceMember),
        "deliveries": _rows(Delivery),
        "reports": reports,
    }


@pytest.fixture
def history(person, shop, make_campaign, launched, outbox, django_capture_on_commit_callbacks):
    """Campaigns in every state, with an audience, deliveries, holdout, people nobody can reach and orders."""
    everyone = segment(
        {
            "op": "or",
            "rules": [
                {"field": "consent", "cmp": "eq", "value": "email"},
                {"field": "language", "cmp": "eq", "value": "es"},
            ],
        }
    )
    completed = make_campaign(name="Terminada", segments=[everyone], holdout_share="0.250", channel_mode="every")
    people, treated = _both_sides_of_the_holdout(person, completed, treated=3)
    unreachable = person(consents=())
    left_out = segment(name="vip")
    services.segment_save(
        segment=left_out,
        name="vip de verdad",
        rules={"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 3}]},
        actor="marketing-2",
    )
    draft = make_campaign(name="Borrador", segments=[everyone])
    services.campaign_save(campaign=draft, values={"sms_text": "{name}: {offer_code}"}, actor="user:1")
    approved = make_campaign(name="Aprobada")
    services.campaign_approve(campaign_id=approved.id, actor="user:2")
    completed = launched(completed)
    cancelled = make_campaign(name="Cancelada", segments=[everyone])
    services.campaign_save(campaign=cancelled, values={}, actor="user:1", exclusion_ids=[left_out.id])
    services.campaign_approve(campaign_id=cancelled.id, actor="user:2")
    services.campaign_cancel(campaign_id=cancelled.id, actor="user:2", reason="stock")
    for customer_id in treated:
        shop(customer_id, ["CAM-BLA", "ZAP-RUN"])
    revoke(people[0], "sms")
    projector.catch_up_all()  # the report reads insights' read models, which follow the log after commit
    return {"completed": completed, "people": people, "unreachable": unreachable}


def _both_sides_of_the_holdout(person, campaign, *, treated: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """At least 12 reachable people, someone held out and `treated` people not, the first of whom are returned to buy:
    the campaign's id is random, and with the first three of 12 people as buyers all three were held out once in 64
    runs (a report without revenue)."""
    people: list[uuid.UUID] = []
    held: list[uuid.UUID] = []
    while len(people) < 12 or not held or len(people) - len(held) < treated:
        customer = person(consents=("email", "sms"))
        people.append(customer)
        if is_holdout(campaign.id, customer, campaign.holdout_share):
            held.append(customer)
    return people, [p for p in people if p not in held][:treated]


def test_rebuild_projections_from_an_empty_read_side_gives_back_every_campaign_segment_and_report(history):
    before = _read_side()
    assert Campaign.objects.get(id=history["completed"].id).status == Status.COMPLETED
    assert len(before["audience"]) == len(history["people"]) + 1
    assert len(before["deliveries"]) >= 6
    assert {Outcome.SENT, Outcome.HOLDOUT} <= set(AudienceMember.objects.values_list("outcome", flat=True))
    assert before["reports"][str(history["completed"].id)]["totals"]["revenue"] != "0.00"

    call_command("rebuild_projections", verbosity=0)

    assert _read_side() == before


def test_rebuilding_only_the_campaigns_projection_gives_back_the_same_rows(history):
    before = _read_side()
    for model in (Delivery, AudienceMember, Campaign, Segment):
        model.objects.all().delete()

    call_command("rebuild_projections", "campaigns.campaigns", verbosity=0)

    assert _read_side() == before


def test_as_of_shows_the_campaign_as_approved_after_a_later_change(person, make_campaign, api_client_for):
    person()
    campaign = make_campaign()
    approved = services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    first_segments = [str(s.id) for s in approved.segments.all()]
    approved_at = approved.approved_at
    later = segment(name="later")
    services.campaign_save(
        campaign=approved, values={"sms_text": "Nuevo: {offer_code}"}, actor="user:1", segment_ids=[later.id]
    )
    client = api_client_for("marketing")

    then = client.get(f"/api/v1/campaigns/{campaign.id}", {"as_of": approved_at.isoformat()})
    now = client.get(f"/api/v1/campaigns/{campaign.id}")

    assert then.status_code == 200, then.json()
    assert then.json()["status"] == "approved"
    assert then.json()["approved_by"] == "user:2"
    assert then.json()["variants"]["sms"]["sms_text"] == ready_values()["sms_text"]
    assert then.json()["segments"] == first_segments
    assert set(then.json()) == set(now.json())
    assert now.json()["status"] == "draft"
    assert now.json()["variants"]["sms"]["sms_text"] == "Nuevo: {offer_code}"
    assert now.json()["segments"] == [str(later.id)]


def test_as_of_before_the_campaign_existed_is_a_404_and_a_bad_time_a_400_naming_it(make_campaign, api_client_for):
    campaign = make_campaign()
    client = api_client_for("integration")
    url = f"/api/v1/campaigns/{campaign.id}"

    before = client.get(url, {"as_of": (campaign.created_at - timedelta(seconds=1)).isoformat()})
    naive = client.get(url, {"as_of": "2026-01-01T10:00:00"})
    garbage = client.get(url, {"as_of": "yesterday"})

    assert before.status_code == 404
    assert naive.status_code == 400
    assert naive.json()["errors"][0]["field"] == "as_of"
    assert garbage.status_code == 400
    assert garbage.json()["errors"][0]["field"] == "as_of"


def test_the_history_says_who_changed_what_and_when(person, make_campaign, launched):
    person()
    campaign = make_campaign(author="user:1")
    services.campaign_save(campaign=campaign, values={"discount": "25%", "budget": Decimal(800)}, actor="user:3")
    launched(campaign)

    entries = selectors.campaign_history(campaign_id=campaign.id)

    assert [(e.type, e.actor, e.status) for e in entries] == [
        ("campaign.created", "user:1", "draft"),
        ("campaign.changed", "user:3", "draft"),
        ("campaign.approved", "user:2", "approved"),
        ("campaign.launched", "user:2", "running"),
        ("campaign.completed", "", "completed"),
    ]
    changed = {c.field: (c.before, c.after) for c in entries[1].changes}
    assert changed == {"discount": ("20%", "25%"), "budget": (Decimal(500), Decimal(800))}
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert {c.field for c in entries[2].changes} == {"status", "approved_by", "approved_at"}


def test_the_admin_shows_the_campaigns_history(marketing_client, make_campaign):  # noqa: F811
    campaign = make_campaign()
    services.campaign_save(
        campaign=campaign, values={"kpi": "ventas"}, actor="user:7", segment_ids=[segment(name="Fieles").id]
    )
    browser = marketing_client()

    page = browser.get(reverse("admin:campaigns_campaign_history", args=[campaign.id]))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="history-entry"') == 2
    assert 'data-field="kpi"' in html
    assert "ventas" in html
    assert "Fieles" in html  # segments by name
    crumbs = html.split('<div class="breadcrumbs">', 1)[1].split("</div>", 1)[0]
    assert f'href="{reverse("admin:campaigns_campaign_change", args=[campaign.id])}"' in crumbs


def test_refused_commands_record_no_event(person, make_campaign, launched):
    person()
    campaign = make_campaign(author="user:1")
    done = launched(make_campaign(name="Lanzada"))
    events = Event.objects.count()

    with pytest.raises(services.CampaignRefused):
        services.campaign_approve(campaign_id=campaign.id, actor="user:1")  # the author
    with pytest.raises(services.CampaignRefused):
        services.campaign_save(campaign=campaign, values={"budget": Decimal(-1)}, actor="user:1")
    with pytest.raises(services.CampaignRefused):
        services.campaign_save(campaign=campaign, values={"attribution_days": 0}, actor="user:1")
    with pytest.raises(services.CampaignRefused):
        services.campaign_launch(campaign_id=campaign.id, actor="user:2")  # not approved
    with pytest.raises(services.CampaignRefused):
        services.campaign_cancel(campaign_id=done.id, actor="user:2")  # completed
    with pytest.raises(services.CampaignRefused):
        services.campaign_save(campaign=done, values={"name": "Otra"}, actor="user:1")
    with pytest.raises(SegmentRuleError):
        services.segment_save(name="mal", rules={"op": "xor", "rules": []}, actor="user:1")

    assert Event.objects.count() == events
    assert Campaign.objects.get(id=campaign.id).status == Status.DRAFT


def test_saving_unchanged_records_nothing_and_keeps_the_approval(person, make_campaign):
    person()
    campaign = services.campaign_approve(campaign_id=make_campaign().id, actor="user:2")
    events = Event.objects.count()

    services.campaign_save(campaign=campaign, values={"budget": Decimal("500.00")}, actor="user:1")

    assert Event.objects.count() == events
    assert Campaign.objects.get(id=campaign.id).status == Status.APPROVED


def test_campaigns_and_segments_from_before_the_log_are_recorded_by_the_migration_and_rebuilt(person, shop):
    customer = person()
    now = timezone.now().replace(microsecond=0)
    old_segment = Segment.objects.create(
        name="de antes",
        rules={"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]},
        created_by="user:1",
        created_at=now - timedelta(days=30),
        updated_at=now - timedelta(days=20),
    )
    old = Campaign.objects.create(
        name="Campaña de antes",
        status=Status.COMPLETED,
        channels=["email"],
        costs={"email": "0.02"},
        holdout_share=Decimal("0.200"),
        budget=Decimal("10.00"),
        created_by="user:1",
        approved_by="user:2",
        approved_at=now - timedelta(days=10),
        launched_at=now - timedelta(days=9),
        completed_at=now - timedelta(days=9),
        is_snapshot_done=True,
        created_at=now - timedelta(days=12),
        updated_at=now - timedelta(days=9),
    )
    old.segments.set([old_segment])
    AudienceMember.objects.create(
        campaign=old, customer_id=customer, outcome=Outcome.SENT, decided_at=now - timedelta(days=9)
    )
    AudienceMember.objects.create(campaign=old, customer_id=uuid.uuid4(), is_holdout=True, outcome=Outcome.HOLDOUT)
    Delivery.objects.create(
        campaign=old, customer_id=customer, channel="email", message_id=uuid.uuid4(), queued_at=now - timedelta(days=9)
    )
    before = _read_side()
    migration = importlib.import_module("campaigns.migrations.0002_record_existing_in_the_log")

    migration.record_existing(apps, connection.schema_editor())
    assert _read_side() == before  # recording changed no row
    recorded = Event.objects.count()
    migration.record_existing(apps, connection.schema_editor())
    assert Event.objects.count() == recorded  # and recording again records nothing
    call_command("rebuild_projections", "campaigns.campaigns", verbosity=0)

    assert _read_side() == before
    assert [e.type for e in selectors.campaign_history(campaign_id=old.id)] == ["campaign.imported"]
