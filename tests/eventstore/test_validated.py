"""store.validated(): a caller that validates before appending spares the append a second schema validation, and
what is written is still what the store validated (DESIGN.md section 3, rule 9)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backoffice.eventstore import store
from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.models import Event

pytestmark = pytest.mark.django_db


def test_an_event_validated_before_its_append_is_stored_with_the_data_as_the_store_normalised_it(thing):
    event, errors = store.validated(thing("  padded label  "))

    (recorded,) = store.append("thing-1", [event])

    assert errors == []
    assert recorded.data == {"label": "padded label", "amount": 0}
    assert Event.objects.get(id=event.id).data == {"label": "padded label", "amount": 0}


def test_a_validated_event_rebuilt_with_other_data_is_validated_again_and_refused(thing):
    event, _ = store.validated(thing("fine"))
    changed = store.NewEvent(type=event.type, data={"label": "x" * 101}, id=event.id, checked=event.checked)

    with pytest.raises(EventValidationError) as refused:
        store.append("thing-1", [changed])

    assert refused.value.errors[0].field == "data.label"
    assert not Event.objects.exists()


def test_a_validated_event_still_has_its_time_and_channel_checked_at_the_append(thing):
    event, _ = store.validated(thing("fine"))
    later = store.NewEvent(
        type=event.type,
        data=event.data,
        id=event.id,
        channel="web",
        occurred_at=timezone.now() + timedelta(days=2),
        checked=event.checked,
    )

    with pytest.raises(EventValidationError) as refused:
        store.append("thing-1", [later])

    assert refused.value.errors[0].code == "future_datetime"
    assert not Event.objects.exists()


def test_an_invalid_event_is_reported_by_validated_with_its_reason(thing):
    event, errors = store.validated(thing("x" * 101), index=3)

    assert [(e.index, e.field) for e in errors] == [(3, "data.label")]
    assert event.checked is None
