"""store.NewEvent.of(): writers append the EventData they build; the store writes exactly what the type validated
(DESIGN.md section 3, rule 9) and refuses a bad value as it refuses a bad dict."""

import uuid

import pytest

from backoffice.eventstore import store
from backoffice.eventstore.errors import EventValidationError
from backoffice.eventstore.models import Event

from .sample_events import SecretNoted, ThingHappened

pytestmark = pytest.mark.django_db


def test_a_typed_event_is_stored_as_the_same_data_appended_as_a_dict_would_be():
    typed = store.NewEvent.of(ThingHappened(label="  padded  ", amount=2), channel="web")
    as_dict = store.NewEvent("test.thing_happened", {"label": "  padded  ", "amount": 2}, typed.id, channel="web")

    (recorded,) = store.append("thing-1", [typed])
    (again,) = store.append_batches([store.StreamAppend("thing-1", [as_dict])])

    assert recorded.type == "test.thing_happened"
    assert recorded.data == {"label": "padded", "amount": 2}
    assert again.duplicate  # the same content digest: a resend as a dict is the same event
    assert Event.objects.count() == 1


def test_building_an_event_with_a_bad_value_is_refused_with_the_field_path_an_append_would_give():
    with pytest.raises(EventValidationError) as refused:
        ThingHappened(label="x" * 101)

    assert [(e.index, e.field) for e in refused.value.errors] == [(0, "data.label")]


def test_a_typed_event_over_the_size_limit_is_still_refused_at_the_append(settings):
    settings.EVENTSTORE_MAX_EVENT_BYTES = 50
    event = store.NewEvent.of(ThingHappened(label="y" * 90))

    with pytest.raises(EventValidationError) as refused:
        store.append("thing-1", [event])

    assert refused.value.errors[0].code == "too_large"
    assert not Event.objects.exists()


def test_a_typed_event_with_a_nul_character_is_still_refused_at_the_append():
    event = store.NewEvent.of(ThingHappened(label="a\x00b"))

    with pytest.raises(EventValidationError) as refused:
        store.append("thing-1", [event])

    assert refused.value.errors[0].code == "null_character"


def test_a_typed_event_keeps_its_personal_fields_sealed_with_the_customer_key():
    customer_id = uuid.uuid4()
    event = store.NewEvent.of(SecretNoted(note="ring Ana"), customer_id=customer_id)

    (recorded,) = store.append(f"customer-{customer_id}", [event])

    assert recorded.data["note"] == "ring Ana"
    assert "note" not in Event.objects.get(id=event.id).data


def test_the_store_validation_of_dict_data_does_not_run_the_writers_constructor():
    with pytest.raises(EventValidationError) as refused:
        store.append(
            "thing-1",
            [
                store.NewEvent("test.thing_happened", {"label": "ok"}),
                store.NewEvent("test.thing_happened", {"label": 5}),
            ],
        )

    assert [(e.index, e.field) for e in refused.value.errors] == [(1, "data.label")]
