"""The directory writes a batch's name changes and merges one statement per kind: the rows must end as applying
every event one at a time would."""

import uuid
from datetime import date, datetime, timedelta

import pytest

from backoffice.eventstore import projector, store
from customers.models import Customer, CustomerIdentifier

pytestmark = pytest.mark.django_db
START = datetime.fromisoformat("2026-11-01T09:00:00+01:00")


def _event(type_: str, customer_id: uuid.UUID, minute: int, **data) -> store.StreamAppend:
    return store.StreamAppend(
        f"customer-{customer_id}",
        [
            store.NewEvent(
                type=type_,
                data={"customer_id": str(customer_id), **data},
                channel="web",
                customer_id=customer_id,
                occurred_at=START + timedelta(minutes=minute),
            )
        ],
    )


def _rows() -> list[tuple]:
    return sorted(
        Customer.objects.values_list(
            "id", "display_name", "language", "time_zone", "merged_into_id", "erased_at", "search_name"
        )
    )


def test_one_batch_of_profile_changes_merges_unmerges_and_an_erasure_ends_as_applying_them_in_order():
    ana, ben, cris = (uuid.UUID(int=n) for n in (1, 2, 3))
    merge = {"merged": str(ben), "evidence": {"reason": "automatic", "identifier_kinds": ["phone"]}}
    store.append_batches(
        [
            _event("customer.registered", ana, 0, identifiers=[{"kind": "email", "value": "ana@example.es"}]),
            _event("customer.registered", ben, 1, identifiers=[{"kind": "phone", "value": "+34600111222"}]),
            _event("customer.registered", cris, 2, identifiers=[{"kind": "email", "value": "cris@example.es"}]),
            _event("customer.profile_updated", ana, 3, name="Ana", language="es"),
            _event("customer.merged", ana, 4, **merge),
            _event("customer.profile_updated", ana, 5, time_zone="Europe/Madrid"),
            _event("customer.unmerged", ana, 6, unmerged=str(ben)),
            _event("customer.merged", ana, 7, **merge),
            _event("customer.profile_updated", cris, 8, name="Cris"),
            _event("customer.erased", cris, 9),
            _event("customer.profile_updated", cris, 10, name="Cristina"),
        ]
    )
    live = (_rows(), sorted(CustomerIdentifier.objects.values_list("key", "customer_id")))

    projector.rebuild(["customers.directory"], batch_size=1)

    assert (_rows(), sorted(CustomerIdentifier.objects.values_list("key", "customer_id"))) == live
    by_id = {row[0]: row[1:] for row in live[0]}
    assert by_id[ana][:4] == ("Ana", "es", "Europe/Madrid", None)
    assert by_id[ben][3] == ana
    assert by_id[cris][0] == ""
    assert by_id[cris][4] is not None
    assert (by_id[ana][5], by_id[cris][5]) == ("ana", "")  # the name's search key, written and scrubbed with it
    assert [key for key, _ in live[1]] == ["email:ana@example.es", "phone:+34600111222"]


def _identified(customer_id: uuid.UUID, minute: int, **traits) -> store.StreamAppend:
    event = store.NewEvent(
        type="customer.identified",
        data={"traits": traits},
        channel="web",
        customer_id=customer_id,
        occurred_at=START + timedelta(minutes=minute),
    )
    return store.StreamAppend(f"customer-{customer_id}", [event])


def test_birthdays_come_from_the_profile_and_identify_traits_and_erasure_scrubs_them():
    ana, ben, cris, dani = (uuid.UUID(int=n) for n in (11, 12, 13, 14))
    store.append_batches(
        [
            _event("customer.registered", ana, 0, identifiers=[{"kind": "email", "value": "ana@example.es"}]),
            _event("customer.registered", ben, 1, identifiers=[{"kind": "email", "value": "ben@example.es"}]),
            _event("customer.registered", cris, 2, identifiers=[{"kind": "email", "value": "cris@example.es"}]),
            _event("customer.registered", dani, 3, identifiers=[{"kind": "email", "value": "dani@example.es"}]),
            _event("customer.profile_updated", ana, 4, birthday="1990-03-15"),
            _identified(ben, 5, **{"birthday": "1985-12-06T00:00:00.000Z", "plan": "gold"}),
            _identified(ben, 6, **{"plan": "silver"}),  # no birthday: the one given stays
            _event("customer.profile_updated", ben, 7, name="Ben"),
            _identified(cris, 8, **{"birthday": "1979-01-02"}),
            _event("customer.erased", cris, 9),
            _identified(dani, 10, **{"birthday": "next tuesday"}),
            _identified(dani, 11, **{"birthday": "2999-01-01"}),  # after it was given
        ]
    )
    live = sorted(Customer.objects.values_list("id", "birthday", "display_name"))

    assert live == [
        (ana, date(1990, 3, 15), ""),
        (ben, date(1985, 12, 6), "Ben"),
        (cris, None, ""),
        (dani, None, ""),
    ]
    projector.rebuild(["customers.directory"], batch_size=1)
    assert sorted(Customer.objects.values_list("id", "birthday", "display_name")) == live
