from pathlib import Path

from backoffice.eventstore.schema import registered_types

CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "event-catalogue.md"


def test_every_product_event_type_is_in_the_catalogue():
    text = CATALOGUE.read_text()
    product_types = [name for name in registered_types() if not name.startswith("test.")]

    missing = [name for name in product_types if f"`{name}`" not in text]

    assert product_types
    assert missing == []
