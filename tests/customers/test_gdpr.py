"""GDPR: erasure leaves no personal data anywhere while the events still count; export hands out all we hold."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from backoffice.eventstore import keys, projector, store
from backoffice.eventstore.models import CustomerKey, Event
from backoffice.messaging.models import OutboundMessage
from backoffice.messaging.services import messages_drain
from customers import services
from customers.models import Case, ChannelActivityDaily, Consent, Customer, CustomerIdentifier
from customers.services import cases as case_services
from customers.services.inbound import inbound_message_receive
from tests.concurrency import at_once
from tests.customers.projection_rows import customer_projection_rows
from tests.factories import ConsentFactory, interaction

pytestmark = pytest.mark.django_db

ANA_EMAIL, ANA_PHONE = "ana@example.es", "+34600111222"
ANA_SECRETS = (
    ANA_EMAIL,
    ANA_PHONE,
    "600111222",
    "LC-0001",
    "¿Llega mañana mi pedido?",
    "vestido rojo talla 38",
    "Beltrán",
    "La cremallera está rota",
    "Le enviamos otra cremallera",
)


def _ingest(*items):
    return services.interactions_ingest(raw_items=list(items), actor="test")


@pytest.fixture
def ana():
    """Ana: a cart on the web, a WhatsApp message, a search and a loyalty card at the till; a consent."""
    results = _ingest(
        interaction(customer={"email": ANA_EMAIL, "phone": ANA_PHONE, "name": "Ana Beltrán"}),
        interaction(
            type="message.received",
            channel="whatsapp",
            customer={"phone": "600 111 222"},
            data={"text": "¿Llega mañana mi pedido?"},
        ),
        interaction(type="search.performed", customer={"email": ANA_EMAIL}, data={"query": "vestido rojo talla 38"}),
        interaction(
            type="store.visited",
            channel="store",
            customer={"loyalty_card": "LC-0001", "phone": ANA_PHONE},
            data={"location": "VLC-01"},
        ),
    )
    customer_id = results[0].customer_id
    assert {r.customer_id for r in results} == {customer_id}
    ConsentFactory(
        customer_id=customer_id, channel="whatsapp", source_channel="store", wording="Acepto ofertas por WhatsApp"
    )
    case = case_services.case_open(
        customer_id=customer_id, channel="phone", subject="Cremallera", text="La cremallera está rota", actor="test"
    )
    case_services.case_reply(case_id=case.id, channel="email", text="Le enviamos otra cremallera", actor="test")
    messages_drain()
    projector.catch_up_all()
    return customer_id


@pytest.fixture
def luis():
    results = _ingest(
        interaction(id=str(uuid.uuid4()), channel="app", customer={"email": "luis@example.es", "phone": "611222333"})
    )
    projector.catch_up_all()
    return results[0].customer_id


@pytest.fixture
def client(api_client_for):
    return api_client_for("support")


def _erase(customer_id):
    erasure = services.customer_erase(customer_id=customer_id, actor="user:1")
    projector.catch_up_all()
    return erasure


def _every_row_as_text() -> str:
    """Every row of every table, as text: what a dump of the database would show."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected names
            rows.extend(str(row) for row in cursor.fetchall())
    return "\n".join(rows)


def _snapshot():
    consents = Consent.objects.values_list("customer_id", "channel", "purpose", "is_granted", "wording", "changed_at")
    return customer_projection_rows("merged_into_id", "erased_at") | {"consents": sorted(consents)}


def test_after_erasure_no_table_holds_the_customers_personal_data_in_clear(ana, luis):
    before = _every_row_as_text()
    assert "luis@example.es" in before
    assert ANA_EMAIL in before  # the search below can find what it looks for

    _erase(ana)

    after = _every_row_as_text()
    assert [secret for secret in ANA_SECRETS if secret in after] == []
    assert "luis@example.es" in after
    assert "Acepto ofertas por WhatsApp" in after  # the wording shown is the shop's text, not Ana's


