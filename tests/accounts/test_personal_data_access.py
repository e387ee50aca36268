"""Every read of a customer's personal data by staff or a system is recorded: who (user, role), whom (customer id),
where (surface), when, and the request id; nothing personal about the customer is in the record. Administrators see
who viewed a customer in the admin."""

import pytest
from django.test import Client

from backoffice.accounts.models import PersonalDataAccess
from backoffice.accounts.services import staff_user_save

from ..factories import CaseFactory, CustomerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-password-42"  # noqa: S105


def _accesses():
    return list(PersonalDataAccess.objects.order_by("id").values_list("actor_username", "customer_id", "surface"))


@pytest.fixture
def ana():
    return CustomerFactory(email="ana.garcia@example.es", name="Ana García")


def test_a_360_view_through_the_api_records_who_read_whom_with_the_request_id(api_client_for, ana):
    client = api_client_for("support")

    response = client.get(f"/api/v1/customers/{ana.id}", HTTP_X_REQUEST_ID="req-360-1")

    assert response.status_code == 200
    access = PersonalDataAccess.objects.get()
    assert (access.actor, access.actor_username, access.actor_role) == (client.user, client.user.username, "support")
    assert (access.customer_id, access.surface, access.request_id) == (ana.id, "api.customer", "req-360-1")
    stored = " ".join(str(v) for v in PersonalDataAccess.objects.values().get().values())
    assert "ana" not in stored.lower()
    assert "garcía" not in stored.lower()


@pytest.mark.parametrize(
    ("path", "surface"),
    [
        ("/api/v1/customers/{id}/timeline", "api.timeline"),
        ("/api/v1/customers/{id}/export", "api.export"),
        ("/api/v1/customers/{id}/consents", "api.consents"),
        ("/api/v1/customers/{id}?as_of=2030-01-01T00:00:00Z", "api.customer"),
    ],
)
def test_each_api_read_of_a_customer_is_recorded(api_client_for, ana, path, surface):
    client = api_client_for("admin")

    assert client.get(path.format(id=ana.id)).status_code == 200

    assert _accesses() == [(client.user.username, ana.id, surface)]


def test_a_search_records_each_customer_it_showed(api_client_for, ana):
    other = CustomerFactory(email="ana.lopez@example.es")
    CustomerFactory(email="pedro@example.es")
    client = api_client_for("store")

    found = client.post("/api/v1/customers/search", {"q": "ana.garcia@example.es"}, format="json").json()["results"]
    client.get("/api/v1/customers?limit=2")

    assert [c["id"] for c in found] == [str(ana.id)]
    assert [c for _, c, s in _accesses() if s == "api.search"] == [ana.id]
    assert other.id not in [c for _, c, s in _accesses() if s == "api.search"]
    assert len([1 for *_, s in _accesses() if s == "api.list"]) == 2


def test_answers_that_show_a_customer_after_a_write_record_the_read(api_client_for, ana):
    """Registering a known identifier answers the person with every identifier they have (a lookup, as a search
    is); a merge and an unmerge answer 360 views."""
    other = CustomerFactory(phone="+34600111222")
    client = api_client_for("support")

    registered = client.post(
        "/api/v1/customers", {"customer": {"email": "ana.garcia@example.es"}, "channel": "store"}, format="json"
    )
    new = client.post(
        "/api/v1/customers", {"customer": {"email": "nuevo@example.es"}, "channel": "store"}, format="json"
    )
    merged = client.post("/api/v1/customers/merge", {"customer_ids": [str(ana.id), str(other.id)]}, format="json")
    unmerged = client.post(f"/api/v1/customers/{other.id}/unmerge", {}, format="json")

    assert (registered.status_code, new.status_code, merged.status_code, unmerged.status_code) == (200, 201, 200, 200)
    user = client.user.username
    assert _accesses() == [
        (user, ana.id, "api.search"),  # the new customer's own identifiers are what the caller sent: not recorded
        (user, ana.id, "api.customer"),
        (user, other.id, "api.customer"),
        (user, other.id, "api.customer"),
        (user, ana.id, "api.customer"),
    ]


def test_a_case_read_records_its_customer(api_client_for, ana):
    case = CaseFactory(customer_id=ana.id)
    client = api_client_for("support")

    assert client.get(f"/api/v1/cases/{case.id}").status_code == 200

    assert _accesses() == [(client.user.username, ana.id, "api.case")]


def test_a_refused_or_failed_read_records_nothing(api_client_for, ana):
    marketing = api_client_for("marketing")

    assert marketing.get(f"/api/v1/customers/{ana.id}").status_code == 403
    assert api_client_for("support").get("/api/v1/customers/00000000-0000-0000-0000-000000000000").status_code == 404
    assert _accesses() == []


def _staff_client(role="support") -> Client:
    user = staff_user_save(username=f"{role}-web", role=role, location_code="MAD-01" if role == "store" else "")
    user.set_password(PASSWORD)
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_staff_pages_record_the_customer_page_the_search_results_and_the_case_page(ana):
    case = CaseFactory(customer_id=ana.id)
    client = _staff_client()

    assert client.get(f"/staff/customers/{ana.id}/").status_code == 200
    assert client.get("/staff/customers/", {"q": "ana.garcia@example.es"}).status_code == 200
    assert client.get(f"/staff/cases/{case.id}/").status_code == 200

    assert _accesses() == [
        ("support-web", ana.id, "staff.customer"),
        ("support-web", ana.id, "staff.search"),
        ("support-web", ana.id, "staff.case"),
    ]


def test_the_admin_records_a_customer_opened_and_the_customers_listed(admin_client, ana):
    assert admin_client.get(f"/admin/customers/customer/{ana.id}/change/").status_code == 200
    assert admin_client.get("/admin/customers/customer/").status_code == 200

    assert [s for *_, s in _accesses()] == ["admin.customer", "admin.list"]


def test_administrators_see_who_viewed_a_customer_and_other_roles_do_not(admin_client, api_client_for, ana):
    bob = CustomerFactory(email="bob@example.es")
    reader = api_client_for("support")
    reader.get(f"/api/v1/customers/{ana.id}")
    reader.get(f"/api/v1/customers/{bob.id}/timeline")

    report = admin_client.get(f"/admin/accounts/personaldataaccess/?customer_id={ana.id}")

    assert report.status_code == 200
    rows = list(report.context_data["cl"].result_list)
    seen = [(r.actor_username, r.customer_id, r.surface) for r in rows]
    assert seen == [(reader.user.username, ana.id, "api.customer")]
    page = admin_client.get(f"/admin/customers/customer/{ana.id}/change/").content.decode()
    assert f"/admin/accounts/personaldataaccess/?customer_id={ana.id}" in page
    support = _staff_client()
    assert support.get("/admin/accounts/personaldataaccess/").status_code in (302, 403)


def test_a_recorded_access_cannot_be_changed(api_client_for, ana):
    api_client_for("support").get(f"/api/v1/customers/{ana.id}")
    access = PersonalDataAccess.objects.get()

    access.surface = "api.timeline"
    with pytest.raises(ValueError, match="only ever added"):
        access.save()
