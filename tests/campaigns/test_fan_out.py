"""Launch and fan-out: holdout, channel choice, consent, contact pressure, send windows, exactly once."""

import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.eventstore.models import Event
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import message_send
from campaigns import selectors, services
from campaigns.models import AudienceMember, Campaign, Delivery, Outcome, Status
from campaigns.personalisation import recommend_products
from campaigns.services.fan_out import is_holdout
from customers.services.identity import customer_merge
from customers.services.ingestion import interactions_ingest

from .conftest import revoke, segment

pytestmark = pytest.mark.django_db


def engage(customer_id, channel, times=3):
    items = [
        {
            "id": str(uuid.uuid4()),
            "type": "cart.item_added",
            "channel": channel,
            "occurred_at": timezone.now().isoformat(),
            "customer": {"id": str(customer_id)},
            "data": {"cart_id": f"c-{uuid.uuid4().hex[:8]}", "sku": "X", "quantity": 1, "unit_price": "1.00"},
        }
        for _ in range(times)
    ]
    interactions_ingest(raw_items=items, actor="test")


def test_the_holdout_hash_keeps_the_share_over_many_people():
    # Fixed ids (uuid5), so this is deterministic: the share holds within a point over 20,000 people.
    campaign_id = uuid.uuid5(uuid.NAMESPACE_URL, "campaign")
    people = [uuid.uuid5(uuid.NAMESPACE_URL, f"person-{n}") for n in range(20_000)]
    for share in ("0.100", "0.250"):
        held = sum(is_holdout(campaign_id, p, Decimal(share)) for p in people)
        assert abs(held / len(people) - float(share)) < 0.01
    assert not any(is_holdout(campaign_id, p, Decimal("0")) for p in people)


def test_launch_sends_one_message_per_person_and_holds_out_about_ten_percent(person, make_campaign, launched, outbox):
    campaign = make_campaign(holdout_share="0.100")
    people = [person() for _ in range(60)]
    # The campaign id is random, so 60 people hold nobody out about once in 550 runs: add people until someone is
    # held out, so both sides of the holdout are always exercised.
    while not any(is_holdout(campaign.id, p, campaign.holdout_share) for p in people):
        people.append(person())

    campaign = launched(campaign)

    audience = AudienceMember.objects.filter(campaign=campaign)
    held = set(audience.filter(is_holdout=True).values_list("customer_id", flat=True))
    assert audience.count() == len(people)
    assert held == {p for p in people if is_holdout(campaign.id, p, campaign.holdout_share)}
    assert 1 <= len(held) < len(people)
    messages = OutboundMessage.objects.filter(campaign_id=str(campaign.id))
    assert messages.count() == len(people) - len(held)
    assert not messages.filter(customer_id__in=held).exists()
    assert {m.channel for m in messages} == {"email"}
    assert len(outbox) == len(people) - len(held)
    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED


def test_launching_twice_sends_nothing_twice(person, launched, outbox, django_capture_on_commit_callbacks):
    for _ in range(5):
        person()
    campaign = launched(holdout_share="0")

    with django_capture_on_commit_callbacks(execute=True):
        again = services.campaign_launch(campaign_id=campaign.id, actor="user:3")
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_snapshot(campaign_id=campaign.id)
        services.campaign_fan_out_batch(campaign_id=campaign.id)

    assert again.status == Status.COMPLETED
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 5
    assert Delivery.objects.filter(campaign=campaign).count() == 5
    assert len(outbox) == 5


def test_a_revoked_whatsapp_consent_gets_the_email_variant_in_best_channel_mode(person, launched, outbox):
    fan = person(consents=("email", "whatsapp"))
    engage(fan, "whatsapp")
    other = person(consents=("email", "whatsapp"))
    engage(other, "whatsapp")
    revoke(fan, "whatsapp")

    campaign = launched(channels=["email", "whatsapp"], holdout_share="0")

    sent = dict(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("customer_id", "channel"))
    assert sent == {fan: "email", other: "whatsapp"}
    assert not [m for m in outbox if m.channel == "whatsapp" and m.message_id in _ids(fan)]


def _ids(customer_id):
    return {str(i) for i in OutboundMessage.objects.filter(customer_id=customer_id).values_list("id", flat=True)}