def test_an_opt_out_message_leaves_nothing_of_its_text_in_clear_after_erasure(client):
    # The provider classified it as an opt-out (Twilio's OptOutType): the words are the customer's own.
    text = "Soy Ana Beltrán, DNI 12345678Z: dejad de escribirme"
    stopped = inbound_message_receive(
        channel="sms",
        payload={"provider_message_id": "SM-1", "from": ANA_PHONE, "text": text, "is_opt_out": True},
        actor="webhook:sms",
    )
    assert stopped.action == "unsubscribed"

    _erase(stopped.customer_id)

    assert "12345678Z" not in _every_row_as_text()
    consents = client.get(f"/api/v1/customers/{stopped.customer_id}/consents").json()
    assert [(c["channel"], c["granted"]) for c in consents["consents"]] == [("sms", False)]
    assert ["12345678Z" in c["wording"] for c in consents["consents"] + consents["history"]] == [False, False]


def test_erasure_answers_with_the_id_and_time_and_is_recorded_with_the_staff_user(client, ana):
    response = client.post(f"/api/v1/customers/{ana}/erase")

    assert response.status_code == 200
    customer = Customer.objects.get(id=ana)
    assert response.json() == {"id": str(ana), "erased_at": response.json()["erased_at"]}
    assert customer.erased_at is not None
    erased = Event.objects.get(type="customer.erased")
    assert erased.stream == f"customer-{ana}"
    assert erased.data == {"customer_id": str(ana)}
    assert erased.metadata["actor"] == f"user:{client.user.pk}"
    assert keys.is_key_destroyed(ana)
    assert not CustomerIdentifier.objects.filter(customer_id=ana).exists()


def test_the_events_their_amounts_channels_and_times_remain_and_still_count(ana):
    before = {e.id: e for e in store.read_customer(ana)}
    activity = Customer.objects.values_list("interaction_count", "last_interaction_at", "channels_used").get(id=ana)
    daily = sorted(ChannelActivityDaily.objects.values_list("day", "channel", "type", "count"))

    _erase(ana)

    after = {e.id: e for e in store.read_customer(ana) if e.type != "customer.erased"}
    assert after.keys() == before.keys()
    cart = next(e for e in after.values() if e.type == "cart.item_added")
    assert (cart.data["unit_price"], cart.data["quantity"], cart.channel) == ("19.90", 1, "web")
    assert cart.occurred_at == before[cart.id].occurred_at
    assert [e.data["text"] for e in after.values() if e.type == "message.received"] == [keys.ERASED]
    assert Customer.objects.values_list("interaction_count", "last_interaction_at", "channels_used").get(id=ana) == (
        activity
    )
    assert sorted(ChannelActivityDaily.objects.values_list("day", "channel", "type", "count")) == daily


def test_a_rebuild_after_erasures_gives_the_same_rows_and_brings_nothing_back(ana, luis):
    _erase(ana)
    _erase(luis)  # two erased customers' "[erased]" identifiers must not collide on a rebuild
    live = _snapshot()

    call_command("rebuild_projections", verbosity=0)

    assert _snapshot() == live
    assert not CustomerIdentifier.objects.filter(customer_id__in=[ana, luis]).exists()
    assert Customer.objects.filter(id__in=[ana, luis], erased_at__isnull=False).count() == 2
    assert [secret for secret in ANA_SECRETS if secret in _every_row_as_text()] == []


def test_erasure_closes_the_customers_open_cases_without_text_or_survey(ana):
    (case,) = Case.objects.filter(customer_id=ana)
    assert case.status == "open"
    surveys = OutboundMessage.objects.filter(idempotency_key__startswith="case-csat-")

    _erase(ana)

    case.refresh_from_db()
    assert (case.status, case.resolution, case.compensation["kind"]) == ("resolved", "", "none")
    closing = Event.objects.get(stream=f"case-{case.id}", type="case.resolved")
    assert closing.data["closed_because"] == "customer_erased"
    assert closing.position < Event.objects.get(stream=f"customer-{ana}", type="customer.erased").position
    assert not surveys.exists()
    # Nothing can be added to it afterwards: the staff pages and the API say the customer was erased.
    with pytest.raises(case_services.CaseRefused) as refused:
        case_services.case_reply(case_id=case.id, channel="phone", text="Le llamamos", actor="test")
    assert (refused.value.code, refused.value.status) == ("erased", 409)


