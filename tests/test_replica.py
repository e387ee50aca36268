"""Read-replica routing (backoffice.replica), on the `replica` test mirror: which connection each read and write
uses. tests/test_replica_streaming.py proves the same against a real streaming replica, stale on purpose."""

import re
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext

from backoffice import replica
from backoffice.celery import app as celery_app
from customers.models import Consent, Customer
from customers.selectors import consent_allows
from tests.factories import ConsentFactory, CustomerFactory
from tests.replica_support import wait_for_replica

pytestmark = [pytest.mark.replica, pytest.mark.django_db(transaction=True, databases=["default", "replica"])]

CONSENT = {
    "channel": "whatsapp",
    "purpose": "marketing",
    "granted": True,
    "source_channel": "store",
    "wording": "Acepto ofertas por WhatsApp",
}


@celery_app.task(name="tests.replica.read_alias")
def read_alias_task():
    return replica.read_alias()


class Queries:
    """The SQL run on the primary and on the replica inside the block."""

    def __enter__(self):
        self._contexts = [CaptureQueriesContext(connections[alias]) for alias in ("default", "replica")]
        for context in self._contexts:
            context.__enter__()
        return self

    def __exit__(self, *exc):
        for context in reversed(self._contexts):
            context.__exit__(*exc)
        self.primary, self.replica = (
            " ".join(query["sql"] for query in context.captured_queries) for context in self._contexts
        )


def _customer_the_replica_has():
    """A new customer, once the replica has it (at once on the mirror; a real standby replays the customer first)."""
    customer = CustomerFactory()
    wait_for_replica()
    return customer


def _consent(customer, **kwargs):
    return ConsentFactory(customer_id=customer.id, channel="whatsapp", source_channel="store", **kwargs)


def test_a_get_request_reads_the_customer_360_on_the_replica_and_who_asks_on_the_primary(
    replica_routing, api_client_for
):
    customer = _customer_the_replica_has()
    client = api_client_for("support")

    with Queries() as queries:
        response = client.get(f"/api/v1/customers/{customer.id}")

    assert response.status_code == 200
    assert response.json()["id"] == str(customer.id)
    assert "customers_customer" in queries.replica
    assert "customers_customer" not in queries.primary
    # The token, its user and their role are read on the primary: a new token or role holds at once.
    assert "accounts_apitoken" in queries.primary
    assert "accounts_apitoken" not in queries.replica
    # Who looked is recorded on the primary, and that write pins nobody: the next read stays on the replica.
    assert "accounts_personaldataaccess" in queries.primary
    assert replica.PIN_COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("support", "/api/v1/customers?q=cliente"),
        ("support", "/api/v1/customers/{id}/timeline"),
        ("support", "/api/v1/customers/{id}/consents"),
        ("marketing", "/api/v1/metrics?from=2026-01-01&to=2026-12-31"),
        ("marketing", "/api/v1/campaigns"),
        ("support", "/api/v1/cases"),
    ],
)
def test_list_endpoints_and_reports_read_on_the_replica(replica_routing, api_client_for, role, path):
    customer = _customer_the_replica_has()
    client = api_client_for(role)

    with Queries() as queries:
        response = client.get(path.format(id=customer.id))

    assert response.status_code == 200, response.content
    assert queries.replica, "nothing was read on the replica"
    # Decryption keys are the one part of the domain read on the primary: an erasure holds at once, lag or not.
    primary_tables = set(re.findall(r"\b(?:customers|orders|campaigns|insights|eventstore)_[a-z_]+", queries.primary))
    assert primary_tables <= {"eventstore_customerkey"}


def test_a_post_reads_and_writes_on_the_primary_only(replica_routing, api_client_for):
    customer = _customer_the_replica_has()
    client = api_client_for("store")

    with Queries() as queries:
        response = client.post(f"/api/v1/customers/{customer.id}/consents", CONSENT, format="json")

    assert response.status_code == 201, response.content
    assert queries.replica == ""
    assert "customers_consent" in queries.primary


def test_after_a_write_the_caller_reads_on_the_primary_by_cookie_and_others_on_the_replica(
    replica_routing, api_client_for
):
    customer = CustomerFactory()
    writer, other = api_client_for("store"), api_client_for("store")
    wait_for_replica()
    response = writer.post(f"/api/v1/customers/{customer.id}/consents", CONSENT, format="json")
    assert response.status_code == 201
    assert replica.PIN_COOKIE in response.cookies

    with Queries() as writer_reads:
        assert writer.get(f"/api/v1/customers/{customer.id}").status_code == 200
    with Queries() as other_reads:
        assert other.get(f"/api/v1/customers/{customer.id}").status_code == 200

    assert writer_reads.replica == ""
    assert "customers_customer" in writer_reads.primary
    assert "customers_customer" in other_reads.replica


def test_the_pin_holds_for_a_token_client_that_keeps_no_cookies_and_ends_after_its_seconds(
    replica_routing, settings, api_client_for
):
    settings.DATABASE_REPLICA_PIN_SECONDS = 1
    customer = CustomerFactory()
    writer = api_client_for("store")
    assert writer.post(f"/api/v1/customers/{customer.id}/consents", CONSENT, format="json").status_code == 201
    writer.cookies.clear()

    with Queries() as pinned:
        writer.get(f"/api/v1/customers/{customer.id}")
    time.sleep(1.2)
    wait_for_replica()
    with Queries() as later:
        writer.get(f"/api/v1/customers/{customer.id}")

    assert pinned.replica == ""
    assert "customers_customer" in later.replica


