"""A database that refuses writes (read-only: a standby, maintenance) or cannot be reached answers 503 problem
details with Retry-After, never a 500; nothing is written, and the client retries with the same ids."""

import copy
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.db.utils import load_backend

from backoffice.api.problems import database_unavailable
from backoffice.eventstore.models import Event
from tests.factories import interaction

pytestmark = pytest.mark.django_db


class _Undo(Exception):
    pass


@contextmanager
def refusing_writes():
    """The test's connection refuses writes meanwhile, the way a hot standby or a read-only maintenance does."""
    if connection.vendor == "postgresql":
        # Inside a savepoint: rolling it back restores the transaction's read-write mode for the test's teardown.
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION READ ONLY")
                yield
                raise _Undo
        except _Undo:
            pass
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")


WRITES = [
    ("/api/v1/events", lambda: interaction()),
    ("/api/v1/customers", lambda: {"customer": {"email": "nuevo@example.es"}, "channel": "web"}),
    ("/api/v1/products", lambda: {"sku": "RO-1", "name": "Read only", "price": "1.00"}),
    ("/api/v1/locations", lambda: {"code": "RO-01", "name": "Read only", "kind": "store", "timezone": "Europe/Madrid"}),
]


@pytest.mark.parametrize(("path", "body"), WRITES, ids=[path for path, _ in WRITES])
def test_a_write_to_a_read_only_database_is_a_503_problem(api_client_for, path, body):
    client = api_client_for("admin")
    events_before = Event.objects.count()
    payload = body()

    with refusing_writes():
        response = client.post(path, payload, format="json")

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "5"
    assert response.json()["type"].endswith("/database_unavailable")
    assert Event.objects.count() == events_before


def test_reads_still_answer_while_the_database_refuses_writes(api_client_for):
    client = api_client_for("admin")

    with refusing_writes():
        response = client.get("/api/v1/products")

    assert response.status_code == 200


def test_a_database_that_cannot_be_reached_counts_as_unavailable(tmp_path):
    settings_dict = copy.deepcopy(connection.settings_dict)
    if connection.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=1, NAME="nowhere")
    else:
        settings_dict.update(NAME=str(tmp_path / "missing" / "dir" / f"{uuid.uuid4()}.sqlite3"))
    settings_dict["OPTIONS"] = {k: v for k, v in settings_dict.get("OPTIONS", {}).items() if k != "init_command"}
    unreachable = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias="unreachable")

    with pytest.raises(Exception) as refused:  # noqa: PT011 - whatever the driver raises, Django wraps it
        unreachable.ensure_connection()
    unreachable.close()

    assert database_unavailable(refused.value)


def test_a_programming_error_is_not_mistaken_for_an_unavailable_database():
    with pytest.raises(Exception) as wrong:  # noqa: PT011
        with connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM eventstore_event")

    assert not database_unavailable(wrong.value)
