"""`field__any=[...]` (backoffice.eventstore.sql.AnyOf): the same rows as `__in`, one array parameter on PostgreSQL."""

import uuid

import pytest
from django.db import connection

from customers.models import Customer, CustomerIdentifier
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]


def test_any_finds_the_rows_in_finds_whatever_the_batch_size():
    ids = [CustomerFactory().id for _ in range(3)]
    asked = [ids[0], ids[2], uuid.uuid4(), ids[0]]

    found = set(Customer.objects.filter(id__any=asked).values_list("id", flat=True))

    assert found == set(Customer.objects.filter(id__in=asked).values_list("id", flat=True)) == {ids[0], ids[2]}


def test_any_of_nothing_finds_nothing():
    CustomerFactory()

    assert not Customer.objects.filter(id__any=[]).exists()


def test_any_works_through_a_foreign_key():
    customer = CustomerFactory()

    found = CustomerIdentifier.objects.filter(customer_id__any=[customer.id]).values_list("customer_id", flat=True)

    assert list(found)
    assert set(found) == {customer.id}


@pytest.mark.postgres
def test_any_binds_one_array_whatever_the_batch_size():
    queryset = Customer.objects.filter(id__any=[uuid.uuid4() for _ in range(500)])

    sql, params = queryset.query.get_compiler(connection=connection).as_sql()

    assert "= ANY(" in sql
    assert len(params) == 1
    assert len(params[0]) == 500
