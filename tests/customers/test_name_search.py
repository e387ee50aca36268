"""Finding a customer by name: every word typed, in the name without case or accents, on every database (SQLite's
LIKE folds ASCII letters only). The directory projection keeps the name's search key beside it."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from backoffice.eventstore import projector, store
from customers import services
from customers.models import Customer
from customers.projections import name_search_key
from customers.selectors import customer_search
from customers.services.ingestion import customer_register
from tests.customers.projection_rows import customer_projection_rows

pytestmark = pytest.mark.django_db


def _register(name: str, email: str):
    return customer_register(customer={"email": email, "name": name}, channel="store", actor="test")[0]


def _rename(customer_id, name: str) -> None:
    event = store.NewEvent(
        type="customer.profile_updated",
        data={"customer_id": str(customer_id), "name": name},
        channel="store",
        customer_id=customer_id,
    )
    store.append(f"customer-{customer_id}", [event])


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Álvaro Núñez Ibáñez", "alvaro nunez ibanez"),
        ("  ÁLVARO   NÚÑEZ ", "alvaro nunez"),
        ("Begoña Iñiguez", "begona iniguez"),
        ("Joan Vilà i Güell", "joan vila i guell"),
        ("Strauß", "strauss"),
        ("", ""),
    ],
)
def test_the_search_key_drops_case_accents_and_extra_spaces(name, key):
    assert name_search_key(name) == key


@pytest.mark.parametrize(
    "query", ["Álvaro Núñez", "álvaro núñez", "ÁLVARO NÚÑEZ", "alvaro nunez", "NUNEZ alvaro", "ibáñez"]
)
def test_a_name_is_found_whatever_its_case_and_accents_as_typed(query):
    alvaro = _register("Álvaro Núñez Ibáñez", "alvaro@example.es")
    _register("Álvaro Pérez", "perez@example.es")

    assert [c.id for c in customer_search(query=query)] == [alvaro]


def test_a_name_given_later_is_found_and_the_old_one_is_not():
    customer_id = _register("Maria Lopez", "maria@example.es")

    _rename(customer_id, "María José López")

    assert [c.id for c in customer_search(query="maria jose")] == [customer_id]
    assert Customer.objects.get(id=customer_id).search_name == "maria jose lopez"


def test_an_erased_customer_is_not_found_by_name():
    customer_id = _register("Íñigo Sáez", "inigo@example.es")

    services.customer_erase(customer_id=customer_id, actor="test")

    assert customer_search(query="inigo saez") == []
    assert Customer.objects.get(id=customer_id).search_name == ""


def test_a_rebuild_of_the_directory_writes_the_search_key_as_live_updates_did():
    _register("Álvaro Núñez", "alvaro@example.es")
    renamed = _register("Maria Lopez", "maria@example.es")
    _rename(renamed, "María José López")
    erased = _register("Íñigo Sáez", "inigo@example.es")
    services.customer_erase(customer_id=erased, actor="test")
    projector.catch_up_all()
    live = customer_projection_rows()
    Customer.objects.update(search_name="stale")

    projector.rebuild(["customers.directory"], batch_size=1)

    assert customer_projection_rows() == live
    assert sorted(Customer.objects.values_list("search_name", flat=True)) == ["", "alvaro nunez", "maria jose lopez"]


def test_the_migration_fills_the_search_key_of_the_names_already_projected():
    customer_id = _register("Álvaro Núñez", "alvaro@example.es")
    Customer.objects.filter(id=customer_id).update(search_name="")  # as the column was added
    migration = importlib.import_module("customers.migrations.0010_customer_search_name")

    migration.backfill(apps, SimpleNamespace(connection=connection))

    assert Customer.objects.get(id=customer_id).search_name == "alvaro nunez"
    assert migration.name_search_key("ÁLVARO  Núñez") == name_search_key("ÁLVARO  Núñez")


def test_a_query_of_marks_alone_finds_no_name():
    _register("Álvaro Núñez", "alvaro@example.es")

    assert customer_search(query="´´´") == []
