"""The consent ledger: per channel and purpose, withdrawn anywhere holds everywhere at once, and as it was then."""

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from backoffice.eventstore.models import Event
from customers import services
from customers.models import Consent
from customers.selectors import consent_allows, marketing_consent_granted, people_contactable
from tests.factories import ConsentFactory, CustomerFactory, interaction
from tests.openapi import documented_properties

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer_id():
    result = services.interactions_ingest(raw_items=[interaction(customer={"phone": "611222333"})], actor="test")
    return result[0].customer_id


@pytest.fixture
def client(api_client_for):
    return api_client_for("store")


def _post(client, customer_id, **body):
    payload = {
        "channel": "whatsapp",
        "purpose": "marketing",
        "granted": True,
        "source_channel": "web",
        "wording": "Acepto recibir ofertas por WhatsApp",
    } | body
    return client.post(f"/api/v1/customers/{customer_id}/consents", payload, format="json")


def test_revoking_whatsapp_at_the_counter_stops_whatsapp_marketing_but_not_email(client, customer_id):
    granted_at = timezone.now() - timedelta(days=30)
    _post(client, customer_id, occurred_at=granted_at.isoformat())
    _post(client, customer_id, channel="email", occurred_at=granted_at.isoformat())
    before_revocation = timezone.now() - timedelta(minutes=1)

    response = _post(client, customer_id, granted=False, source_channel="store", wording="")

    assert response.status_code == 201
    assert consent_allows(customer_id=customer_id, channel="whatsapp", purpose="marketing") is False
    assert consent_allows(customer_id=customer_id, channel="email", purpose="marketing") is True
    assert consent_allows(customer_id=customer_id, channel="whatsapp", purpose="marketing", at=before_revocation)
    states = {(c["channel"], c["purpose"]): c for c in response.json()["consents"]}
    assert states[("whatsapp", "marketing")]["granted"] is False
    assert states[("whatsapp", "marketing")]["source_channel"] == "store"
    assert [h["granted"] for h in response.json()["history"]] == [True, True, False]


def test_marketing_needs_a_grant_and_service_holds_until_withdrawn(customer_id):
    assert consent_allows(customer_id=customer_id, channel="sms", purpose="marketing") is False
    assert consent_allows(customer_id=customer_id, channel="sms", purpose="service") is True

    ConsentFactory(
        customer_id=customer_id,
        channel="sms",
        purpose="service",
        is_granted=False,
        source_channel="sms",
        wording="STOP",
    )

    assert consent_allows(customer_id=customer_id, channel="sms", purpose="service") is False


def test_a_late_synced_older_grant_does_not_undo_a_newer_withdrawal(customer_id):
    now = timezone.now()
    ConsentFactory(customer_id=customer_id, is_granted=False, source_channel="email", occurred_at=now)

    ConsentFactory(customer_id=customer_id, source_channel="store", occurred_at=now - timedelta(hours=2), actor="till")

    assert consent_allows(customer_id=customer_id, channel="email", purpose="marketing") is False
    assert consent_allows(customer_id=customer_id, channel="email", purpose="marketing", at=now - timedelta(hours=1))


def test_the_wording_shown_and_the_actor_are_kept(client, customer_id):
    _post(client, customer_id, wording="Quiero recibir novedades de la tienda de Valencia")

    history = client.get(f"/api/v1/customers/{customer_id}/consents").json()["history"]

    assert history[0]["wording"] == "Quiero recibir novedades de la tienda de Valencia"
    assert history[0]["actor"] == f"user:{client.user.pk}"