def test_every_channel_mode_sends_on_each_consented_channel(person, launched):
    both = person(consents=("email", "sms"))
    only_email = person(consents=("email",))

    campaign = launched(channel_mode="every", holdout_share="0")

    sent = set(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("customer_id", "channel"))
    assert sent == {(both, "email"), (both, "sms"), (only_email, "email")}


def test_the_contact_pressure_budget_holds_across_two_overlapping_campaigns_on_different_channels(
    person, launched, settings
):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 3, "days": 7}
    customer = person(consents=("email", "sms"))
    email_campaign = launched(channel_mode="every", channels=["email"], holdout_share="0")
    both_campaign = launched(channel_mode="every", channels=["email", "sms"], holdout_share="0")
    third = launched(channel_mode="every", channels=["sms"], holdout_share="0")

    messages = OutboundMessage.objects.filter(customer_id=customer, purpose="marketing")
    assert messages.count() == 3
    assert set(messages.values_list("campaign_id", flat=True)) == {str(email_campaign.id), str(both_campaign.id)}
    assert AudienceMember.objects.get(campaign=third, customer_id=customer).outcome == Outcome.PRESSURE


def test_the_budget_counts_the_messages_sent_to_a_profile_merged_since_into_the_person(person, launched, settings):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 1, "days": 7}
    kept, merged = person(consents=("email",)), person(consents=("email",))
    message_send(
        customer_id=merged,
        channel="email",
        purpose="marketing",
        content={"subject": "Novedades", "body": "Hola"},
        idempotency_key=f"newsletter-{uuid.uuid4()}",
        actor="test",
    )
    customer_merge(customer_ids=(kept, merged), into=kept, actor="test")

    campaign = launched(holdout_share="0")

    assert AudienceMember.objects.get(campaign=campaign, customer_id=kept).outcome == Outcome.PRESSURE
    assert not OutboundMessage.objects.filter(campaign_id=str(campaign.id)).exists()


def test_the_budget_counts_only_the_window(person, launched, settings):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 1, "days": 7}
    customer = person()
    first = launched(holdout_share="0")
    OutboundMessage.objects.filter(campaign_id=str(first.id)).update(created_at=timezone.now() - timedelta(days=8))

    second = launched(holdout_share="0")

    assert AudienceMember.objects.get(campaign=second, customer_id=customer).outcome == Outcome.SENT


def test_the_budget_counts_neither_suppressed_nor_service_messages(person, launched, settings):
    settings.CAMPAIGNS_CONTACT_PRESSURE = {"messages": 1, "days": 7}
    suppressed, served = person(), person()
    first = launched(holdout_share="0")
    OutboundMessage.objects.filter(campaign_id=str(first.id), customer_id=suppressed).update(status="suppressed")
    OutboundMessage.objects.filter(campaign_id=str(first.id), customer_id=served).update(purpose="service")

    second = launched(holdout_share="0")

    outcomes = dict(AudienceMember.objects.filter(campaign=second).values_list("customer_id", "outcome"))
    assert outcomes == {suppressed: Outcome.SENT, served: Outcome.SENT}


def test_outside_the_send_window_people_wait_for_their_local_morning(person, launched):
    person(time_zone="Pacific/Auckland")
    now = timezone.now()
    local = now.astimezone(timezone.get_fixed_timezone(0))
    start = (local + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=4)).time().replace(second=0, microsecond=0)
    person(time_zone="UTC")

    campaign = launched(holdout_share="0", send_window_start=start, send_window_end=end)

    pending = AudienceMember.objects.filter(campaign=campaign, outcome=Outcome.PENDING)
    assert pending.count() >= 1
    assert all(row.not_before > now for row in pending)
    assert campaign.status == Status.RUNNING
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 2 - pending.count()


def test_a_scheduled_campaign_is_launched_by_beat_when_its_start_comes(
    person, make_campaign, django_capture_on_commit_callbacks
):
    person()
    campaign = make_campaign(starts_at=timezone.now() + timedelta(hours=1), holdout_share="0")
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")
    campaign.refresh_from_db()
    assert campaign.status == Status.SCHEDULED

    Campaign.objects.filter(id=campaign.id).update(starts_at=timezone.now() - timedelta(seconds=1))  # time passes
    with django_capture_on_commit_callbacks(execute=True):
        services.campaigns_launch_due()

    campaign.refresh_from_db()
    assert campaign.status == Status.COMPLETED
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 1


