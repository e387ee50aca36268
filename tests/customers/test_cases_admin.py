"""Cases in the admin: read-only, with the thread and the SLA state; customers show their cases and merges."""

import pytest

from customers import services
from customers.services import cases as case_services
from customers.services.ingestion import customer_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def case():
    customer_id, _ = customer_register(customer={"email": "rosa@example.es"}, channel="web", actor="t")
    return case_services.case_open(
        customer_id=customer_id, channel="phone", subject="Devolución", text="Quiero devolver unas botas", actor="t"
    )


def test_support_staff_read_a_case_with_its_thread(login, case):
    client = login("support")

    page = client.get(f"/admin/customers/case/{case.pk}/change/").content.decode()

    assert "Quiero devolver unas botas" in page
    assert "Devolución" in page


def test_the_customer_page_lists_cases_and_merged_customers(login, case):
    other, _ = customer_register(customer={"phone": "611000111"}, channel="sms", actor="t")
    services.customer_merge(customer_ids=(case.customer_id, other), actor="t")
    client = login("support")

    page = client.get(f"/admin/customers/customer/{case.customer_id}/change/").content.decode()

    assert "Devolución" in page
    assert str(other) in page
    assert "+34611000111" in page


def test_marketing_staff_do_not_see_cases(login, case):
    client = login("marketing")

    assert client.get(f"/admin/customers/case/{case.pk}/change/").status_code in (302, 403)


def test_the_case_admin_speaks_spanish_by_default(login, case, settings):
    settings.LANGUAGE_CODE = "es"
    client = login("support")

    page = client.get("/admin/customers/case/", HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Casos" in page
    assert "abierto en" in page.lower() or "Abierto en" in page
