"""Against a real streaming replica (a hot standby on loopback: .ci/run's replica stage starts one): the reads of a
GET come from the standby, writes go to the primary, and with the standby's replay paused a caller that wrote still
reads its own write, while a caller that did not reads the stale standby (so the routing is real)."""

import pytest
from django.db import connections

from backoffice import replica
from customers.models import Consent
from customers.selectors import consent_allows
from tests.factories import ConsentFactory, CustomerFactory
from tests.replica_support import replay_paused, replica_is_standby, wait_for_replica
from tests.test_replica import CONSENT, Queries

pytestmark = [
    pytest.mark.replica,
    pytest.mark.streaming_replica,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def _is_in_recovery(alias: str) -> bool:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return cursor.fetchone()[0]


def _whatsapp_marketing(view: dict) -> list[dict]:
    return [c for c in view["consents"] if (c["channel"], c["purpose"]) == ("whatsapp", "marketing")]


def test_the_replica_alias_is_a_hot_standby_of_the_primary():
    assert replica_is_standby()
    assert not _is_in_recovery("default")


def test_the_360_of_a_get_is_read_on_the_standby(replica_routing, api_client_for):
    customer = CustomerFactory()
    client = api_client_for("support")
    wait_for_replica()

    with Queries() as queries:
        response = client.get(f"/api/v1/customers/{customer.id}")
        used = replica.read_alias()

    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)
    assert "customers_customer" in queries.replica
    assert "customers_customer" not in queries.primary
    assert used == "default"  # outside the request: the primary
    assert _is_in_recovery("replica")  # the connection that answered is the standby's


def test_with_replay_paused_a_caller_that_wrote_reads_its_own_write_and_others_read_the_stale_standby(
    replica_routing, api_client_for
):
    customer = CustomerFactory()
    writer, reader = api_client_for("store"), api_client_for("admin")
    wait_for_replica()
    events_before = reader.get("/api/v1/events?after=0&limit=1000").json()["results"]

    with replay_paused():
        # The write is accepted: it went to the primary (the standby refuses every write).
        posted = writer.post(f"/api/v1/customers/{customer.id}/consents", CONSENT, format="json")
        assert posted.status_code == 201, posted.content

        own = writer.get(f"/api/v1/customers/{customer.id}")  # pinned by its cookie
        writer.cookies.clear()
        own_without_cookie = writer.get(f"/api/v1/customers/{customer.id}")  # pinned by its token
        own_timeline = writer.get(f"/api/v1/customers/{customer.id}/timeline").json()["results"]
        other = reader.get(f"/api/v1/customers/{customer.id}")
        other_timeline = reader.get(f"/api/v1/customers/{customer.id}/timeline").json()["results"]
        other_events = reader.get("/api/v1/events?after=0&limit=1000").json()["results"]
        on_primary = Consent.objects.using("default").filter(customer_id=customer.id, channel="whatsapp").exists()
        on_standby = Consent.objects.using("replica").filter(customer_id=customer.id, channel="whatsapp").exists()

    assert _whatsapp_marketing(own.json())[0]["granted"] is True
    assert _whatsapp_marketing(own_without_cookie.json())[0]["granted"] is True
    assert "consent.granted" in [event["type"] for event in own_timeline]
    # The caller that did not write reads the standby, which has not applied the write yet.
    assert other.status_code == 200
    assert _whatsapp_marketing(other.json()) == []
    assert "consent.granted" not in [event["type"] for event in other_timeline]
    assert len(other_events) == len(events_before)
    assert on_primary
    assert not on_standby

    # Replay resumed: the standby catches up, and everyone reads the write.
    wait_for_replica()
    caught_up = reader.get(f"/api/v1/customers/{customer.id}")
    assert _whatsapp_marketing(caught_up.json())[0]["granted"] is True


def test_with_replay_paused_a_read_scope_that_wrote_reads_its_own_write(replica_routing):
    customer = CustomerFactory()
    wait_for_replica()

    with replay_paused():
        with replica.reads_from_replica():
            ConsentFactory(customer_id=customer.id, channel="whatsapp", source_channel="store")
            in_the_writing_scope = consent_allows(customer_id=customer.id, channel="whatsapp", purpose="marketing")
        with replica.reads_from_replica():
            in_a_fresh_scope = consent_allows(customer_id=customer.id, channel="whatsapp", purpose="marketing")

    assert in_the_writing_scope is True
    assert in_a_fresh_scope is False  # the stale standby: proof that the fresh scope read there