def test_erasing_twice_is_a_409_and_writes_nothing(client, ana):
    client.post(f"/api/v1/customers/{ana}/erase")
    events, key = Event.objects.count(), CustomerKey.objects.values().get(customer_id=ana)

    response = client.post(f"/api/v1/customers/{ana}/erase")

    assert response.status_code == 409
    assert response.json()["type"].endswith("/already_erased")
    assert response.json()["status"] == 409
    assert Event.objects.count() == events
    assert CustomerKey.objects.values().get(customer_id=ana) == key


def test_erasing_or_exporting_an_unknown_customer_is_a_404_and_writes_nothing(client):
    unknown = uuid.uuid4()

    erase = client.post(f"/api/v1/customers/{unknown}/erase")
    export = client.get(f"/api/v1/customers/{unknown}/export")

    assert (erase.status_code, export.status_code) == (404, 404)
    assert erase.json()["type"].endswith("/not_found")
    assert not Event.objects.exists()
    assert not CustomerKey.objects.filter(customer_id=unknown).exists()


@pytest.mark.parametrize("role", ["marketing", "store", "integration"])
def test_staff_who_do_not_answer_gdpr_requests_may_neither_erase_nor_export(api_client_for, ana, role):
    other = api_client_for(role)

    assert other.post(f"/api/v1/customers/{ana}/erase").status_code == 403
    assert other.get(f"/api/v1/customers/{ana}/export").status_code == 403
    assert Customer.objects.get(id=ana).erased_at is None


@pytest.mark.parametrize("role", ["admin", "support"])
def test_admin_and_support_staff_may_erase_and_export(api_client_for, ana, role):
    staff = api_client_for(role)

    assert staff.get(f"/api/v1/customers/{ana}/export").status_code == 200
    assert staff.post(f"/api/v1/customers/{ana}/erase").status_code == 200


def test_the_export_of_a_live_customer_holds_their_identifiers_consents_and_events_decrypted(client, ana):
    held = [str(e.id) for e in store.read_customer(ana)]

    body = client.get(f"/api/v1/customers/{ana}/export").json()

    assert body["id"] == str(ana)
    assert body["erased"] is False
    assert {(i["kind"], i["value"]) for i in body["identifiers"]} == {
        ("email", ANA_EMAIL),
        ("phone", ANA_PHONE),
        ("loyalty_card", "LC-0001"),
    }
    assert [(c["channel"], c["purpose"], c["granted"], c["wording"]) for c in body["consents"]] == [
        ("whatsapp", "marketing", True, "Acepto ofertas por WhatsApp")
    ]
    assert [(h["granted"], h["source_channel"]) for h in body["consent_history"]] == [(True, "store")]
    assert [e["id"] for e in body["events"]] == held
    texts = {e["type"]: e["data"] for e in body["events"]}
    assert texts["message.received"]["text"] == "¿Llega mañana mi pedido?"
    assert texts["search.performed"]["query"] == "vestido rojo talla 38"
    assert texts["cart.item_added"]["unit_price"] == "19.90"
    assert body["profile"]["acquisition_channel"] == "web"


def test_an_export_is_recorded_with_the_staff_user_and_is_not_an_interaction(client, ana):
    activity = Customer.objects.values_list("interaction_count", "last_interaction_at").get(id=ana)

    client.get(f"/api/v1/customers/{ana}/export")
    projector.catch_up_all()

    exported = Event.objects.get(type="customer.exported")
    assert (exported.stream, exported.customer_id) == (f"customer-{ana}", ana)
    assert exported.metadata["actor"] == f"user:{client.user.pk}"
    assert Customer.objects.values_list("interaction_count", "last_interaction_at").get(id=ana) == activity


def test_the_export_of_an_erased_customer_says_erased_and_holds_nothing_personal(client, ana):
    _erase(ana)

    response = client.get(f"/api/v1/customers/{ana}/export")

    assert response.status_code == 200
    body = response.json()
    assert body["erased"] is True
    assert body["erased_at"]
    assert [secret for secret in ANA_SECRETS if secret in response.content.decode()] == []
    assert Event.objects.filter(type="customer.exported", customer_id=ana).count() == 1


