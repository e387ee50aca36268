"""The hot paths' statements bound by the server (PostgreSQL): rows by key, one index probe per key."""

import uuid
from datetime import UTC, datetime

import pytest

from backoffice.eventstore.sql import execute_pg, rows_by_key
from backoffice.messaging.models import ChannelSetting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_rows_by_key_returns_each_matching_row_once_whatever_the_repeats_and_keeps_the_condition():
    ChannelSetting.objects.create(channel="sms", sender="Tienda", is_paused=True)
    ChannelSetting.objects.create(channel="email", sender="hola@tienda.es")
    ChannelSetting.objects.create(channel="push", sender="app", is_paused=True)

    found = rows_by_key(
        ChannelSetting._meta.db_table,
        "channel",
        ["sender"],
        ["sms", "email", "sms", "whatsapp", "push"],
        key_type="varchar",
        where="t.is_paused = %b",
        params=[True],
    )

    assert sorted(found) == [("push", "app"), ("sms", "Tienda")]


def test_binary_arrays_keep_nulls_uuids_and_aware_times():
    ids, at = [uuid.uuid4(), None], datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    ((uuids, times),) = execute_pg("SELECT %b::uuid[], %b::timestamptz[]", [ids, [at, None]])

    assert (uuids, times) == (ids, [at, None])
