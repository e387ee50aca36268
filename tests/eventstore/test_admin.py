"""The events admin is a read-only window: browse and filter; no add, change or delete."""

import uuid

import pytest
from django.test import override_settings

from backoffice.eventstore import keys, projector, store
from backoffice.eventstore.models import Event, ProjectionCheckpoint
from backoffice.eventstore.store import NewEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_after_commit_hooks")]


@pytest.fixture
def admin_client(login):
    return login("admin")


@pytest.fixture
def events(thing):
    customer_id = uuid.uuid4()
    store.append("thing-1", [thing("web one"), thing("app one", channel="app")])
    secret = NewEvent(type="test.secret_noted", data={"note": "DNI 12345678Z", "amount": 7}, customer_id=customer_id)
    return customer_id, store.append(f"customer-{customer_id}", [secret])[0]


def test_the_changelist_lists_and_filters_events(admin_client, events):
    everything = admin_client.get("/admin/eventstore/event/")
    app_only = admin_client.get("/admin/eventstore/event/", {"channel": "app"})
    by_customer = admin_client.get("/admin/eventstore/event/", {"q": str(events[0])})

    assert everything.status_code == 200
    assert everything.context["cl"].result_count == 3
    assert [e.channel for e in app_only.context["cl"].result_list] == ["app"]
    assert [e.type for e in by_customer.context["cl"].result_list] == ["test.secret_noted"]


@override_settings(LANGUAGE_CODE="es")
def test_the_log_lists_the_newest_first_with_channels_by_name_and_long_ids_cut_short(admin_client, events):
    customer_id, secret = events

    response = admin_client.get("/admin/eventstore/event/")

    positions = [event.position for event in response.context["cl"].result_list]
    assert positions[0] == secret.position
    assert positions == sorted(positions, reverse=True)
    page = response.content.decode()
    assert '<td class="field-channel_label">App</td>' in page  # the code is "app"
    assert '<td class="field-channel_label">Web</td>' in page
    assert f'title="customer-{customer_id}">customer-{str(customer_id)[:8]}…</span>' in page
    assert f'/admin/customers/customer/{customer_id}/change/" title="{customer_id}">{str(customer_id)[:8]}…</a>' in page
    assert ">Tipo</a>" in page
    assert ">Ocurrido el</a>" in page


def test_the_detail_page_shows_decrypted_data_until_the_customer_is_erased(admin_client, events):
    customer_id, secret = events
    url = f"/admin/eventstore/event/{secret.position}/change/"

    assert "DNI 12345678Z" in admin_client.get(url).content.decode()
    keys.customer_key_destroy(customer_id=customer_id)
    page = admin_client.get(url).content.decode()
    assert "DNI 12345678Z" not in page
    assert keys.ERASED in page


def test_events_cannot_be_added_changed_or_deleted_from_the_admin(admin_client, events):
    _, secret = events

    assert admin_client.get("/admin/eventstore/event/add/").status_code == 403
    assert admin_client.post(f"/admin/eventstore/event/{secret.position}/delete/").status_code == 403
    admin_client.post(f"/admin/eventstore/event/{secret.position}/change/", {"type": "test.tampered"})
    assert Event.objects.get(position=secret.position).type == "test.secret_noted"


def test_staff_without_the_admin_role_do_not_see_the_log(login, events):
    client = login("store")

    assert client.get("/admin/eventstore/event/").status_code == 403


def test_the_checkpoints_page_shows_each_projections_position_and_lag_in_events(admin_client, events):
    projector.catch_up("customers.channel_daily")
    store.append("thing-2", [NewEvent(type="test.thing_happened", data={"label": "later"}, channel="web")])
    ProjectionCheckpoint.objects.update_or_create(name="insights.rollups", defaults={"position": 0})

    response = admin_client.get("/admin/eventstore/projectioncheckpoint/")

    assert response.status_code == 200
    rows = {row.name: row for row in response.context["cl"].result_list}
    admin_view = response.context["cl"].model_admin
    assert admin_view.lag(rows["customers.channel_daily"]) == "1"
    assert admin_view.lag(rows["insights.rollups"]) == "4"
    assert str(admin_view.mode(rows["insights.rollups"])) == "asynchronous"
    page = response.content.decode()
    assert "Lag (events)" in page
    assert "customers.channel_daily" in page
