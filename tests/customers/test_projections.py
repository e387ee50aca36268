"""Customer projections: live updates and a rebuild from the log give exactly the same rows."""

import uuid

import pytest
from django.core.management import call_command

from backoffice.eventstore import projector
from customers import services
from customers.models import ChannelActivityDaily, Customer, CustomerIdentifier
from tests.customers.projection_rows import customer_projection_rows
from tests.factories import interaction

pytestmark = pytest.mark.django_db


def _snapshot():
    return customer_projection_rows()


def _ingest(*items):
    return services.interactions_ingest(raw_items=list(items), actor="test")


@pytest.fixture
def history():
    _ingest(
        interaction(customer={"anonymous_id": "web-1"}, type="page.viewed", data={"url": "/"}),
        interaction(id=str(uuid.uuid4()), customer={"anonymous_id": "web-1", "email": "ana@example.es"}),
        interaction(
            channel="store",
            type="store.visited",
            customer={"phone": "611222333"},
            data={"location": "VLC-01"},
            occurred_at="2026-10-01T18:30:00+02:00",
        ),
    )
    _ingest(
        interaction(
            channel="whatsapp",
            type="message.received",
            customer={"phone": "+34611222333", "email": "luis@example.es"},
            data={"text": "¿Tenéis la talla M?"},
        ),
        interaction(
            channel="instagram",
            type="content.shared",
            customer={"instagram_id": "ig-42", "email": "ANA@example.es"},
            data={"sku": "CAM-1"},
        ),
    )
    projector.catch_up_all()


def test_live_projections_count_each_customers_interactions_and_channels(history):
    ana = CustomerIdentifier.objects.get(key="email:ana@example.es").customer
    luis = CustomerIdentifier.objects.get(key="phone:+34611222333").customer

    assert Customer.objects.count() == 2
    assert ana.channels_used == ["instagram", "web"]
    assert luis.channels_used == ["store", "whatsapp"]
    assert set(ana.identifiers.values_list("kind", flat=True)) == {"anonymous_id", "email", "instagram_id"}
    assert luis.acquisition_channel == "store"


def test_rebuilding_every_projection_gives_exactly_the_live_rows(history):
    live = _snapshot()
    Customer.objects.update(interaction_count=999)  # the rebuild must not keep anything of the old rows
    ChannelActivityDaily.objects.all().delete()

    call_command("rebuild_projections", verbosity=0)

    assert _snapshot() == live


def test_rebuild_of_an_unknown_projection_is_an_error():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown projection"):
        call_command("rebuild_projections", "nope")