def test_a_refused_post_pins_nobody(replica_routing, api_client_for):
    customer = _customer_the_replica_has()
    client = api_client_for("store")

    response = client.post(f"/api/v1/customers/{customer.id}/consents", {**CONSENT, "channel": "fax"}, format="json")
    with Queries() as queries:
        client.get(f"/api/v1/customers/{customer.id}")

    assert response.status_code == 400
    assert replica.PIN_COOKIE not in response.cookies
    assert "customers_customer" in queries.replica


def test_staff_pages_read_on_the_replica_and_a_staff_member_who_wrote_reads_the_primary_by_session(
    replica_routing, client, staff_user
):
    customer = CustomerFactory()
    wait_for_replica()
    client.force_login(staff_user("store"))

    with Queries() as page:
        assert client.get(f"/staff/customers/{customer.id}/").status_code == 200
    posted = client.post(
        f"/staff/customers/{customer.id}/consents/",
        {
            "channel": "sms",
            "purpose": "marketing",
            "granted": "1",
            "source_channel": "store",
            "wording": "Acepto.",
            "change_id": str(uuid.uuid4()),
        },
    )
    client.cookies.pop(replica.PIN_COOKIE)  # what is left: the pin of the session
    with Queries() as after_write:
        after = client.get(posted["Location"])

    assert "customers_customer" in page.replica
    assert "customers_customer" not in page.primary
    assert posted.status_code == 302
    assert "Consent given" in after.content.decode()
    assert after_write.replica == ""


def test_a_pin_cookie_further_ahead_than_one_pin_is_not_believed(replica_routing, api_client_for):
    customer = _customer_the_replica_has()
    client = api_client_for("support")
    client.cookies[replica.PIN_COOKIE] = str(int(time.time()) + 3600)

    with Queries() as queries:
        client.get(f"/api/v1/customers/{customer.id}")

    assert "customers_customer" in queries.replica


def test_a_scope_that_wrote_reads_its_own_write_on_the_primary_for_the_rest_of_it(replica_routing):
    customer = CustomerFactory()

    with replica.reads_from_replica():
        assert replica.read_alias() == "replica"
        with Queries() as write:
            _consent(customer)
        assert replica.read_alias() == "default"
        with Queries() as read_back:
            assert consent_allows(customer_id=customer.id, channel="whatsapp", purpose="marketing")

    # The service's writes went to the primary (the reads it made before its transaction may come from the replica:
    # a read scope is for code that reads; a service does its reads-before-writing inside its transaction).
    assert "INSERT" in write.primary
    assert "INSERT" not in write.replica
    assert "UPDATE" not in write.replica
    assert read_back.replica == ""
    assert "customers_consent" in read_back.primary


def test_reads_inside_a_transaction_stay_on_the_primary_and_a_read_only_one_does_not_pin(replica_routing):
    customer = CustomerFactory()

    with replica.reads_from_replica():
        with Queries() as inside, transaction.atomic():
            assert replica.read_alias() == "default"
            Customer.objects.get(id=customer.id)
        after = replica.read_alias()

    assert inside.replica == ""
    assert "customers_customer" in inside.primary
    assert after == "replica"


def test_orm_writes_in_a_read_scope_go_to_the_primary(replica_routing):
    customer = CustomerFactory()

    with replica.reads_from_replica(), Queries() as queries:
        Customer.objects.filter(id=customer.id).update(language="en")

    assert "UPDATE" in queries.primary
    assert queries.replica == ""
    assert Customer.objects.using("default").get(id=customer.id).language == "en"


def test_users_sessions_and_tokens_are_read_on_the_primary_even_in_a_read_scope(replica_routing):
    with replica.reads_from_replica(), Queries() as queries:
        get_user_model().objects.count()

    assert queries.replica == ""
    assert "auth_user" in queries.primary


def test_code_outside_a_request_reads_on_the_primary(replica_routing):
    customer = CustomerFactory()

    with Queries() as queries:
        consent_allows(customer_id=customer.id, channel="whatsapp", purpose="marketing")

    assert replica.read_alias() == "default"
    assert queries.replica == ""


def test_a_celery_task_run_eagerly_inside_a_read_scope_reads_on_the_primary(replica_routing):
    with replica.reads_from_replica():
        in_task = read_alias_task.apply().result
        after_task = replica.read_alias()

    assert in_task == "default"
    assert after_task == "replica"


def test_a_replica_further_behind_than_the_limit_is_not_read(replica_routing, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = -1  # any lag, even none, is too much

    with replica.reads_from_replica():
        alias = replica.read_alias()

    assert alias == "default"


def test_nothing_is_migrated_or_written_on_the_replica():
    assert router.allow_migrate("replica", "customers") is False
    assert router.allow_migrate("replica", "eventstore") is False
    assert router.allow_migrate("default", "customers") is True
    assert router.db_for_write(Consent) == "default"


def test_without_routing_a_get_reads_everything_on_the_primary(api_client_for):
    customer = _customer_the_replica_has()
    client = api_client_for("support")

    with Queries() as queries:
        response = client.get(f"/api/v1/customers/{customer.id}")

    assert response.status_code == 200
    assert queries.replica == ""
    assert replica.PIN_COOKIE not in response.cookies
