"""Identity resolution across channels, automatic and manual merges, and unmerge."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from customers import selectors, services
from customers.models import Consent, Customer, CustomerIdentifier
from customers.reachability import RecipientPolicy
from customers.services.inbound import inbound_message_receive
from tests.factories import ConsentFactory, interaction

pytestmark = pytest.mark.django_db
START = datetime.fromisoformat("2026-11-01T09:00:00+01:00")


def _at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def _visit(minutes: int, customer: dict, *, channel="web", type_="page.viewed", data=None) -> dict:
    return interaction(
        id=str(uuid.uuid4()),
        type=type_,
        channel=channel,
        occurred_at=_at(minutes),
        customer=customer,
        data=data if data is not None else {"url": f"/p/{minutes}"},
    )


def _ingest(*items) -> list[uuid.UUID]:
    return [r.customer_id for r in services.interactions_ingest(raw_items=list(items), actor="test")]


@pytest.fixture
def support(api_client_for):
    return api_client_for("support")


def test_web_whatsapp_and_the_till_end_as_one_customer_with_one_timeline(support):
    (web,) = _ingest(_visit(0, {"email": "Ana@Example.es "}))
    (whatsapp,) = _ingest(
        _visit(10, {"phone": "600 111 222"}, channel="whatsapp", type_="message.received", data={"text": "Hola"})
    )
    (till_card,) = _ingest(
        _visit(20, {"loyalty_card": "LC-7"}, channel="store", type_="store.visited", data={"location": "VLC-01"})
    )
    # The till then asks for the phone: the card and the WhatsApp number are one person.
    (till_phone,) = _ingest(
        _visit(
            30,
            {"loyalty_card": "LC-7", "phone": "+34 600 111 222"},
            channel="store",
            type_="store.visited",
            data={"location": "VLC-01"},
        )
    )
    # At checkout on the web Ana gives her email and her phone: the web visitor is that person too.
    (checkout,) = _ingest(_visit(40, {"email": "ana@example.es", "phone": "600111222"}))

    assert len({web, whatsapp, till_card}) == 3
    assert till_phone == whatsapp
    assert checkout == web
    for customer_id in (whatsapp, till_card):
        assert support.get(f"/api/v1/customers/{customer_id}").json()["merged_into"] == str(web)
    timeline = support.get(f"/api/v1/customers/{web}/timeline").json()["results"]
    interactions = [e for e in timeline if not e["type"].startswith("customer.")]
    assert [(e["channel"], e["occurred_at"][11:16]) for e in reversed(interactions)] == [
        ("web", "09:00"),
        ("whatsapp", "09:10"),
        ("store", "09:20"),
        ("store", "09:30"),
        ("web", "09:40"),
    ]
    projector.catch_up_all()
    view = support.get(f"/api/v1/customers/{web}").json()
    assert {(i["kind"], i["value"]) for i in view["identifiers"]} == {
        ("email", "ana@example.es"),
        ("phone", "+34600111222"),
        ("loyalty_card", "LC-7"),
    }
    assert set(view["merged_from"]) == {str(whatsapp), str(till_card)}
    assert view["channels_used"] == ["store", "web", "whatsapp"]
    for query in ("LC-7", "600111222", "ana@example.es"):
        assert [c["id"] for c in support.get("/api/v1/customers", {"q": query}).json()["results"]] == [str(web)]


def test_an_automatic_merge_records_its_evidence_and_keeps_the_older_customer():
    (older,) = _ingest(_visit(0, {"email": "luis@example.es"}))
    (younger,) = _ingest(_visit(5, {"phone": "611222333"}))

    (both,) = _ingest(_visit(9, {"email": "luis@example.es", "phone": "611222333"}))

    assert both == older
    merge = Event.objects.get(type="customer.merged")
    assert merge.customer_id == older
    assert merge.stream == f"customer-{older}"
    events = selectors.customer_timeline(customer_id=older, type="customer.merged")
    assert events[0].data["merged"] == str(younger)
    assert events[0].data["evidence"]["reason"] == "automatic"
    assert events[0].data["evidence"]["identifier_kinds"] == ["phone"]


def test_an_anonymous_visitor_is_stitched_to_the_customer_who_logs_in():
    (anonymous,) = _ingest(_visit(0, {"anonymous_id": "web-77"}), _visit(1, {"anonymous_id": "web-77"}))[:1]
    (known,) = _ingest(_visit(2, {"email": "eva@example.es"}))

    (after_login,) = _ingest(_visit(3, {"email": "eva@example.es", "anonymous_id": "web-77"}))

    survivor = min((anonymous, known), key=lambda cid: Customer.objects.get(id=cid).registered_at)
    assert after_login == survivor
    timeline = selectors.customer_timeline(customer_id=survivor)
    assert [e.occurred_at.minute for e in timeline if e.type == "page.viewed"] == [3, 2, 1, 0]


@pytest.mark.parametrize("ben_seen_before", [True, False], ids=["ben_known", "ben_never_seen"])
def test_a_shared_anonymous_id_does_not_merge_two_identified_people(ben_seen_before):
    (ana,) = _ingest(_visit(0, {"email": "ana@example.es", "anonymous_id": "tablet-1"}))
    ben = _ingest(_visit(1, {"email": "ben@example.es"}))[0] if ben_seen_before else None

    (resolved,) = _ingest(_visit(2, {"email": "ben@example.es", "anonymous_id": "tablet-1"}))

    assert resolved != ana
    if ben_seen_before:
        assert resolved == ben
    assert not Event.objects.filter(type="customer.merged").exists()
    assert Customer.objects.get(id=ana).merged_into_id is None
    # Ana keeps exactly her identifiers (her messages still go to her address); the tablet's id stays hers.
    assert set(CustomerIdentifier.objects.filter(customer_id=ana).values_list("key", flat=True)) == {
        "email:ana@example.es",
        "anonymous_id:tablet-1",
    }
    assert RecipientPolicy().address(ana, "email") == "ana@example.es"
    assert set(CustomerIdentifier.objects.filter(customer_id=resolved).values_list("key", flat=True)) == {
        "email:ben@example.es"
    }


def test_a_newcomer_on_a_device_known_only_anonymously_is_stitched_to_it():
    (anonymous,) = _ingest(_visit(0, {"anonymous_id": "tablet-2"}))

    (resolved,) = _ingest(_visit(1, {"email": "ben@example.es", "anonymous_id": "tablet-2"}))

    assert resolved == anonymous
    assert CustomerIdentifier.objects.get(key="email:ben@example.es").customer_id == anonymous


def test_a_consent_given_before_a_merge_holds_for_the_person():
    (email_customer,) = _ingest(_visit(0, {"email": "sara@example.es"}))
    (phone_customer,) = _ingest(_visit(5, {"phone": "622333444"}, channel="whatsapp"))
    ConsentFactory(customer_id=phone_customer, channel="whatsapp", source_channel="whatsapp")

    _ingest(_visit(9, {"email": "sara@example.es", "phone": "622333444"}))

    assert selectors.consent_allows(customer_id=email_customer, channel="whatsapp", purpose="marketing")
    assert selectors.consent_allows(customer_id=phone_customer, channel="whatsapp", purpose="marketing")


@pytest.mark.parametrize("withdrawn_by", ["stop_from_the_merged_phone", "staff_on_the_survivor"])
def test_a_withdrawal_made_while_merged_still_holds_for_both_after_unmerge(withdrawn_by):
    (a,) = _ingest(_visit(0, {"email": "sara@example.es"}))
    (b,) = _ingest(_visit(5, {"phone": "622333444"}, channel="whatsapp"))
    ConsentFactory(customer_id=b, channel="whatsapp", source_channel="whatsapp")
    services.customer_merge(customer_ids=(a, b), actor="t")
    if withdrawn_by == "stop_from_the_merged_phone":
        inbound_message_receive(
            channel="whatsapp",
            payload={"provider_message_id": "wamid-1", "from": "+34622333444", "text": "STOP"},
            actor="webhook:whatsapp",
        )
    else:
        ConsentFactory(customer_id=a, channel="whatsapp", is_granted=False, source_channel="store")
    # A grant given while merged stays with the customer it was recorded on: consent is given by each, explicitly.
    ConsentFactory(customer_id=a, channel="email", source_channel="web")

    services.customer_unmerge(customer_id=b, actor="t")

    for customer_id in (a, b):
        assert not selectors.consent_allows(customer_id=customer_id, channel="whatsapp", purpose="marketing")
    assert not RecipientPolicy().allows(b, "whatsapp", "marketing", timezone.now())
    assert selectors.consent_allows(customer_id=a, channel="email", purpose="marketing")
    assert not selectors.consent_allows(customer_id=b, channel="email", purpose="marketing")


def test_a_name_is_kept_and_found_by_search(support):
    (customer,) = _ingest(_visit(0, {"email": "marta@example.es", "name": "Marta Ruiz Gómez"}))

    results = support.get("/api/v1/customers", {"q": "ruiz marta"}).json()["results"]

    assert [c["id"] for c in results] == [str(customer)]
    assert support.get(f"/api/v1/customers/{customer}").json()["name"] == "Marta Ruiz Gómez"


def _snapshot(customer_id: uuid.UUID) -> dict:
    """What a customer holds on its own: identifiers, consents, events (merge bookkeeping aside)."""
    return {
        "identifiers": sorted(CustomerIdentifier.objects.filter(customer_id=customer_id).values_list("key", flat=True)),
        "consents": sorted(Consent.objects.filter(customer_id=customer_id).values_list("channel", "is_granted")),
        "events": sorted(
            str(e.id)
            for e in selectors.customer_timeline(customer_id=customer_id, limit=1000)
            if e.type not in ("customer.merged", "customer.unmerged")
        ),
        "merged_into": Customer.objects.get(id=customer_id).merged_into_id,
    }


def test_merge_then_unmerge_restores_both_customers_exactly(support):
    (first,) = _ingest(_visit(0, {"email": "pablo@example.es", "loyalty_card": "LC-9"}))
    (second,) = _ingest(_visit(5, {"email": "p.garcia@example.es"}, channel="app"))
    ConsentFactory(customer_id=second, source_channel="app", actor="t")
    before = {cid: _snapshot(cid) for cid in (first, second)}

    merged = support.post("/api/v1/customers/merge", {"customer_ids": [str(second), str(first)]})
    assert merged.status_code == 200
    assert merged.json()["id"] == str(first)
    assert {i["value"] for i in merged.json()["identifiers"]} == {"pablo@example.es", "LC-9", "p.garcia@example.es"}
    assert [c["channel"] for c in merged.json()["consents"]] == ["email"]

    undone = support.post(f"/api/v1/customers/{second}/unmerge", {"reason": "two brothers"})

    assert undone.status_code == 200
    assert undone.json()["customer"]["id"] == str(second)
    assert {cid: _snapshot(cid) for cid in (first, second)} == before
    assert support.get(f"/api/v1/customers/{second}").json()["merged_into"] is None
    assert not selectors.consent_allows(customer_id=first, channel="email", purpose="marketing")


def test_projections_rebuilt_from_the_log_match_after_merges_and_unmerges(support):
    (first,) = _ingest(_visit(0, {"email": "irene@example.es"}))
    (second,) = _ingest(_visit(1, {"phone": "633444555"}))
    (third,) = _ingest(_visit(2, {"loyalty_card": "LC-3"}))
    _ingest(_visit(3, {"email": "irene@example.es", "phone": "633444555"}))
    support.post("/api/v1/customers/merge", {"customer_ids": [str(third), str(first)]})
    support.post(f"/api/v1/customers/{second}/unmerge")
    rows = lambda: sorted(Customer.objects.values_list("id", "merged_into_id", "display_name"))  # noqa: E731
    keys = lambda: sorted(CustomerIdentifier.objects.values_list("key", "customer_id"))  # noqa: E731
    live = (rows(), keys())

    projector.rebuild(["customers.directory"])

    assert (rows(), keys()) == live
    assert dict((cid, into) for cid, into, _ in live[0]) == {first: None, second: None, third: first}


def test_as_of_shows_the_person_as_they_were_made_up_then(support):
    (first,) = _ingest(_visit(0, {"email": "nora@example.es"}))
    (second,) = _ingest(_visit(10, {"phone": "644555666"}))
    _ingest(_visit(20, {"email": "nora@example.es", "phone": "644555666"}))

    before = support.get(f"/api/v1/customers/{first}", {"as_of": _at(15)}).json()
    after = support.get(f"/api/v1/customers/{first}", {"as_of": _at(25)}).json()

    assert before["merged_from"] == []
    assert [i["kind"] for i in before["identifiers"]] == ["email"]
    assert after["merged_from"] == [str(second)]
    assert {i["kind"] for i in after["identifiers"]} == {"email", "phone"}


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"customer_ids": ["{a}", "{a}"]}, "customer_ids", "same_customer"),
        ({"customer_ids": ["{a}", str(uuid.UUID(int=7))]}, "customer_ids.1", "not_found"),
        ({"customer_ids": ["{a}", "{b}"], "into": str(uuid.UUID(int=7))}, "into", "not_in_merge"),
        ({"customer_ids": ["{a}"]}, "customer_ids", None),
        ({"customer_ids": ["{a}", "not-a-uuid"]}, "customer_ids.1", None),
    ],
)
def test_a_bad_merge_is_a_400_naming_the_field_and_writes_nothing(support, body, field, code):
    (a,) = _ingest(_visit(0, {"email": "a@example.es"}))
    (b,) = _ingest(_visit(1, {"email": "b@example.es"}))
    body = {k: [v.format(a=a, b=b) for v in vs] if isinstance(vs, list) else vs for k, vs in body.items()}
    events_before = Event.objects.count()

    response = support.post("/api/v1/customers/merge", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    if code:
        assert response.json()["errors"][0]["code"] == code
    assert Event.objects.count() == events_before
    assert not Customer.objects.exclude(merged_into=None).exists()


def test_merging_customers_who_are_already_one_person_is_a_409(support):
    (a,) = _ingest(_visit(0, {"email": "c@example.es"}))
    (b,) = _ingest(_visit(1, {"phone": "655666777"}))
    support.post("/api/v1/customers/merge", {"customer_ids": [str(a), str(b)]})
    events_before = Event.objects.count()

    response = support.post("/api/v1/customers/merge", {"customer_ids": [str(b), str(a)]})

    assert response.status_code == 409
    assert response.json()["type"].endswith("already_merged")
    assert Event.objects.count() == events_before


def test_unmerging_a_customer_that_is_not_merged_is_a_409_and_an_unknown_one_a_404(support):
    (a,) = _ingest(_visit(0, {"email": "d@example.es"}))
    events_before = Event.objects.count()

    assert support.post(f"/api/v1/customers/{a}/unmerge").status_code == 409
    assert support.post(f"/api/v1/customers/{uuid.UUID(int=9)}/unmerge").status_code == 404
    assert Event.objects.count() == events_before


def test_an_erased_customer_cannot_be_merged(support):
    (a,) = _ingest(_visit(0, {"email": "e@example.es"}))
    (b,) = _ingest(_visit(1, {"email": "f@example.es"}))
    services.customer_erase(customer_id=b, actor="test")
    events_before = Event.objects.count()

    response = support.post("/api/v1/customers/merge", {"customer_ids": [str(a), str(b)]})

    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "customer_ids.1"
    assert Event.objects.count() == events_before


def test_store_staff_may_not_merge(api_client_for):
    (a,) = _ingest(_visit(0, {"email": "g@example.es"}))
    (b,) = _ingest(_visit(1, {"email": "h@example.es"}))

    response = api_client_for("store").post("/api/v1/customers/merge", {"customer_ids": [str(a), str(b)]})

    assert response.status_code == 403
    assert Customer.objects.get(id=b).merged_into_id is None


def test_merged_into_answers_whether_a_customer_exists_and_whom_it_was_merged_into():
    (older,) = _ingest(_visit(0, {"email": "luis@example.es"}))
    (younger,) = _ingest(_visit(5, {"phone": "611222333"}))
    _ingest(_visit(9, {"email": "luis@example.es", "phone": "611222333"}))

    assert selectors.customer_merged_into(customer_id=younger) == (True, older)
    assert selectors.customer_merged_into(customer_id=older) == (True, None)
    assert selectors.customer_merged_into(customer_id=uuid.uuid4()) == (False, None)


def test_what_is_typed_at_the_till_is_a_known_card_before_a_known_phone_with_the_same_digits():
    """Card numbers can read as phone numbers: when one person's phone and another's card are the same digits,
    the card is meant (identifier_kind's rule), whichever was registered first."""
    from customers.selectors import identifier_kind
    from customers.services.ingestion import customer_register

    customer_register(customer={"phone": "600111222"}, channel="web", actor="test")
    customer_register(customer={"loyalty_card": "600111222"}, channel="store", actor="test")

    assert identifier_kind(text="600111222") == "loyalty_card"
    assert identifier_kind(text="611000999") == "phone"  # nobody's: a phone number


def test_the_figures_and_identifiers_of_people_count_a_chain_of_merges_for_every_id_above_each_customer():
    (a,) = _ingest(_visit(0, {"email": "a@example.es"}))
    (b,) = _ingest(_visit(5, {"email": "b@example.es"}, channel="app"))
    (c,) = _ingest(_visit(9, {"email": "c@example.es"}, channel="whatsapp"))
    services.customer_merge(customer_ids=(b, c), into=b, actor="t")
    services.customer_merge(customer_ids=(a, b), into=a, actor="t")
    projector.catch_up_all()

    # Asked for the person and for a customer two merges down it (as the admin's list of customers does).
    figures = selectors.people_figures(owner_ids={a, c})
    identifiers = selectors.people_identifiers(owner_ids={a, c})

    assert figures[a].channels_used == ("app", "web", "whatsapp")
    assert figures[a].interaction_count == selectors.customer_360(customer_id=a)["interaction_count"]
    assert figures[c].channels_used == ("whatsapp",)
    assert {i.value for i in identifiers[a]} == {"a@example.es", "b@example.es", "c@example.es"}
    assert [i.value for i in identifiers[c]] == ["c@example.es"]
