"""The QQOQCP worksheet: six sections, consistent variants, approval by a second staff member."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from campaigns import services, worksheet
from campaigns.models import VARIANT_FIELD_NAMES, Campaign, Status

from .conftest import ready_values, segment

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("section", "missing"),
    [
        ("what", {"key_message": ""}),
        ("who", {"segments": []}),
        ("where", {"channels": []}),
        ("when", {"starts_at": None}),
        ("how", {"sms_text": ""}),
        ("why", {"kpi": ""}),
    ],
)
def test_a_campaign_missing_an_answer_cannot_be_approved_and_the_error_names_it(
    person, make_campaign, section, missing
):
    person()
    segments = [] if "segments" in missing else None
    values = {k: v for k, v in missing.items() if k != "segments"}
    campaign = make_campaign(segments=segments, **values)

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    assert caught.value.code == "inconsistent"
    assert any(e["section"] == section and e["code"] == "required" for e in caught.value.errors)
    campaign.refresh_from_db()
    assert campaign.status == Status.DRAFT
    assert not Event.objects.filter(type="campaign.approved").exists()
    state = worksheet.section_state(worksheet.campaign_problems(campaign, now=timezone.now()))
    assert state[section] is False
    assert sum(state.values()) == 5


def test_an_sms_variant_too_long_cannot_be_approved_and_the_error_names_the_field(person, make_campaign):
    person()
    campaign = make_campaign(
        sms_text="{name}: " + "Rebajas en toda la tienda. " * 20 + "{offer_code} {discount} {valid_until}"
    )

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    (error,) = [e for e in caught.value.errors if e["field"] == "sms_text"]
    assert error["code"] == "too_many_segments"


def test_every_variant_must_carry_the_offer_by_placeholder_never_typed_twice(person, make_campaign):
    person()
    campaign = make_campaign(sms_text="{name}: 20% con INVIERNO20 hasta {valid_until}")

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    codes = {(p.field, p.code) for p in problems}
    assert ("sms_text", "offer_missing") in codes
    assert ("sms_text", "offer_typed") in codes


def test_unknown_placeholders_are_refused(person, make_campaign):
    person()
    campaign = make_campaign(email_subject="{nombre}, {discount} para ti")

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    assert ("email_subject", "unknown_placeholder") in {(p.field, p.code) for p in problems}


def test_a_campaign_nobody_can_be_reached_by_cannot_be_approved(person, make_campaign):
    person(consents=("whatsapp",))
    campaign = make_campaign(channels=["email"])

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    assert [e["code"] for e in caught.value.errors] == ["empty"]


def test_the_author_cannot_approve_their_own_campaign(person, make_campaign):
    person()
    campaign = make_campaign(author="user:1")

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:1")

    assert caught.value.code == "same_author"
    assert Campaign.objects.get(id=campaign.id).status == Status.DRAFT


def test_whoever_changed_the_campaign_since_its_last_approval_cannot_approve_it(person, make_campaign):
    person()
    campaign = make_campaign(author="user:1")
    services.campaign_save(campaign=campaign, values={"key_message": "Texto que nadie más ha revisado"}, actor="user:2")

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    assert caught.value.code == "same_author"
    assert Campaign.objects.get(id=campaign.id).status == Status.DRAFT

    # A third person approves; user:2 changes it again (back to draft), and only a change since that approval counts:
    # user:3, who approved the text before, may approve user:2's change, and user:2 still may not.
    services.campaign_approve(campaign_id=campaign.id, actor="user:3")
    services.campaign_save(campaign=campaign, values={"key_message": "Otro cambio"}, actor="user:2")
    with pytest.raises(services.CampaignRefused):
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    assert services.campaign_approve(campaign_id=campaign.id, actor="user:3").status == Status.APPROVED


def test_a_second_staff_member_approves_and_an_edit_sends_it_back_to_draft(person, make_campaign):
    person()
    campaign = make_campaign()

    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    approved = Campaign.objects.get(id=campaign.id)
    services.campaign_save(campaign=approved, values={"sms_text": approved.sms_text + "!"}, actor="user:1")

    assert approved.status == Status.DRAFT
    assert Event.objects.filter(type="campaign.approved", stream=f"campaign-{campaign.id}").count() == 1


def test_variants_render_the_same_offer_for_a_customer(make_campaign, person):
    person()
    campaign = make_campaign()
    values = {"name": "Ana", "product": "Gorra azul", **worksheet.offer_values(campaign, "es")}

    email = worksheet.variant_content(campaign, "email", values)
    sms = worksheet.variant_content(campaign, "sms", values)

    assert email["subject"] == "Ana, 20% para ti"
    assert "INVIERNO20" in email["body"]
    assert "Gorra azul" in email["body"]
    assert sms["text"].startswith("Ana: 20% con INVIERNO20 hasta ")


def test_campaign_api_creates_a_draft_and_approval_errors_name_the_fields(api_client_for, person):
    person()
    seg = segment()
    author, approver = api_client_for("marketing"), api_client_for("marketing")
    values = ready_values()
    body = {
        **{k: v for k, v in values.items() if k not in VARIANT_FIELD_NAMES},
        "valid_until": values["valid_until"].isoformat(),
        "starts_at": values["starts_at"].isoformat(),
        "ends_at": values["ends_at"].isoformat(),
        "target_value": str(values["target_value"]),
        "budget": str(values["budget"]),
        "segments": [str(seg.id)],
        "variants": {
            "email": {"email_subject": values["email_subject"], "email_body": values["email_body"]},
            "sms": {"sms_text": "too long " * 100},
        },
    }

    created = author.post("/api/v1/campaigns", body, format="json")
    campaign_id = created.json()["id"]
    refused = approver.post(f"/api/v1/campaigns/{campaign_id}/approve")
    own = author.post(f"/api/v1/campaigns/{campaign_id}/launch")

    assert created.status_code == 201, created.json()
    assert created.json()["sections"] == {
        "what": True,
        "who": True,
        "where": True,
        "when": True,
        "how": True,
        "why": True,
    }
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json()["errors"]} == {"sms_text"}
    assert "too_many_segments" in {e["code"] for e in refused.json()["errors"]}
    assert own.status_code == 409
    assert own.json()["type"].endswith("/campaign_not_approved")


def test_a_person_reachable_through_a_merged_profile_counts_as_reachable_before_approval(make_campaign, person):
    """A store customer known by their phone, merged with their web account that holds the email: the fan-out
    reaches them by that email, so the campaign is not refused as reaching nobody."""
    from campaigns import selectors
    from customers.services.identity import customer_merge
    from customers.services.ingestion import customer_register

    from .conftest import grant

    store_customer, _ = customer_register(customer={"phone": "+34612000111"}, channel="store", actor="test")
    web_account, _ = customer_register(customer={"email": "ana.web@example.es"}, channel="web", actor="test")
    grant(store_customer, "email")
    customer_merge(customer_ids=(store_customer, web_account), into=store_customer, actor="test")
    campaign = make_campaign(channels=["email"])

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    assert selectors.reachable_channels(customer_ids=[store_customer], channels=["email"], at=timezone.now()) == {
        store_customer: ["email"]
    }
    assert [p.code for p in problems] == []
    assert services.campaign_approve(campaign_id=campaign.id, actor="user:2").status == Status.APPROVED


def test_a_campaign_whose_people_have_no_address_on_its_channels_is_still_refused_as_reaching_nobody(
    make_campaign, person
):
    from customers.services.ingestion import customer_register

    from .conftest import grant

    phone_only, _ = customer_register(customer={"phone": "+34612000222"}, channel="store", actor="test")
    grant(phone_only, "email")
    campaign = make_campaign(channels=["email"])

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    assert [p.code for p in problems] == ["empty"]


def test_an_sms_within_the_limit_for_plain_names_but_over_it_for_an_accented_name_cannot_be_approved(
    person, make_campaign
):
    """248 characters are 2 GSM-7 segments, but one í in the name (María, Sofía, Cádiz) makes the SMS UCS-2: 4
    segments, over MESSAGING_SMS_MAX_SEGMENTS (3), which the fan-out would skip."""
    person()
    text = "{name}: " + "Rebajas en toda la tienda. " * 8 + "{offer_code} {discount} hasta {valid_until}"
    campaign = make_campaign(sms_text=text)

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    assert ("sms_text", "too_many_segments") in {(p.field, p.code) for p in problems}


def test_the_worksheet_checks_the_variants_a_customer_we_know_little_about_gets(person, make_campaign):
    """No store, no city, nothing to recommend: the placeholders say something in the customer's language (a blank
    WhatsApp template parameter is refused by messaging), and the checks pass on what they render."""
    person()
    campaign = make_campaign(
        channels=["whatsapp"],
        whatsapp_parameters="{name}\n{store}\n{city}\n{product}\n{offer_code}\n{discount}\n{valid_until}",
        costs={"whatsapp": "0.04"},
    )
    spanish, english = worksheet.fallback_values("es"), worksheet.fallback_values("en")

    problems = worksheet.campaign_problems(campaign, now=timezone.now(), check_audience=False)

    assert problems == []
    assert spanish["store"] == "nuestra tienda online"
    assert english["store"] == "our online shop"
    for values in (spanish, english):
        assert all(values[name].strip() for name in ("name", "city", "store", "product"))


def test_an_offer_already_expired_cannot_be_approved(person, make_campaign):
    """Started ten days ago, running two more weeks, the offer's validity ended yesterday: approving it would send
    "use INVIERNO20 until <yesterday>" to everybody."""
    person()
    now = timezone.now()
    campaign = make_campaign(
        starts_at=now - timedelta(days=10),
        ends_at=now + timedelta(days=14),
        valid_until=timezone.localdate() - timedelta(days=1),
    )

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    assert [(e["field"], e["code"]) for e in caught.value.errors] == [("valid_until", "invalid")]
    assert "expired" in caught.value.errors[0]["message"]
    assert Campaign.objects.get(id=campaign.id).status == Status.DRAFT


def test_an_offer_ending_before_the_campaign_does_cannot_be_approved(person, make_campaign):
    person()
    now = timezone.now()
    campaign = make_campaign(ends_at=now + timedelta(days=14), valid_until=timezone.localdate() + timedelta(days=3))

    problems = worksheet.campaign_problems(campaign, now=now)

    assert [(p.field, p.code) for p in problems] == [("valid_until", "invalid")]
    assert "before the campaign does" in problems[0].message


def test_an_offer_valid_until_the_day_before_a_campaign_ending_at_midnight_is_enough(person, make_campaign):
    person()
    last_day = timezone.localdate() + timedelta(days=5)
    midnight = timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time(0, 0)))
    campaign = make_campaign(ends_at=midnight, valid_until=last_day)

    assert worksheet.campaign_problems(campaign, now=timezone.now()) == []


def test_a_campaign_that_already_ended_cannot_be_approved(person, make_campaign):
    """Start and end both in the past: approved and launched, every person would be decided 'expired' and nothing
    sent, with "Launched." on the screen."""
    person()
    now = timezone.now()
    campaign = make_campaign(
        starts_at=now - timedelta(days=10), ends_at=now - timedelta(days=1), valid_until=timezone.localdate()
    )

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    assert [(e["field"], e["code"]) for e in caught.value.errors] == [("ends_at", "ended")]
    assert Campaign.objects.get(id=campaign.id).status == Status.DRAFT


def test_a_campaign_whose_end_passed_after_approval_cannot_be_launched(person, make_campaign):
    person()
    now = timezone.now()
    campaign = make_campaign(ends_at=now + timedelta(hours=1), valid_until=timezone.localdate() + timedelta(days=1))
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_launch(campaign_id=campaign.id, actor="user:2", now=now + timedelta(hours=2))

    assert ("ends_at", "ended") in [(e["field"], e["code"]) for e in caught.value.errors]
    assert Campaign.objects.get(id=campaign.id).status == Status.APPROVED


def test_a_send_window_entirely_inside_quiet_hours_cannot_be_approved(person, make_campaign, settings):
    """Window 22:00-23:30 with quiet hours 21:00-09:00: every person decided in it would get the message the next
    morning, outside the window; the fan-out would wait for a moment that never comes."""
    settings.MESSAGING_QUIET_HOURS = "21:00-09:00"
    person()
    campaign = make_campaign(send_window_start=time(22, 0), send_window_end=time(23, 30))

    with pytest.raises(services.CampaignRefused) as caught:
        services.campaign_approve(campaign_id=campaign.id, actor="user:2")

    assert [(e["field"], e["code"]) for e in caught.value.errors] == [("send_window_start", "quiet_hours")]
    assert "21:00-09:00" in caught.value.errors[0]["message"]


@pytest.mark.parametrize(
    ("window", "quiet"),
    [
        ((time(20, 0), time(22, 0)), "21:00-09:00"),  # partly inside: 20:00-21:00 sends
        ((time(8, 0), time(10, 0)), "21:00-09:00"),  # the morning after quiet hours
        ((time(22, 0), time(23, 30)), "off"),
        ((time(23, 0), time(1, 0)), "00:00-06:00"),  # wraps midnight, 23:00-00:00 open
    ],
)
def test_a_send_window_partly_outside_quiet_hours_passes(person, make_campaign, settings, window, quiet):
    settings.MESSAGING_QUIET_HOURS = quiet
    person()
    campaign = make_campaign(send_window_start=window[0], send_window_end=window[1])

    assert worksheet.campaign_problems(campaign, now=timezone.now()) == []


def test_a_channels_own_quiet_hours_count(person, make_campaign, settings):
    from backoffice.messaging.models import ChannelSetting

    settings.MESSAGING_QUIET_HOURS = "22:00-08:00"
    ChannelSetting.objects.create(channel="sms", quiet_hours_start=time(19, 0), quiet_hours_end=time(9, 0))
    person(consents=("sms",))
    sms = segment({"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "sms"}]})
    campaign = make_campaign(
        segments=[sms], channels=["sms"], send_window_start=time(19, 30), send_window_end=time(21, 0)
    )

    problems = worksheet.campaign_problems(campaign, now=timezone.now())

    assert [(p.field, p.code) for p in problems] == [("send_window_start", "quiet_hours")]
