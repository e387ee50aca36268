"""Rule 7: old shapes are lifted on read by registered upcasters; stored rows never change."""

import json
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from backoffice.eventstore import store

pytestmark = pytest.mark.django_db


def _insert_v1_row(data: dict) -> int:
    now = timezone.now()
    event_id = uuid.uuid4()
    is_pg = connection.vendor == "postgresql"
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventstore_event (position, id, stream, version, type, schema_version, channel, customer_id,"
            " occurred_at, recorded_at, data, metadata, digest) VALUES (1000, %s, 'legacy-1', 1, 'test.renamed_field',"
            " 1, NULL, NULL, %s, %s, %s, '{}', 'x')",
            [event_id if is_pg else event_id.hex, adapt(now), adapt(now), json.dumps(data)],
        )
    return 1000


def test_a_version_1_event_is_read_in_the_current_shape():
    _insert_v1_row({"name": "old title"})

    event = store.read_all()[0]

    assert (event.schema_version, event.data) == (2, {"title": "old title"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_version, data FROM eventstore_event")
        schema_version, raw = cursor.fetchone()
    assert schema_version == 1
    assert "name" in (raw if isinstance(raw, dict) else json.loads(raw))


def test_new_events_are_stored_in_the_current_shape():
    event = store.append("legacy-2", [store.NewEvent(type="test.renamed_field", data={"title": "new"})])[0]

    assert event.schema_version == 2
