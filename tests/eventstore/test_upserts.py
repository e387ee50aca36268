"""eventstore.upserts: a projection's batch written in one statement, each column merged into the stored row by the
database (on SQLite here, on PostgreSQL in CI's PostgreSQL stage)."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from backoffice.eventstore.upserts import upsert, upsert_objects
from backoffice.insights.models import DailyMetric
from customers.models import ChannelActivityDaily, Customer, CustomerOrder

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_added_counts_go_into_stored_rows_and_new_keys_get_rows_of_their_own():
    ChannelActivityDaily.objects.create(day=DAY, channel="web", type="page.viewed", count=5)

    upsert(
        ChannelActivityDaily,
        ("day", "channel", "type", "count"),
        [(DAY, "web", "page.viewed", 3), (DAY, "app", "page.viewed", 2)],
        key=("day", "channel", "type"),
        merge={"count": "add"},
    )

    assert sorted(ChannelActivityDaily.objects.values_list("channel", "count")) == [("app", 2), ("web", 8)]


def test_decimal_deltas_add_up_exactly_whatever_their_python_type():
    DailyMetric.objects.create(day=DAY, channel="web", metric="orders.gross", value=Decimal("10.10"))

    upsert(
        DailyMetric,
        ("day", "channel", "metric", "dimension", "value"),
        [(DAY, "web", "orders.gross", "", Decimal("0.20")), (DAY, "web", "orders.count", "", 1)],
        key=("day", "channel", "metric", "dimension"),
        merge={"value": "add"},
    )

    assert dict(DailyMetric.objects.values_list("metric", "value")) == {
        "orders.gross": Decimal("10.30"),
        "orders.count": Decimal("1.00"),
    }


def test_an_update_keeps_the_later_time_and_the_sorted_union_of_channels_and_skips_unknown_rows():
    known = Customer.objects.create(
        id=uuid.uuid4(), registered_at=NOON, interaction_count=4, last_interaction_at=NOON, channels_used=["web"]
    )
    fresh = Customer.objects.create(id=uuid.uuid4(), registered_at=NOON)
    stranger = uuid.uuid4()

    upsert(
        Customer,
        ("id", "interaction_count", "last_interaction_at", "channels_used"),
        [
            (known.id, 2, NOON - timedelta(days=1), ["app", "web"]),
            (fresh.id, 1, NOON, ["store"]),
            (stranger, 9, NOON, ["sms"]),
        ],
        key=("id",),
        merge={"interaction_count": "add", "last_interaction_at": "max", "channels_used": "union"},
        update_only=True,
    )

    rows = {
        row[0]: row[1:]
        for row in Customer.objects.values_list("id", "interaction_count", "last_interaction_at", "channels_used")
    }
    assert rows == {known.id: (6, NOON, ["app", "web"]), fresh.id: (1, NOON, ["store"])}


def test_replaced_columns_take_the_new_values_and_the_others_keep_the_stored_ones():
    customer_id = uuid.uuid4()
    CustomerOrder.objects.create(order_id="O-1", customer_id=customer_id, placed_at=NOON, total=Decimal("30.00"))
    changed = CustomerOrder(
        order_id="O-1", customer_id=customer_id, placed_at=NOON, total=Decimal("99.00"), refunded=Decimal("5.50")
    )
    new = CustomerOrder(order_id="O-2", customer_id=customer_id, channel="app", placed_at=NOON, total=Decimal("12"))

    upsert_objects([changed, new], key=("order_id",), merge={"refunded": "replace", "is_cancelled": "replace"})

    assert sorted(CustomerOrder.objects.values_list("order_id", "channel", "total", "refunded")) == [
        ("O-1", "", Decimal("30.00"), Decimal("5.50")),
        ("O-2", "app", Decimal("12.00"), Decimal("0.00")),
    ]


def test_without_a_merge_a_stored_row_is_left_as_it_is():
    customer_id = uuid.uuid4()
    CustomerOrder.objects.create(order_id="O-1", customer_id=customer_id, placed_at=NOON, total=Decimal("30.00"))

    upsert_objects(
        [CustomerOrder(order_id="O-1", customer_id=customer_id, placed_at=NOON, total=Decimal("1.00"))],
        key=("order_id",),
    )

    assert CustomerOrder.objects.get().total == Decimal("30.00")


def test_a_merge_the_recorders_do_not_know_is_refused():
    with pytest.raises(ValueError, match="no such merge: average"):
        upsert(
            ChannelActivityDaily,
            ("day", "channel", "type", "count"),
            [(DAY, "web", "page.viewed", 1)],
            key=("day", "channel", "type"),
            merge={"count": "average"},
        )

    assert not ChannelActivityDaily.objects.exists()
