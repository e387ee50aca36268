import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from customers import services
from customers.models import Customer
from customers.selectors import consent_allows, customer_360
from orders import services as order_services
from tests.factories import CustomerFactory, interaction
from tests.orders.chain import chain_create

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


def _consent_form(client, customer_id, **values) -> dict:
    """The consent change form as the admin shows it (with its change id), filled in."""
    shown = client.get(f"/admin/customers/customer/{customer_id}/consent/").context["form"]
    return {
        "channel": "whatsapp",
        "purpose": "marketing",
        "granted": "1",
        "source_channel": "store",
        "wording": "Acepto ofertas por WhatsApp",
        "change_id": shown["change_id"].value(),
        **values,
    }


def test_a_consent_change_at_the_counter_goes_through_the_service(store_client, ana):
    response = store_client.post(f"/admin/customers/customer/{ana}/consent/", _consent_form(store_client, ana))

    assert response.status_code == 302
    assert consent_allows(customer_id=ana, channel="whatsapp", purpose="marketing") is True


def test_a_consent_form_of_the_admin_sent_twice_records_one_change(store_client, ana):
    form = _consent_form(store_client, ana)

    assert store_client.post(f"/admin/customers/customer/{ana}/consent/", form).status_code == 302
    assert store_client.post(f"/admin/customers/customer/{ana}/consent/", form).status_code == 302

    assert Event.objects.filter(type="consent.granted", customer_id=ana).count() == 1


def test_an_old_consent_form_of_the_admin_resent_does_not_undo_a_later_change(store_client, ana):
    withdrawal = _consent_form(store_client, ana, granted="0")
    store_client.post(f"/admin/customers/customer/{ana}/consent/", withdrawal)
    store_client.post(f"/admin/customers/customer/{ana}/consent/", _consent_form(store_client, ana))

    store_client.post(f"/admin/customers/customer/{ana}/consent/", withdrawal)  # the old tab, sent again

    assert consent_allows(customer_id=ana, channel="whatsapp", purpose="marketing") is True


def test_a_consent_form_of_the_admin_resent_with_other_details_is_refused(store_client, ana):
    form = _consent_form(store_client, ana)
    store_client.post(f"/admin/customers/customer/{ana}/consent/", form)

    response = store_client.post(f"/admin/customers/customer/{ana}/consent/", {**form, "channel": "sms"})

    assert response.status_code == 200
    assert "sent already with other details" in response.content.decode()
    assert consent_allows(customer_id=ana, channel="sms", purpose="marketing") is not True


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


# --- A person made of several customers ---------------------------------------------------------------------------


@pytest.fixture
def place_order():
    """place_order(customer_id): one T-shirt (19.90) on the web, picked up in Madrid."""
    chain_create()
    order_services.stock_move(sku="CAM-ALG-BLA-M", location="MAD-01", kind="received", quantity=20, actor="test")

    def place(customer_id, channel="web"):
        order_services.order_place(
            customer=str(customer_id),
            channel=channel,
            lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
            fulfilment={"method": "pickup", "location": "MAD-01"},
            actor="test",
        )

    return place


def _merged_person(place_order, name: str):
    """A person who ordered once on the web and once in the app, as two profiles merged since: the survivor."""
    web = CustomerFactory(email=f"{name}@example.es").id
    app = CustomerFactory(email=f"{name}.app@example.es", channel="app").id
    place_order(web)
    place_order(app, channel="app")
    services.customer_merge(customer_ids=(web, app), into=web, actor="t")
    projector.catch_up_all()  # the counters on the rows and the channels used are asynchronous projections'
    return web


def _field(html: str, label: str) -> str:
    """The value the change page shows under a label."""
    return re.search(rf"<label>{label}:</label>\s*<div class=\"readonly\">(.*?)</div>", html).group(1)


def test_the_admin_page_of_a_merged_person_counts_every_profiles_orders(store_client, place_order):
    person = _merged_person(place_order, "ana")

    html = store_client.get(f"/admin/customers/customer/{person}/change/").content.decode()

    view = customer_360(customer_id=person)
    assert _field(html, "Orders") == str(view["order_count"]) == "2"
    assert _field(html, "Lifetime value") == str(view["lifetime_value"]) == "39.80"
    assert _field(html, "Channels used") == "App, Web"
    assert _field(html, "Interactions") == str(view["interaction_count"])
    assert view["interaction_count"] > Customer.objects.get(id=person).interaction_count


def _list_rows(client) -> tuple[list[str], int]:
    """The list's rows as "orders|lifetime value|channels used", and the queries the page took."""
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/admin/customers/customer/").content.decode()
    table = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    head, body = table.split("</thead>", 1)
    columns = re.findall(r'<div class="text">(?:<a [^>]*>|<span>)([^<]*)<', head)
    wanted = [columns.index(label) for label in ("Orders", "Lifetime value", "Channels used")]
    rows = []
    for row in body.split("<tr>")[1:]:
        cells = re.findall(r'<t[hd] class="field-[^"]*">(.*?)</t[hd]>', row)
        rows.append("|".join(cells[i] for i in wanted))
    return rows, len(queries)


def test_the_customer_list_counts_every_profiles_orders_in_queries_that_do_not_grow_with_the_page(
    store_client, place_order
):
    _merged_person(place_order, "ana")
    _rows, queries_for_one = _list_rows(store_client)
    for name in ("ben", "carla", "dani"):
        _merged_person(place_order, name)

    rows, queries_for_four = _list_rows(store_client)

    # The people with both profiles' orders; the merged app profiles (listed too) with their own.
    assert sorted(rows) == ["1|19.90|App"] * 4 + ["2|39.80|App, Web"] * 4
    assert queries_for_four == queries_for_one