def test_a_recommendation_never_names_a_product_the_customer_already_bought(person, shop):
    ana, luis, eva, new = person(), person(), person(), person()
    shop(ana, ["CAM-BLA", "PAN-VAQ"])
    shop(luis, ["CAM-BLA", "PAN-VAQ"])
    shop(luis, ["CAM-BLA", "ZAP-RUN"])
    shop(eva, ["PAN-VAQ", "GOR-AZU"])

    picks = recommend_products([ana, luis, eva, new])

    assert picks[ana].sku in {"ZAP-RUN", "GOR-AZU"}
    assert picks[luis].sku == "GOR-AZU"
    assert picks[eva].sku == "CAM-BLA"
    assert picks[new].sku == "CAM-BLA"
    from orders.selectors import bought_skus

    bought = bought_skus(customer_ids=[ana, luis, eva])
    for customer_id in (ana, luis, eva):
        assert picks[customer_id].sku not in bought[customer_id]


def test_variants_are_personalised_with_name_store_and_product(person, shop, launched, outbox):
    ana = person(name="Ana García")
    shop(ana, ["CAM-BLA"], "VLC-01")
    other = person()
    shop(other, ["CAM-BLA", "GOR-AZU"])

    launched(
        segments=[segment({"op": "and", "rules": [{"field": "bought_sku", "cmp": "eq", "value": "CAM-BLA"}]})],
        holdout_share="0",
        email_body="Hola {name}, en {store} ({city}) te espera {product}: {offer_code} {discount} {valid_until}",
    )

    (message,) = [m for m in outbox if m.message_id in _ids(ana)]
    assert message.content["subject"].startswith("Ana, 20%")
    assert "Valencia Colón (Valencia)" in message.content["body"]
    assert "Gorra azul" in message.content["body"]