def test_resending_with_the_same_id_records_once(client, customer_id):
    event_id = str(uuid.uuid4())

    _post(client, customer_id, id=event_id)
    _post(client, customer_id, id=event_id)

    assert Event.objects.filter(type="consent.granted").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"purpose": "spam"}, "purpose"),
        ({"granted": "maybe"}, "granted"),
        ({"source_channel": "carrier-pigeon"}, "source_channel"),
        ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),
        ({"occurred_at": (timezone.now() + timedelta(days=3)).isoformat()}, "occurred_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(client, customer_id, body, field):
    count = Event.objects.count()

    response = _post(client, customer_id, **body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert Event.objects.count() == count
    assert not Consent.objects.exists()


def test_an_unknown_customer_is_a_404(client):
    response = _post(client, uuid.uuid4())

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not_found")


def test_marketing_staff_may_read_but_not_change_consents(api_client_for, customer_id):
    marketing = api_client_for("marketing")

    assert marketing.get(f"/api/v1/customers/{customer_id}/consents").status_code == 200
    assert _post(marketing, customer_id).status_code == 403


def test_the_ledger_rebuilds_to_the_same_state(customer_id):
    now = timezone.now()
    for hours, granted in ((5, True), (3, False), (1, True)):
        ConsentFactory(
            customer_id=customer_id,
            channel="push",
            is_granted=granted,
            source_channel="app",
            occurred_at=now - timedelta(hours=hours),
        )
    live = list(
        Consent.objects.values_list("customer_id", "channel", "purpose", "is_granted", "changed_at", "position")
    )

    call_command("rebuild_projections", "customers.consents", verbosity=0)

    assert (
        list(Consent.objects.values_list("customer_id", "channel", "purpose", "is_granted", "changed_at", "position"))
        == live
    )


@pytest.mark.parametrize(
    ("granted_on", "withdrawn_later_on"),
    [("survivor", "merged"), ("merged", "survivor"), ("merged", None), ("survivor", None)],
)
def test_the_audience_consent_filter_answers_for_the_whole_person_as_consent_allows_does(
    granted_on, withdrawn_later_on
):
    survivor, merged = CustomerFactory(email="ana@example.es"), CustomerFactory(email="ana.app@example.es")
    profiles = {"survivor": survivor.id, "merged": merged.id}
    now = timezone.now()
    ConsentFactory(customer_id=profiles[granted_on], occurred_at=now - timedelta(days=10))
    if withdrawn_later_on:
        ConsentFactory(customer_id=profiles[withdrawn_later_on], is_granted=False, occurred_at=now - timedelta(days=1))
    services.customer_merge(customer_ids=(survivor.id, merged.id), into=survivor.id, actor="t")

    granted = people_contactable().filter(marketing_consent_granted(channel="email"))

    allowed = withdrawn_later_on is None
    assert consent_allows(customer_id=survivor.id, channel="email", purpose="marketing") is allowed
    assert set(granted.values_list("id", flat=True)) == ({survivor.id} if allowed else set())


def test_nobody_grants_a_consent_for_an_erased_customer_and_a_withdrawal_still_lands(client, api_client_for):
    ana = CustomerFactory(email="ana@example.es").id
    assert api_client_for("admin").post(f"/api/v1/customers/{ana}/erase").status_code == 200
    before = Event.objects.count()
    body = {"channel": "email", "purpose": "marketing", "source_channel": "web", "wording": "Sí"}

    granted = client.post(f"/api/v1/customers/{ana}/consents", {**body, "granted": True}, format="json")

    assert (granted.status_code, granted.json()["type"].rsplit("/", 1)[-1]) == (409, "customer_erased")
    assert Event.objects.count() == before
    assert not Consent.objects.filter(customer_id=ana).exists()
    # A withdrawal only restricts (a provider's unsubscribe for an old message of theirs): recorded.
    withdrawn = client.post(f"/api/v1/customers/{ana}/consents", {**body, "granted": False}, format="json")
    assert withdrawn.status_code == 201


@pytest.fixture
def merged_pair():
    """(survivor, merged): two profiles of one person, the younger merged into the older."""
    survivor, merged = CustomerFactory(email="sara@example.es").id, CustomerFactory(email="sara.app@example.es").id
    return survivor, merged


@pytest.mark.parametrize("resent_to", ["merged", "survivor"])
def test_a_consent_change_resent_with_its_id_after_a_merge_is_recorded_once_not_a_conflict(
    client, merged_pair, resent_to
):
    survivor, merged = merged_pair
    event_id = str(uuid.uuid4())
    assert _post(client, merged, id=event_id).status_code == 201
    services.customer_merge(customer_ids=(survivor, merged), into=survivor, actor="t")
    before = Event.objects.count()

    resent = _post(client, {"merged": merged, "survivor": survivor}[resent_to], id=event_id)

    assert resent.status_code == 201
    assert Event.objects.count() == before
    assert [h["id"] for h in resent.json()["history"]] == [event_id]
    assert resent.json()["customer_id"] == str(survivor)
    assert consent_allows(customer_id=survivor, channel="whatsapp", purpose="marketing") is True


@pytest.mark.parametrize(
    "other",
    [{"granted": False}, {"channel": "email"}, {"wording": "Otra cosa"}, {"source_channel": "store"}],
    ids=["withdrawal", "channel", "wording", "source_channel"],
)
def test_a_consent_id_resent_after_a_merge_with_other_content_is_a_409_and_writes_nothing(client, merged_pair, other):
    survivor, merged = merged_pair
    event_id = str(uuid.uuid4())
    _post(client, merged, id=event_id)
    services.customer_merge(customer_ids=(survivor, merged), into=survivor, actor="t")
    before = Event.objects.count()

    resent = _post(client, survivor, id=event_id, **other)

    assert (resent.status_code, resent.json()["type"].rsplit("/", 1)[-1]) == (409, "idempotency_conflict")
    assert Event.objects.count() == before
    assert consent_allows(customer_id=survivor, channel="whatsapp", purpose="marketing") is True


def test_a_consent_id_used_for_another_person_is_a_409_and_writes_nothing(client, customer_id):
    event_id = str(uuid.uuid4())
    _post(client, customer_id, id=event_id)
    someone_else = CustomerFactory(email="otra@example.es").id
    before = Event.objects.count()

    resent = _post(client, someone_else, id=event_id)

    assert (resent.status_code, resent.json()["type"].rsplit("/", 1)[-1]) == (409, "idempotency_conflict")
    assert Event.objects.count() == before
    assert not Consent.objects.filter(customer_id=someone_else).exists()


def test_a_provider_unsubscribe_delivered_again_after_a_merge_withdraws_once(merged_pair):
    survivor, merged = merged_pair
    cause = uuid.uuid4()
    first = services.consents.consent_revoke_on_unsubscribe(
        customer_id=merged, channel="email", occurred_at=None, cause_id=cause
    )
    services.customer_merge(customer_ids=(survivor, merged), into=survivor, actor="t")

    again = services.consents.consent_revoke_on_unsubscribe(
        customer_id=merged, channel="email", occurred_at=None, cause_id=cause
    )

    assert again == first
    assert Event.objects.filter(type="consent.revoked").count() == 1


@pytest.mark.parametrize(("method", "status"), [("get", "200"), ("post", "201")])
def test_the_schema_documents_the_consent_ledger_answer(openapi_schema, api_client_for, method, status):
    customer = CustomerFactory()
    ConsentFactory(customer_id=customer.id)
    answer = api_client_for("support").get(f"/api/v1/customers/{customer.id}/consents").json()

    documented = documented_properties(openapi_schema, "/api/v1/customers/{customer_id}/consents", method, status)

    assert set(answer) <= documented, f"undocumented: {sorted(set(answer) - documented)}"
