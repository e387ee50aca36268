"""Event types used only by the event-store tests."""

from pydantic import Field

from backoffice.eventstore.schema import EventData, upcaster


class ThingHappened(EventData):
    type_name = "test.thing_happened"
    label: str = Field(max_length=100)
    amount: int = 0


class SecretNoted(EventData):
    type_name = "test.secret_noted"
    personal_fields = ("note",)
    note: str
    amount: int = 0


class RenamedField(EventData):
    """Version 2 renamed `name` to `title`; stored v1 rows are lifted on read."""

    type_name = "test.renamed_field"
    schema_version = 2
    title: str


@upcaster("test.renamed_field", from_version=1)
def _v1_to_v2(data: dict) -> dict:
    data = dict(data)
    data["title"] = data.pop("name")
    return data