def test_cancelling_a_running_campaign_sends_nobody_still_pending(person, launched):
    person(time_zone="UTC")
    local = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    start = (local + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    end = (local + timedelta(hours=4)).time().replace(second=0, microsecond=0)
    campaign = launched(holdout_share="0", send_window_start=start, send_window_end=end)

    services.campaign_cancel(campaign_id=campaign.id, actor="user:2")
    services.campaign_fan_out_batch(campaign_id=campaign.id, now=timezone.now() + timedelta(hours=3, minutes=1))

    assert AudienceMember.objects.get(campaign=campaign).outcome == Outcome.CANCELLED
    assert not OutboundMessage.objects.filter(campaign_id=str(campaign.id)).exists()


def test_people_whose_local_date_is_past_the_offer_are_decided_expired(person, make_campaign):
    """The offer holds until the campaign's last day (Madrid); an hour before the end it is already the next day on
    Kiritimati (UTC+14): a message there would promise an offer that has ended."""
    madrid = person(time_zone="Europe/Madrid")
    kiritimati = person(time_zone="Pacific/Kiritimati")
    last_day = timezone.localdate() + timedelta(days=2)
    ends_at = timezone.make_aware(datetime.combine(last_day, time(23, 0)))
    campaign = make_campaign(holdout_share="0", ends_at=ends_at, valid_until=last_day)
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")  # batches: by hand, at the hour chosen
    services.campaign_snapshot(campaign_id=campaign.id)

    services.campaign_fan_out_batch(campaign_id=campaign.id, now=ends_at - timedelta(hours=1))

    outcomes = dict(AudienceMember.objects.filter(campaign=campaign).values_list("customer_id", "outcome"))
    assert outcomes == {madrid: Outcome.SENT, kiritimati: Outcome.EXPIRED}
    assert list(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("customer_id", flat=True)) == [
        madrid
    ]


def _clock(moment) -> time:
    return moment.time().replace(second=0, microsecond=0)


def test_a_person_inside_the_send_window_but_in_quiet_hours_waits_for_them_to_end_inside_the_window(
    person, launched, settings
):
    """Send window now-1h .. now+2h, quiet hours (messaging's) now-1h .. now+1h, in the person's zone: decided now,
    the drain would defer the message to the end of quiet hours anyway; the fan-out waits for that end itself, which
    is inside the window, and queues nothing before."""
    now = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    settings.MESSAGING_QUIET_HOURS = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    person(time_zone="UTC")

    campaign = launched(
        holdout_share="0",
        send_window_start=_clock(now - timedelta(hours=1)),
        send_window_end=_clock(now + timedelta(hours=2)),
    )

    row = AudienceMember.objects.get(campaign=campaign)
    assert row.outcome == Outcome.PENDING
    assert _clock(row.not_before.astimezone(timezone.get_fixed_timezone(0))) == _clock(now + timedelta(hours=1))
    assert now < row.not_before <= now + timedelta(hours=1)
    assert not OutboundMessage.objects.filter(campaign_id=str(campaign.id)).exists()

    services.campaign_fan_out_batch(campaign_id=campaign.id, now=row.not_before + timedelta(seconds=1))
    assert AudienceMember.objects.get(campaign=campaign).outcome == Outcome.SENT


def test_when_quiet_hours_end_after_the_send_window_closes_the_person_waits_for_the_next_window(
    person, launched, settings
):
    """Window now-1h .. now+30min, quiet hours now-30min .. now+1h: the window's open part today is over once quiet
    hours begin; the person waits for tomorrow's window opening, outside quiet hours."""
    now = timezone.now().astimezone(timezone.get_fixed_timezone(0))
    settings.MESSAGING_QUIET_HOURS = f"{now - timedelta(minutes=30):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    person(time_zone="UTC")
    start = _clock(now - timedelta(hours=1))

    campaign = launched(holdout_share="0", send_window_start=start, send_window_end=_clock(now + timedelta(minutes=30)))

    row = AudienceMember.objects.get(campaign=campaign)
    assert row.outcome == Outcome.PENDING
    opens = row.not_before.astimezone(timezone.get_fixed_timezone(0))
    assert _clock(opens) == start
    assert timedelta(hours=22) < opens - now < timedelta(hours=24)
    assert not OutboundMessage.objects.filter(campaign_id=str(campaign.id)).exists()


def test_a_fan_out_batch_redone_after_its_messages_were_queued_queues_and_records_each_once(person, launched, outbox):
    people = [person(consents=("email", "sms")) for _ in range(6)]
    campaign = launched(holdout_share="0", channel_mode="every")
    queued = Event.objects.filter(type="message.queued").count()
    # As if the decisions had been lost but not the messages: every person is pending again.
    AudienceMember.objects.filter(campaign=campaign).update(outcome=Outcome.PENDING, decided_at=None)
    Campaign.objects.filter(id=campaign.id).update(status=Status.RUNNING)

    result = services.campaign_fan_out_batch(campaign_id=campaign.id)

    assert result.taken == 6
    assert Delivery.objects.filter(campaign=campaign).count() == 12
    assert set(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "channel")) == {
        (p, channel) for p in people for channel in ("email", "sms")
    }
    assert OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count() == 12
    assert Event.objects.filter(type="message.queued").count() == queued == 12
    assert set(AudienceMember.objects.filter(campaign=campaign).values_list("outcome", flat=True)) == {Outcome.SENT}


def test_a_snapshot_page_taken_again_adds_nobody_twice_and_keeps_the_holdout(person, launched):
    for _ in range(30):
        person()
    campaign = launched(holdout_share="0.300")
    before = set(AudienceMember.objects.filter(campaign=campaign).values_list("customer_id", "is_holdout"))
    Campaign.objects.filter(id=campaign.id).update(status=Status.RUNNING, snapshot_cursor=None, is_snapshot_done=False)

    services.campaign_snapshot(campaign_id=campaign.id)

    after = set(AudienceMember.objects.filter(campaign=campaign).values_list("customer_id", "is_holdout"))
    assert after == before
    assert len(after) == 30


# --- A message messaging refuses for one person's values: not counted as sent ---------------------------------------

# 180 letters after the name: 201 UCS-2 units (3 segments, the limit) with the longest name the check assumes, 20
# letters outside GSM-7; a name of 20 emoji takes 40 UTF-16 units, and the SMS 4 segments.
SMS_AT_THE_LIMIT = "{name} " + "x" * 180
NO_OFFER = {"offer_code": "", "discount": "", "valid_until": None}


