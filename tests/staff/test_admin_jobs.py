"""The admin's navigation is grouped by job, in Spanish by default, and keeps each model's permissions."""

import pytest
from django.test import override_settings

from tests.factories import interaction

pytestmark = pytest.mark.django_db

JOBS_ES = ["Clientes y casos", "Pedidos y stock", "Campañas y journeys", "Métricas", "Conexiones", "Ajustes"]


@override_settings(LANGUAGE_CODE="es")
def test_the_admin_home_groups_models_by_job(login):
    client = login("admin")

    page = client.get("/admin/").content.decode()

    positions = [page.find(f'<span class="section">{job}</span>') for job in JOBS_ES]
    assert -1 not in positions
    assert positions == sorted(positions)
    customers = page.split('<span class="section">Clientes y casos</span>', 1)[1].split("</table>", 1)[0]
    assert "/admin/customers/customer/" in customers
    assert "/admin/customers/case/" in customers
    orders = page.split('<span class="section">Pedidos y stock</span>', 1)[1].split("</table>", 1)[0]
    assert orders.index("/admin/orders/") < orders.index("/admin/integrations/oversellalert/")


@override_settings(LANGUAGE_CODE="es")
def test_a_role_sees_only_the_jobs_it_could_see_before(login):
    client = login("marketing")

    page = client.get("/admin/").content.decode()

    assert '<span class="section">Campañas y journeys</span>' in page
    assert '<span class="section">Métricas</span>' in page
    assert "/admin/customers/customer/" not in page  # marketing never saw people in the admin


def test_the_customer_timeline_in_the_admin_folds_raw_data_for_admins_only(client, staff_user):
    from customers import services

    received = interaction(
        type="message.received",
        channel="whatsapp",
        customer={"phone": "+34600111222"},
        data={"text": "Hola", "provider_message_id": "wamid.1"},
    )
    customer = services.interactions_ingest(raw_items=[received], actor="test")[0].customer_id
    url = f"/admin/customers/customer/{customer}/change/"

    client.force_login(staff_user("support"))
    support = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.force_login(staff_user("admin"))
    admin = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Message received by WhatsApp: «Hola»" in support
    assert "provider_message_id" not in support
    assert "{&#x27;" not in support  # no Python dict, escaped or not
    assert '<details class="story__raw">' in admin
    assert "provider_message_id" in admin.split('<details class="story__raw">', 1)[1]
