"""The campaigns admin: the worksheet with its six sections, progress, checks and previews; approval by a second
staff member; launch; the report with charts; the segment editor's live count."""

import json
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from backoffice.messaging.models import OutboundMessage
from campaigns.models import Campaign, Segment, Status

from .conftest import segment, worksheet_dates

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing_client(client, staff_user):
    def make():
        from django.test import Client

        browser = Client()
        browser.force_login(staff_user("marketing"))
        return browser

    return make


def worksheet_post(seg, **overrides):
    data = {
        "name": "Vuelta al cole",
        "key_message": "Todo para la vuelta al cole",
        "intent": "Vender mochilas",
        "offer_code": "COLE10",
        "discount": "10%",
        "segments": [str(seg.id)],
        "holdout_share": "0.100",
        "channels": ["email", "sms"],
        "channel_mode": "best",
        "email_subject": "{name}: {discount} en todo",
        "email_body": "Con {offer_code} hasta {valid_until}. Para ti: {product}",
        "sms_text": "{discount} con {offer_code} hasta {valid_until}",
        "objective": "Más ventas en septiembre",
        "kpi": "ventas",
        "target_value": "1000",
        "attribution_days": "7",
        "cost_email": "0.01",
        "cost_sms": "0.05",
        "budget": "200",
        **worksheet_dates(),
    }
    data.update(overrides)
    return data


def test_the_worksheet_shows_six_sections_progress_checks_and_previews(marketing_client, person):
    person()
    seg = segment()
    browser = marketing_client()

    saved = browser.post(reverse("admin:campaigns_campaign_add"), worksheet_post(seg, kpi=""))
    campaign = Campaign.objects.get()
    response = browser.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="es")
    page = response.content.decode()

    assert saved.status_code == 302
    assert response.status_code == 200
    for label in ("¿Qué?", "¿Quién?", "¿Dónde?", "¿Cuándo?", "¿Cómo?", "¿Por qué?"):
        assert label in page
    assert "5/6" in page
    assert 'data-field="kpi"' in page
    assert 'class="variant-preview" data-channel="sms"' in page
    assert "COLE10" in page
    assert "segmento(s)" in page  # the SMS length and segment count
    assert campaign.status == Status.DRAFT
    assert campaign.costs == {"email": "0.01", "sms": "0.05"}


def test_a_second_staff_member_approves_in_the_admin_then_launches_and_reads_the_report(
    marketing_client, person, django_capture_on_commit_callbacks
):
    person()
    seg = segment()
    author, approver = marketing_client(), marketing_client()
    author.post(reverse("admin:campaigns_campaign_add"), worksheet_post(seg, holdout_share="0"))  # one person: sent
    campaign = Campaign.objects.get()

    own = author.post(reverse("admin:campaigns_campaign_command", args=[campaign.pk, "approve"]), follow=True)
    assert Campaign.objects.get().status == Status.DRAFT
    assert "second staff member" in own.content.decode()

    approver.post(reverse("admin:campaigns_campaign_command", args=[campaign.pk, "approve"]))
    with django_capture_on_commit_callbacks(execute=True):
        author.post(reverse("admin:campaigns_campaign_command", args=[campaign.pk, "launch"]))
    report = author.get(reverse("admin:insights_campaign_report", args=[campaign.pk]))

    assert Campaign.objects.get().status == Status.COMPLETED
    change = author.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert change.status_code == 200
    progress = change.content.decode().split('class="launch-progress"', 1)[1].split("</div>", 1)[0]
    assert 'data-decided="1" data-total="1" data-messages="1"' in progress  # counts done of total
    assert "Done: 1 messages queued for 1 people; 0 in the control group." in progress
    assert 'http-equiv="refresh"' not in progress  # finished: the page stops reloading
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 1
    page = report.content.decode()
    assert report.status_code == 200
    assert page.count('<svg class="insights-chart insights-chart--bars" data-chart="campaign_') == 3
    assert 'data-channel="email"' in page


def test_the_segment_editor_saves_rules_and_counts_live(marketing_client, person):
    person()
    person(consents=())
    browser = marketing_client()
    rules = {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}

    preview = browser.get(reverse("admin:campaigns_segment_preview"), {"rules": json.dumps(rules)})
    bad = browser.get(reverse("admin:campaigns_segment_preview"), {"rules": '{"op": "and", "rules": []}'})
    saved = browser.post(
        reverse("admin:campaigns_segment_add"), {"name": "Con email", "description": "", "rules": json.dumps(rules)}
    )
    page = browser.get(reverse("admin:campaigns_segment_change", args=[Segment.objects.get().pk])).content.decode()

    assert preview.json()["count"] == 1
    assert bad.status_code == 400
    assert saved.status_code == 302
    assert Segment.objects.get().rules == rules
    assert 'id="rule-editor"' in page


