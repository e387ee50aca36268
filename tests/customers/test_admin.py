import pytest

from backoffice.eventstore import projector
from customers import services
from customers.models import Customer
from customers.selectors import consent_allows
from tests.factories import interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana():
    return services.interactions_ingest(
        raw_items=[interaction(customer={"email": "ana@example.es", "phone": "600111222"})], actor="test"
    )[0].customer_id


@pytest.fixture
def store_client(login):
    return login("store")


def test_store_staff_find_a_customer_by_phone_in_any_format(store_client, ana):
    response = store_client.get("/admin/customers/customer/", {"q": "+34 600 11 12 22"})

    assert response.status_code == 200
    assert [c.id for c in response.context["cl"].result_list] == [ana]


def test_the_customer_page_shows_identifiers_and_timeline_read_only(store_client, ana):
    page = store_client.get(f"/admin/customers/customer/{ana}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "ana@example.es" in html
    assert "+34600111222" in html
    assert "cart.item_added" in html
    assert 'name="_save"' not in html


def test_a_consent_change_at_the_counter_goes_through_the_service(store_client, ana):
    response = store_client.post(
        f"/admin/customers/customer/{ana}/consent/",
        {
            "channel": "whatsapp",
            "purpose": "marketing",
            "granted": "1",
            "source_channel": "store",
            "wording": "Acepto ofertas por WhatsApp",
        },
    )

    assert response.status_code == 302
    assert consent_allows(customer_id=ana, channel="whatsapp", purpose="marketing") is True


def test_marketing_staff_do_not_see_customers_in_the_admin(login, ana):
    client = login("marketing")

    assert client.get("/admin/customers/customer/").status_code == 403
    assert client.get(f"/admin/customers/customer/{ana}/consent/").status_code == 403


def test_support_staff_erase_a_customer_from_the_admin(login, ana):
    client = login("support")

    confirm = client.get(f"/admin/customers/customer/{ana}/erase/")
    response = client.post(f"/admin/customers/customer/{ana}/erase/")

    assert confirm.status_code == 200
    assert response.status_code == 302
    page = client.get(f"/admin/customers/customer/{ana}/change/").content.decode()
    assert "ana@example.es" not in page
    assert Customer.objects.get(id=ana).erased_at is not None


def test_store_staff_may_not_erase(store_client, ana):
    assert store_client.post(f"/admin/customers/customer/{ana}/erase/").status_code == 403
    assert Customer.objects.get(id=ana).erased_at is None


def test_support_staff_export_a_customer_from_the_admin_with_progress_and_a_file(login, ana):
    import base64
    import json

    from backoffice.eventstore import store

    client = login("support")

    confirm = client.get(f"/admin/customers/customer/{ana}/export/")
    before = [e.type for e in store.read_customer(ana)].count("customer.exported")
    done = client.post(f"/admin/customers/customer/{ana}/export/")

    assert confirm.status_code == 200
    assert 'class="launch-progress"' not in confirm.content.decode()
    html = done.content.decode()
    progress = html.split('class="launch-progress"', 1)[1].split("</div>", 1)[0]
    assert 'data-done="5" data-total="5"' in progress  # counts done of total, the same markup as a launch
    assert '<progress max="5" value="5">' in progress
    assert "http-equiv" not in progress
    assert "Done: 5 of 5 parts exported" in progress
    link = html.split('href="data:application/json;base64,', 1)[1].split('"', 1)[0]
    body = json.loads(base64.b64decode(link))
    assert body["id"] == str(ana)
    assert "ana@example.es" in [i["value"] for i in body["identifiers"]]
    assert f'download="customer-{ana}.json"' in html
    assert [e.type for e in store.read_customer(ana)].count("customer.exported") == before + 1  # recorded once


def test_store_staff_may_not_export(store_client, ana):
    assert store_client.post(f"/admin/customers/customer/{ana}/export/").status_code == 403


def test_the_customer_list_shows_the_name_and_channels_by_their_labels(store_client, ana):
    services.interactions_ingest(
        raw_items=[interaction(customer={"email": "ana@example.es", "name": "Ana Gil"}, channel="whatsapp")],
        actor="test",
    )
    projector.catch_up_all()  # the channels used are the activity projection's

    html = store_client.get("/admin/customers/customer/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    row = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    assert f'<a href="/admin/customers/customer/{ana}/change/">Ana Gil</a>' in row  # the name is the link
    assert '<td class="field-acquisition">Web</td>' in row
    assert '<td class="field-channels">Web, WhatsApp</td>' in row
    assert str(ana) not in row.replace(f"/customer/{ana}/change/", "")  # no 36-character id column
    filters = html.split('id="changelist-filter"', 1)[1]
    assert '<a href="?acquisition_channel=store">Tienda</a>' in filters