def sms_people():
    return [segment({"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "sms"}]})]


def test_a_message_messaging_refuses_for_a_persons_values_is_not_counted_as_sent(person, launched):
    starry = person(name="🌟" * 20, consents=("sms",))
    plain = person(name="Ana", consents=("sms",))

    campaign = launched(
        segments=sms_people(), channels=["sms"], sms_text=SMS_AT_THE_LIMIT, holdout_share="0", **NO_OFFER
    )

    outcomes = dict(AudienceMember.objects.filter(campaign=campaign).values_list("customer_id", "outcome"))
    assert outcomes == {starry: Outcome.INVALID_CONTENT, plain: Outcome.SENT}
    assert set(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("customer_id", flat=True)) == {
        plain
    }
    completed = Event.objects.get(type="campaign.completed", stream=f"campaign-{campaign.id}")
    assert (completed.data["audience"], completed.data["messages"]) == (2, 1)
    progress = selectors.campaign_launch_progress(campaign_id=campaign.id)
    assert progress["outcomes"] == {Outcome.SENT: 1, Outcome.INVALID_CONTENT: 1}
    assert progress["pending"] == 0


def test_in_every_channel_mode_a_person_is_sent_while_one_of_their_messages_was_queued(person, launched):
    starry = person(name="🌟" * 20, consents=("email", "sms"))

    campaign = launched(
        channels=["email", "sms"], channel_mode="every", sms_text=SMS_AT_THE_LIMIT, holdout_share="0", **NO_OFFER
    )

    assert AudienceMember.objects.get(campaign=campaign, customer_id=starry).outcome == Outcome.SENT
    assert list(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("channel", flat=True)) == [
        "email"
    ]


def test_the_campaign_report_counts_refused_messages_apart_from_sent_ones(person, launched, login):
    from django.urls import reverse

    person(name="🌟" * 20, consents=("sms",))
    person(name="Ana", consents=("sms",))
    campaign = launched(
        segments=sms_people(), channels=["sms"], sms_text=SMS_AT_THE_LIMIT, holdout_share="0", **NO_OFFER
    )

    report = login("marketing").get(f"/api/v1/campaigns/{campaign.id}/report")
    page = login("marketing").get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))

    assert report.status_code == 200, report.content
    assert report.json()["audience"]["outcomes"] == {"sent": 1, "invalid_content": 1}
    assert page.status_code == 200


def test_a_whatsapp_template_parameter_without_a_value_does_not_silently_drop_the_message(
    person, launched, settings, outbox
):
    """Online-only customers have no store and no city: the parameter says something in their language (a blank one
    is refused by messaging), and other channels do not read "en  te espera"."""
    settings.LANGUAGE_CODE = "es"
    spanish = person(consents=("whatsapp", "email"), language="es")
    english = person(consents=("whatsapp", "email"), language="en")
    unset = person(consents=("whatsapp", "email"), language="")

    campaign = launched(
        channels=["whatsapp", "email"],
        channel_mode="every",
        holdout_share="0",
        whatsapp_parameters="{name}\n{store}\n{offer_code}\n{discount}\n{valid_until}",
        email_body="Hola {name}, en {store} ({city}) te espera {product}: {offer_code} {discount} {valid_until}",
    )

    people = dict(OutboundMessage.objects.filter(campaign_id=str(campaign.id)).values_list("id", "customer_id"))
    whatsapp = {people[uuid.UUID(str(m.message_id))]: m.content for m in outbox if m.channel == "whatsapp"}
    email = {people[uuid.UUID(str(m.message_id))]: m.content for m in outbox if m.channel == "email"}
    assert set(whatsapp) == {spanish, english, unset}
    assert whatsapp[spanish]["parameters"][1] == "nuestra tienda online"
    assert whatsapp[unset]["parameters"][1] == "nuestra tienda online"
    assert whatsapp[english]["parameters"][1] == "our online shop"
    assert "en nuestra tienda online (tu ciudad) te espera" in email[spanish]["body"]
    assert "  " not in email[english]["body"]
    assert "()" not in email[english]["body"]
    outcomes = set(AudienceMember.objects.filter(campaign=campaign).values_list("outcome", flat=True))
    assert outcomes == {Outcome.SENT}
