"""Statements bound by the server (PostgreSQL): binary array parameters."""

import uuid
from datetime import UTC, datetime

import pytest

from backoffice.eventstore.sql import execute_pg

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_binary_arrays_keep_nulls_uuids_and_aware_times():
    ids, at = [uuid.uuid4(), None], datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    ((uuids, times),) = execute_pg("SELECT %b::uuid[], %b::timestamptz[]", [ids, [at, None]])

    assert (uuids, times) == (ids, [at, None])