@pytest.mark.parametrize(
    "rules",
    [
        # JSON allows 1e400; Python's json reads it as float('inf') (parse_constant only sees the literal Infinity).
        '{"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 1e400}]}',
        '{"op": "and", "rules": [{"field": "last_order_days", "cmp": "lte", "value": 1e400}]}',
        # A field that is not a string (a list) is unhashable: FIELDS.get() raised TypeError.
        '{"op": "and", "rules": [{"field": ["order_count"], "cmp": "eq", "value": 1}]}',
    ],
    ids=["count-1e400", "days-1e400", "field-a-list"],
)
def test_the_segment_preview_answers_400_not_500_on_odd_rules(marketing_client, rules):
    browser = marketing_client()
    browser.raise_request_exception = False

    response = browser.get(reverse("admin:campaigns_segment_preview"), {"rules": rules})

    assert response.status_code == 400, f"{response.status_code} for {rules}"
    assert response.json()["errors"][0]["field"].startswith("rules.rules.0.")


def test_the_segment_form_shows_an_error_not_a_500_on_a_huge_number(marketing_client):
    from backoffice.eventstore.models import Event

    browser = marketing_client()
    browser.raise_request_exception = False
    events = Event.objects.count()
    rules = '{"op": "and", "rules": [{"field": "order_count", "cmp": "gte", "value": 1e400}]}'

    response = browser.post(
        reverse("admin:campaigns_segment_add"), {"name": "Muchos pedidos", "description": "", "rules": rules}
    )

    assert response.status_code == 200, response.status_code  # the form again, with the error on the rules
    assert "rules" in response.context["adminform"].form.errors
    assert not Segment.objects.exists()
    assert Event.objects.count() == events


def test_the_add_pages_open_empty(marketing_client):
    browser = marketing_client()

    assert browser.get(reverse("admin:campaigns_segment_add")).status_code == 200
    assert browser.get(reverse("admin:campaigns_campaign_add")).status_code == 200


def test_support_staff_do_not_see_campaigns(login):
    client = login("support")

    assert client.get(reverse("admin:campaigns_campaign_changelist")).status_code == 403


def test_a_launch_under_way_shows_its_progress_and_reloads_until_done(marketing_client, person):
    person()
    seg = segment()
    author, approver = marketing_client(), marketing_client()
    author.post(reverse("admin:campaigns_campaign_add"), worksheet_post(seg, holdout_share="0"))
    campaign = Campaign.objects.get()
    approver.post(reverse("admin:campaigns_campaign_command", args=[campaign.pk, "approve"]))
    author.post(reverse("admin:campaigns_campaign_command", args=[campaign.pk, "launch"]))  # fan-out not run yet

    page = author.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en")

    assert Campaign.objects.get().status == Status.RUNNING
    progress = page.content.decode().split('class="launch-progress"', 1)[1].split("</div>", 1)[0]
    assert "Taking the audience snapshot" in progress
    assert 'http-equiv="refresh"' in progress


# --- A save the service refuses: the form again with the reasons, and nothing written -------------------------------

# An HTML newsletter pasted whole: messaging takes bodies of 100,000 characters, the log an event of 32 KB.
NEWSLETTER = "<p>{name}, {discount} con {offer_code} hasta {valid_until}</p>" + "<p>Novedades de la semana</p>" * 1500


