"""A run of merges in one batch is folded at once: it must leave the profiles and orders where folding the merges one
at a time leaves them, chains and a profile merged twice included."""

import pytest

from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionCheckpoint
from backoffice.insights.models import OrderFact, PersonFact

from .conftest import Shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def merges(insights_settings):
    insights_settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []  # the tests catch up themselves, in batches they choose
    s = Shop()
    for name, channel, day in [
        ("A", "web", "2026-01-01"),
        ("B", "store", "2026-01-02"),
        ("C", "app", "2026-01-03"),
        ("D", "phone", "2026-01-04"),
        ("E", "web", "2026-01-05"),
        ("F", "store", "2026-01-06"),
    ]:
        s.register(name, channel, day)
    for order_id, customer in [("oA", "A"), ("oB", "B"), ("oD", "D"), ("oE", "E"), ("oF", "F")]:
        s.order(order_id, customer, "web", "2026-01-10", "10.00")
    s.merge("B", into="A", day="2026-01-11")
    s.merge("A", into="C", day="2026-01-12")  # a chain: A and B become C's
    s.merge("E", into="D", day="2026-01-13")
    s.merge("E", into="F", day="2026-01-14")  # E merged again: its profile moves, its orders (under D) stay
    s.merge("D", into="A", day="2026-01-15")  # into a merged profile: onto its person, C
    s.order("oB2", "B", "web", "2026-01-16", "10.00")
    return s


def _caught_up(batch_size: int) -> tuple[list, list]:
    projector.projection("insights.rollups").reset()
    ProjectionCheckpoint.objects.filter(name="insights.rollups").update(transaction_id=0, position=0)
    projector.catch_up("insights.rollups", batch_size=batch_size)
    people = sorted(PersonFact.objects.values_list("customer_id", "person_id", "merged_into"))
    orders = sorted(OrderFact.objects.values_list("order_id", "person_id", "acquisition_channel", "registered_month"))
    return people, orders


def test_a_run_of_merges_in_one_batch_folds_as_the_merges_one_at_a_time(merges):
    one_at_a_time = _caught_up(batch_size=1)

    assert _caught_up(batch_size=1000) == one_at_a_time


def test_merges_move_profiles_and_orders_to_the_end_of_the_chain(merges):
    people, orders = _caught_up(batch_size=1000)

    c = {name: merges.customers[name] for name in "ABCDEF"}
    assert people == sorted(
        [
            (c["A"], c["C"], c["C"]),
            (c["B"], c["C"], c["A"]),
            (c["C"], c["C"], None),
            (c["D"], c["C"], c["A"]),
            (c["E"], c["F"], c["F"]),
            (c["F"], c["F"], None),
        ]
    )
    january = 2026 * 12
    assert orders == [
        ("oA", c["C"], "app", january),
        ("oB", c["C"], "app", january),
        ("oB2", c["C"], "app", january),
        ("oD", c["C"], "app", january),
        ("oE", c["C"], "app", january),
        ("oF", c["F"], "store", january),
    ]