def test_the_timeline_of_an_erased_customer_shows_erased_for_personal_fields(client, ana):
    _erase(ana)

    response = client.get(f"/api/v1/customers/{ana}/timeline", {"limit": 200})

    events = {e["type"]: e for e in response.json()["results"]}
    assert events["customer.registered"]["data"]["identifiers"] == keys.ERASED
    assert events["message.received"]["data"]["text"] == keys.ERASED
    assert events["search.performed"]["data"]["query"] == keys.ERASED
    assert events["cart.item_added"]["data"]["unit_price"] == "19.90"
    assert events["customer.erased"]["data"] == {"customer_id": str(ana)}
    assert [secret for secret in ANA_SECRETS if secret in response.content.decode()] == []


def test_the_360_view_and_the_admin_of_an_erased_customer_show_nothing_personal(client, ana, staff_user):
    _erase(ana)
    client_view = client.get(f"/api/v1/customers/{ana}")
    admin = Client()
    admin.force_login(staff_user("support"))
    admin_page = admin.get(f"/admin/customers/customer/{ana}/change/")

    assert client_view.status_code == admin_page.status_code == 200
    assert client_view.json()["identifiers"] == []
    for text in (client_view.content.decode(), admin_page.content.decode()):
        assert [secret for secret in ANA_SECRETS if secret in text] == []


def test_the_same_email_arriving_after_erasure_registers_a_new_customer(client, ana):
    _erase(ana)

    later = _ingest(interaction(id=str(uuid.uuid4()), customer={"email": ANA_EMAIL, "phone": ANA_PHONE}))
    registered = client.post("/api/v1/customers", {"customer": {"email": ANA_EMAIL}, "channel": "store"}, format="json")

    newcomer = later[0].customer_id
    assert newcomer != ana
    assert (registered.status_code, registered.json()["id"]) == (200, str(newcomer))
    assert Customer.objects.get(id=newcomer).erased_at is None
    assert set(CustomerIdentifier.objects.values_list("customer_id", flat=True)) == {newcomer}
    assert [c["id"] for c in client.get("/api/v1/customers", {"q": ANA_EMAIL}).json()["results"]] == [str(newcomer)]
    assert Customer.objects.get(id=ana).erased_at is not None


def test_erasing_a_customer_erases_those_merged_into_them(client, ana):
    twin = _ingest(interaction(id=str(uuid.uuid4()), customer={"email": "ana.old@example.es"}))[0].customer_id
    # The merge service arrives with the customer 360 issue; its projection sets exactly this.
    Customer.objects.filter(id=twin).update(merged_into_id=ana)

    response = client.post(f"/api/v1/customers/{twin}/erase")  # a merged id stands for the one it was merged into

    assert response.json()["id"] == str(ana)
    assert keys.is_key_destroyed(ana)
    assert keys.is_key_destroyed(twin)
    assert not CustomerIdentifier.objects.filter(customer_id__in=[ana, twin]).exists()
    assert Customer.objects.filter(id__in=[ana, twin], erased_at__isnull=False).count() == 2
    erased = {e.customer_id: e for e in Event.objects.filter(type="customer.erased")}
    assert erased.keys() == {ana, twin}
    assert erased[twin].metadata["causation_id"] == str(erased[ana].id)
    assert "ana.old@example.es" not in _every_row_as_text()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_erasures_of_one_customer_record_one_and_refuse_the_other(settings):
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    customer_id = _ingest(interaction())[0].customer_id

    def erase():
        with transaction.atomic():
            return services.customer_erase(customer_id=customer_id, actor="user:1")

    results = at_once(erase, erase, timeout=30)

    assert sorted(type(r).__name__ for r in results) == ["CustomerAlreadyErased", "Erasure"]
    assert Event.objects.filter(type="customer.erased").count() == 1


def test_the_view_as_of_a_time_before_erasure_holds_no_personal_data_after_it(api_client_for):
    from datetime import timedelta

    from django.utils import timezone

    client = api_client_for("support")
    customer_id = services.interactions_ingest(
        raw_items=[interaction(customer={"email": "borrar@example.es", "phone": "622333444"})], actor="test"
    )[0].customer_id
    services.customer_erase(customer_id=customer_id, actor="test")

    response = client.get(
        f"/api/v1/customers/{customer_id}", {"as_of": (timezone.now() - timedelta(seconds=1)).isoformat()}
    )

    assert response.status_code == 200
    assert response.json()["identifiers"] == []
    assert "borrar@example.es" not in response.content.decode()