def _form_errors(response) -> dict:
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def test_a_refused_worksheet_change_in_the_admin_keeps_its_segments_and_shows_the_form_again(marketing_client, person):
    from django.contrib.admin.models import LogEntry

    from backoffice.eventstore.models import Event

    person()
    kept, refused = segment(), segment()
    browser = marketing_client()
    browser.post(reverse("admin:campaigns_campaign_add"), worksheet_post(kept), follow=True)
    campaign = Campaign.objects.get()
    events, entries = Event.objects.count(), LogEntry.objects.count()

    response = browser.post(
        reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
        worksheet_post(refused, email_body=NEWSLETTER),
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert "email_body" in _form_errors(response)
    assert list(Campaign.objects.get().segments.values_list("id", flat=True)) == [kept.id]
    assert Campaign.objects.get().email_body == worksheet_post(kept)["email_body"]
    assert Event.objects.count() == events
    assert LogEntry.objects.count() == entries
    assert "successfully" not in response.content.decode()


def test_a_refused_new_worksheet_in_the_admin_is_shown_again_not_a_500(marketing_client, person):
    from django.contrib.admin.models import LogEntry

    from backoffice.eventstore.models import Event

    person()
    seg = segment()
    browser = marketing_client()
    events = Event.objects.count()

    response = browser.post(
        reverse("admin:campaigns_campaign_add"), worksheet_post(seg, email_body=NEWSLETTER), HTTP_ACCEPT_LANGUAGE="es"
    )

    assert response.status_code == 200
    (message,) = _form_errors(response)["email_body"]
    assert "32 KB" in message
    assert not Campaign.objects.exists()
    assert Event.objects.count() == events
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("adding", [True, False], ids=["add", "change"])
def test_a_save_the_service_refuses_after_the_form_passed_writes_nothing_and_shows_the_form_again(
    marketing_client, person, monkeypatch, adding
):
    """The form's checks passed, and then the service refused (another staff member launched the campaign in
    between, say): no event, no history entry, no "saved" message, the form again with the reason."""
    from django.contrib.admin.models import LogEntry

    from backoffice.eventstore.models import Event
    from campaigns import admin as campaigns_admin
    from campaigns import services

    person()
    kept, other = segment(), segment()
    browser = marketing_client()
    if not adding:
        browser.post(reverse("admin:campaigns_campaign_add"), worksheet_post(kept), follow=True)
    url = (
        reverse("admin:campaigns_campaign_add")
        if adding
        else reverse("admin:campaigns_campaign_change", args=[Campaign.objects.get().pk])
    )
    events, entries = Event.objects.count(), LogEntry.objects.count()

    def refuse(**kwargs):
        raise services.CampaignRefused("not_editable", "a running campaign cannot be changed")

    monkeypatch.setattr(campaigns_admin.services, "campaign_save", refuse)
    response = browser.post(url, worksheet_post(other, key_message="Otro mensaje"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Only a draft or an approved campaign can be changed" in str(_form_errors(response))
    assert Event.objects.count() == events
    assert LogEntry.objects.count() == entries
    assert "successfully" not in response.content.decode()
    if not adding:
        assert list(Campaign.objects.get().segments.values_list("id", flat=True)) == [kept.id]


def _shown(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def _as_shown_post(campaign, page: str, **overrides) -> dict:
    """The worksheet's form posted back with what its page shows."""
    return worksheet_post(
        segment(),
        name=campaign.name,
        segments=[str(s.pk) for s in campaign.segments.all()],
        key_message=campaign.key_message,
        intent=campaign.intent,
        offer_code=campaign.offer_code,
        discount=campaign.discount,
        valid_until=campaign.valid_until.isoformat(),
        channels=campaign.channels,
        email_subject=campaign.email_subject,
        email_body=campaign.email_body,
        sms_text=campaign.sms_text,
        whatsapp_template=campaign.whatsapp_template,
        whatsapp_parameters=campaign.whatsapp_parameters,
        push_title=campaign.push_title,
        push_body=campaign.push_body,
        objective=campaign.objective,
        kpi=campaign.kpi,
        target_value=str(campaign.target_value),
        budget=str(campaign.budget),
        cost_whatsapp="0.04",
        cost_push="0",
        cost_facebook="0",
        cost_instagram="0",
        **{"starts_at": _shown(page, "starts_at"), "ends_at": _shown(page, "ends_at"), **overrides},
    )


@pytest.fixture
def approved_through_the_api(person, staff_user, make_campaign):
    """A campaign planned through the API (its times carry seconds and microseconds, as any client sends a time),
    approved by a second person; its author's browser."""
    from django.test import Client

    from backoffice.accounts.actors import request_actor
    from campaigns import services

    person()
    author = staff_user("marketing")
    campaign = make_campaign(author=request_actor(SimpleNamespace(user=author)))  # starts_at: now - 1 minute
    services.campaign_approve(campaign_id=campaign.id, actor="user:999")
    browser = Client()
    browser.force_login(author)
    return campaign, browser


def test_an_approved_campaign_saved_unchanged_from_its_page_stays_approved(approved_through_the_api):
    """The datetime-local input showed the times to the minute and the save truncated the seconds: the approval was
    gone (back to draft, and the author counted as 'whoever changed it')."""
    from backoffice.eventstore.models import Event

    campaign, browser = approved_through_the_api
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = browser.get(url).content.decode()

    response = browser.post(url, _as_shown_post(campaign, page))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert re.search(r'type="datetime-local" name="starts_at" value="[^"]*T\d\d:\d\d:\d\d" step="1"', page)
    assert not Event.objects.filter(stream=f"campaign-{campaign.pk}", type="campaign.changed").exists()
    saved = Campaign.objects.get(pk=campaign.pk)
    assert (saved.status, saved.starts_at, saved.ends_at) == (Status.APPROVED, campaign.starts_at, campaign.ends_at)


def test_a_page_without_seconds_saved_unchanged_keeps_the_stored_times(approved_through_the_api):
    """An input that shows no seconds (an older page, a browser ignoring step) posts the time to the minute."""
    campaign, browser = approved_through_the_api
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = browser.get(url).content.decode()
    to_the_minute = {name: _shown(page, name)[:16] for name in ("starts_at", "ends_at")}

    response = browser.post(url, _as_shown_post(campaign, page, **to_the_minute))

    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).status == Status.APPROVED


def test_a_time_changed_on_the_page_is_saved_to_the_second(approved_through_the_api):
    campaign, browser = approved_through_the_api
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = browser.get(url).content.decode()
    shown = _shown(page, "ends_at")
    later = shown[:17] + ("31" if shown[17:19] != "31" else "32")

    response = browser.post(url, _as_shown_post(campaign, page, ends_at=later))

    assert response.status_code == 302
    saved = Campaign.objects.get(pk=campaign.pk)
    assert saved.status == Status.DRAFT
    assert timezone.localtime(saved.ends_at).strftime("%Y-%m-%dT%H:%M:%S") == later
    assert saved.starts_at == campaign.starts_at
