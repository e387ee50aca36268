"""Staff pages through Django's test client: who gets in, what the pages show, and bad input as 4xx pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings

from backoffice.accounts.services import staff_user_save
from backoffice.eventstore import projector
from backoffice.eventstore.models import Event
from backoffice.staff import presenters
from backoffice.staff.views import TIMELINE_PAGE_SIZE
from customers import services
from customers.models import Customer
from customers.selectors import consent_allows
from customers.services.ingestion import customer_register
from tests.factories import UserFactory, interaction
from tests.pages import page_text

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _ingest(customer: dict, items: list[tuple[str, str, dict]]):
    raw = [
        interaction(
            type=event_type,
            channel=channel,
            customer=customer,
            occurred_at=(START + timedelta(minutes=index)).isoformat(),
            data=data,
        )
        for index, (event_type, channel, data) in enumerate(items)
    ]
    result = services.interactions_ingest(raw_items=raw, actor="test")
    projector.catch_up_all()
    return result[0].customer_id


@pytest.fixture
def ana():
    return _ingest(
        {"email": "ana@example.es", "phone": "600111222", "loyalty_card": "LC-7781"},
        [
            ("product.viewed", "web", {"sku": "CAM-ALG-BLA-M"}),
            ("store.visited", "store", {"location": "MAD-01"}),
            ("call.received", "phone", {"reason": "¿Dónde está mi pedido?"}),
            ("message.received", "whatsapp", {"text": "Hola, la talla no es la mía"}),
        ],
    )


# Collected the same in every pytest-xdist worker: an id of nobody, fixed.
UNKNOWN_ID = uuid.UUID(int=0xD0E5)


# --- Who gets in ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/staff/", "/staff/customers/", f"/staff/customers/{UNKNOWN_ID}/", f"/staff/customers/{UNKNOWN_ID}/consents/"],
)
def test_an_anonymous_visitor_is_sent_to_the_staff_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/staff/login/?next={path}")


def test_the_login_page_is_public_and_has_a_csrf_protected_form(client):
    page = client.get("/staff/login/")

    assert page.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in page_text(page)


def test_store_staff_log_in_through_the_form_and_land_on_the_customer_search(client, staff_user):
    staff_user_save(username="lucia", role="store", location_code="MAD-01", password="a long counter password")

    response = client.post("/staff/login/", {"username": "lucia", "password": "a long counter password"}, follow=True)

    assert response.redirect_chain[-1][0] == "/staff/customers/"
    assert response.status_code == 200


def test_an_integration_account_cannot_log_in_to_the_staff_pages(client):
    staff_user_save(username="pos-system", role="integration", password="a long system password")

    response = client.post("/staff/login/", {"username": "pos-system", "password": "a long system password"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "cannot use the staff pages" in page_text(response)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, staff_user):
    staff_user("support")

    response = client.post("/staff/login/", {"username": "support-0", "password": "nope"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_logging_out_is_a_post_and_ends_the_session(login):
    client = login("support")

    response = client.post("/staff/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/staff/login/"
    assert client.get("/staff/customers/").status_code == 302


@pytest.mark.parametrize("role", ["admin", "support", "store"])
def test_people_facing_roles_see_the_customer_pages(login, role, ana):
    client = login(role)

    assert client.get("/staff/customers/", {"q": "600111222"}).status_code == 200
    assert client.get(f"/staff/customers/{ana}/").status_code == 200


def test_marketing_gets_a_403_page_on_people_pages_and_a_home_page(login, ana):
    client = login("marketing")

    search = client.get("/staff/customers/", {"q": "600111222"})
    detail = client.get(f"/staff/customers/{ana}/")
    consent = client.post(f"/staff/customers/{ana}/consents/", {"channel": "sms", "purpose": "marketing"})
    home = client.get("/staff/")

    assert [search.status_code, detail.status_code, consent.status_code] == [403, 403, 403]
    assert "ana@example.es" not in page_text(detail)
    assert "staff/error.html" in [t.name for t in detail.templates]
    assert home.status_code == 200
    assert consent_allows(customer_id=ana, channel="sms", purpose="marketing") is False


@pytest.mark.parametrize("role", ["integration", None])
def test_accounts_without_a_staff_ui_role_get_a_403_page(client, staff_user, role):
    client.force_login(staff_user(role) if role else UserFactory())

    response = client.get("/staff/")

    assert response.status_code == 403
    assert "has no staff pages" in page_text(response)


def test_people_facing_roles_start_at_the_customer_search(login):
    response = login("store").get("/staff/")

    assert response.status_code == 302
    assert response["Location"] == "/staff/customers/"


def test_the_navigation_shows_each_role_what_it_may_open(login):
    store_page = page_text(login("store").get("/staff/customers/"))
    marketing_page = page_text(login("marketing").get("/staff/"))

    assert 'href="/staff/customers/"' in store_page
    assert 'href="/admin/"' not in store_page
    assert 'href="/staff/customers/"' not in marketing_page
    assert 'href="/admin/"' in marketing_page


# --- Search --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["600 11 12 22", "+34600111222", "0034 600-111-222", "ANA@example.es", "LC-7781"])
def test_a_customer_is_found_by_phone_in_any_spelling_email_or_loyalty_card(login, ana, query):
    response = login("store").get("/staff/customers/", {"q": query})

    assert [row["customer"].id for row in response.context["results"]] == [ana]
    html = page_text(response)
    assert f'href="/staff/customers/{ana}/"' in html
    assert "+34 600 11 12 22" in html
    assert "ana@example.es" in html


def test_one_result_is_a_list_with_a_link_not_a_redirect(login, ana):
    response = login("support").get("/staff/customers/", {"q": "600111222"})

    assert response.status_code == 200
    assert "1 customer found" in page_text(response)


def test_nobody_matching_says_so(login, ana):
    response = login("support").get("/staff/customers/", {"q": "nadie@example.es"})

    assert response.context["results"] == []
    assert "Nobody matches" in page_text(response)


def test_a_query_too_short_is_explained_and_searches_nothing(login, ana):
    response = login("support").get("/staff/customers/", {"q": "60"})

    assert response.status_code == 200
    assert response.context["results"] is None
    assert "at least 3 characters" in page_text(response)


def test_the_search_page_without_a_query_shows_the_form(login):
    response = login("support").get("/staff/customers/")

    assert response.status_code == 200
    assert response.context["results"] is None
    assert 'name="q"' in page_text(response)


@pytest.fixture
def alvaro():
    customer_id, _ = customer_register(
        customer={"email": "alvaro@example.es", "name": "Álvaro Núñez Ibáñez"}, channel="store", actor="test"
    )
    return customer_id


def _found(client, query) -> list:
    response = client.get("/staff/customers/", {"q": query})
    assert response.status_code == 200
    return [row["customer"].id for row in response.context["results"]]


@pytest.mark.parametrize("query", ["Álvaro Núñez", "álvaro núñez", "ÁLVARO NÚÑEZ"])
def test_a_name_with_accents_is_found_whatever_the_case_typed(login, alvaro, query):
    """The search by name was `icontains`: on SQLite, the embedded default, LIKE folds ASCII only."""
    assert _found(login("store"), query) == [alvaro]


def test_a_name_typed_without_its_accents_is_found(login, alvaro):
    """Counter tablets and phones: staff type "alvaro nunez" for Álvaro Núñez."""
    assert _found(login("support"), "alvaro nunez") == [alvaro]


# --- Customer page -------------------------------------------------------------------------------------------------


def test_the_customer_page_shows_the_360_view(login, ana):
    response = login("store").get(f"/staff/customers/{ana}/")

    html = page_text(response)
    assert "ana@example.es" in html
    assert "+34 600 11 12 22" in html
    assert "LC-7781" in html
    assert {c["code"] for c in response.context["channels"]} == {"web", "store", "phone", "whatsapp"}
    assert response.context["customer"].interaction_count == 5  # registered, then four interactions
    assert 'id="consents"' in html


def test_the_timeline_is_newest_first_with_a_channel_and_a_label_for_each_event(login, ana):
    response = login("store").get(f"/staff/customers/{ana}/")

    rows = response.context["timeline"]
    assert [row["event"].type for row in rows][:4] == [
        "message.received",
        "call.received",
        "store.visited",
        "product.viewed",
    ]
    assert [row["channel_label"] for row in rows][:4] == ["WhatsApp", "Phone", "Store", "Web"]
    html = page_text(response)
    assert 'href="#ch-whatsapp"' in html
    assert "Phone call" in html
    assert "¿Dónde está mi pedido?" in html


@override_settings(LANGUAGE_CODE="es")
def test_the_customer_page_speaks_spanish_by_default(login, ana):
    html = page_text(login("store").get(f"/staff/customers/{ana}/"))

    assert "Llamada telefónica" in html
    assert "Consentimientos" in html
    assert 'lang="es"' in html


def test_the_timeline_pages_with_the_keyset_cursor(login):
    many = _ingest(
        {"email": "eva@example.es"},
        [("page.viewed", "web", {"url": f"https://tienda.example.com/p/{i}"}) for i in range(TIMELINE_PAGE_SIZE + 5)],
    )
    client = login("support")

    first = client.get(f"/staff/customers/{many}/")
    more_url = first.context["timeline_more_url"]
    second = client.get(f"/staff/customers/{many}/{more_url.split('#')[0]}")

    first_ids = [row["event"].id for row in first.context["timeline"]]
    second_ids = [row["event"].id for row in second.context["timeline"]]
    assert len(first_ids) == TIMELINE_PAGE_SIZE
    assert not set(first_ids) & set(second_ids)
    # customer.registered and TIMELINE_PAGE_SIZE + 5 page views, split over two pages, none lost
    assert len(first_ids) + len(second_ids) == TIMELINE_PAGE_SIZE + 6
    assert second.context["timeline_more_url"] is None
    assert "Back to the newest" in page_text(second)


def test_the_timeline_filters_by_channel_and_keeps_the_filter_when_paging(login, ana):
    response = login("support").get(f"/staff/customers/{ana}/", {"channel": "phone"})

    assert [row["event"].type for row in response.context["timeline"]] == ["call.received"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": presenters.cursor_encode(START, 1)[:-3] + "!!!"},
        {"cursor": "MjAyNi0xMS0wMVQwOTowMDowMHwx"},  # a naive time: not one we gave out
        {"channel": "pigeon"},
    ],
)
def test_bad_timeline_parameters_are_a_400_page_not_a_500(login, ana, params):
    response = login("support").get(f"/staff/customers/{ana}/", params)

    assert response.status_code == 400
    assert "staff/error.html" in [t.name for t in response.templates]


def test_an_unknown_customer_is_a_404_page(login):
    response = login("support").get(f"/staff/customers/{uuid.uuid4()}/")

    assert response.status_code == 404
    assert "staff/error.html" in [t.name for t in response.templates]


def test_a_merged_customer_id_redirects_to_the_customer_it_was_merged_into(login, ana):
    twin = _ingest({"email": "ana.twin@example.es"}, [("page.viewed", "web", {"url": "https://x.es/"})])
    Customer.objects.filter(id=twin).update(merged_into_id=ana)

    response = login("store").get(f"/staff/customers/{twin}/")

    assert response.status_code == 302
    assert response["Location"] == f"/staff/customers/{ana}/"


def test_an_erased_customer_shows_that_it_was_erased_and_nothing_personal(login, ana):
    services.customer_erase(customer_id=ana, actor="test")

    response = login("support").get(f"/staff/customers/{ana}/")

    html = page_text(response)
    assert response.status_code == 200
    assert "Erased customer" in html
    for personal in ("ana@example.es", "600", "LC-7781", "talla", "pedido"):
        assert personal not in html.replace(str(ana), "")
    assert "timeline" not in response.context


def test_the_open_cases_and_orders_sections_show_their_empty_state(login, ana):
    response = login("store").get(f"/staff/customers/{ana}/")

    assert response.context["open_cases"] == []
    assert response.context["orders"] == []
    html = page_text(response)
    assert "No open cases." in html
    assert "No orders yet." in html


def test_the_orders_section_says_where_each_order_is_and_links_it(login, ana):
    from orders import services as order_services
    from tests.orders.chain import chain_create

    chain_create()
    order_services.stock_move(sku="CAM-ALG-BLA-M", location="WH-ZGZ", kind="received", quantity=5, actor="test")
    ship = {"method": "ship"}
    line = [{"sku": "CAM-ALG-BLA-M", "quantity": 1}]
    for order_id, steps in (
        ("W-1", ("pay", "ship", "deliver")),
        ("W-2", ("pay", "ship", "deliver", "return")),
        ("W-3", ()),
    ):
        order_services.order_place(
            order_id=order_id, customer=ana, channel="web", lines=line, fulfilment=ship, actor="t"
        )
        for step in steps:
            order_services.order_act(
                order_id=order_id, action=step, actor="t", location="WH-ZGZ" if step == "return" else None
            )
    projector.catch_up_all()

    response = login("support").get(f"/staff/customers/{ana}/")

    rows = {row["number"]: row for row in response.context["orders"]}
    # Where the order is now, as the orders app knows it: every one read "placed" unless it was cancelled.
    assert {number: str(row["status_label"]) for number, row in rows.items()} == {
        "W-1": "delivered",
        "W-2": "returned",
        "W-3": "placed",
    }
    assert rows["W-1"]["url"] == "/staff/orders/W-1/"
    assert str(rows["W-2"]["total"]) == "0.00"  # refunded in full


@pytest.mark.parametrize("page", ["customer", "case"])
def test_a_shop_order_number_in_the_timeline_is_text_and_only_held_orders_are_linked(login, page):
    # Segment's "Checkout Started" / "Coupon Applied" carry the shop's own order number, slash and all.
    from customers.services import cases as case_services
    from orders import services as order_services
    from tests.orders.chain import chain_create

    chain_create()
    order_services.stock_move(sku="CAM-ALG-BLA-M", location="WH-ZGZ", kind="received", quantity=5, actor="test")
    customer_id = _ingest(
        {"email": "luis@example.es"},
        [
            ("checkout.started", "web", {"cart_id": "c1", "order_id": "2026/000123", "value": "30.00"}),
            ("coupon.applied", "web", {"order_id": "2026/000123", "code": "BIENVENIDA"}),
        ],
    )
    order_services.order_place(
        order_id="W-1",
        customer=customer_id,
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment={"method": "ship"},
        actor="t",
    )
    projector.catch_up_all()
    path = f"/staff/customers/{customer_id}/"
    if page == "case":
        case = case_services.case_open(customer_id=customer_id, channel="email", subject="Pedido", text="?", actor="t")
        path = f"/staff/cases/{case.id}/"
    client = login("support")
    client.raise_request_exception = False

    response = client.get(path)

    assert response.status_code == 200
    links = {row["event"].type: row["link_url"] for row in response.context["timeline"]}
    assert links["checkout.started"] == links["coupon.applied"] == ""
    assert links["order.placed"] == "/staff/orders/W-1/"


# --- Consent at the counter ----------------------------------------------------------------------------------------


def as_shown(data: dict) -> dict:
    """A consent change as the page's form posts it: with the change id of the form shown."""
    return {**data, "change_id": str(uuid.uuid4())}


def test_the_consent_page_shows_the_wording_to_read_out(login, ana):
    response = login("store").get(
        f"/staff/customers/{ana}/consents/", {"channel": "sms", "purpose": "marketing", "granted": "1"}
    )

    assert response.status_code == 200
    assert "I agree to receive offers and news by SMS." in page_text(response)


def test_store_staff_record_a_consent_at_the_counter_as_the_store_channel(login, ana):
    client = login("store")

    response = client.post(
        f"/staff/customers/{ana}/consents/",
        as_shown(
            {
                "channel": "sms",
                "purpose": "marketing",
                "granted": "1",
                "source_channel": "store",
                "wording": "Acepto recibir ofertas por SMS.",
            }
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == f"/staff/customers/{ana}/#consents"
    assert consent_allows(customer_id=ana, channel="sms", purpose="marketing") is True
    event = Event.objects.filter(type="consent.granted").get()
    assert event.channel == "store"
    page = client.get(response["Location"])
    assert "Consent given: Offers and news by SMS." in page_text(page)


def test_support_staff_record_a_withdrawal_as_the_phone_channel(login, ana):
    client = login("support")

    client.post(
        f"/staff/customers/{ana}/consents/",
        as_shown(
            {"channel": "email", "purpose": "service", "granted": "0", "source_channel": "phone", "wording": "No."}
        ),
    )

    assert consent_allows(customer_id=ana, channel="email", purpose="service") is False
    assert Event.objects.filter(type="consent.revoked").get().channel == "phone"


def test_store_staff_cannot_claim_the_change_happened_on_the_phone(login, ana):
    response = login("store").post(
        f"/staff/customers/{ana}/consents/",
        as_shown(
            {"channel": "sms", "purpose": "marketing", "granted": "1", "source_channel": "phone", "wording": "Sí."}
        ),
    )

    assert response.status_code == 400
    assert not Event.objects.filter(type__startswith="consent.").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "pigeon", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": "x"},
        {"channel": "sms", "purpose": "gossip", "granted": "1", "source_channel": "store", "wording": "x"},
        {"channel": "sms", "purpose": "marketing", "granted": "maybe", "source_channel": "store", "wording": "x"},
        {"channel": "sms", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": ""},
        {"channel": "sms", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": "x" * 2001},
    ],
)
def test_a_bad_consent_change_is_a_400_and_records_nothing(login, ana, data):
    response = login("store").post(f"/staff/customers/{ana}/consents/", as_shown(data))

    assert response.status_code == 400
    assert not Event.objects.filter(type__startswith="consent.").exists()


def test_a_consent_page_with_bad_parameters_is_a_400_page(login, ana):
    response = login("store").get(f"/staff/customers/{ana}/consents/", {"channel": "pigeon"})

    assert response.status_code == 400


def test_the_consent_of_an_erased_customer_cannot_be_changed(login, ana):
    services.customer_erase(customer_id=ana, actor="test")
    events_before = Event.objects.count()

    response = login("store").post(
        f"/staff/customers/{ana}/consents/",
        as_shown(
            {"channel": "sms", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": "Sí."}
        ),
    )

    assert response.status_code == 409
    assert Event.objects.count() == events_before


def test_a_consent_change_for_a_merged_id_lands_on_the_surviving_customer(login, ana):
    twin = _ingest({"email": "ana.twin@example.es"}, [("page.viewed", "web", {"url": "https://x.es/"})])
    Customer.objects.filter(id=twin).update(merged_into_id=ana)

    response = login("store").post(
        f"/staff/customers/{twin}/consents/",
        as_shown(
            {"channel": "whatsapp", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": "Sí."}
        ),
    )

    assert response["Location"] == f"/staff/customers/{ana}/#consents"
    assert consent_allows(customer_id=ana, channel="whatsapp", purpose="marketing") is True


def shown_consent_form(client, customer_id, **query) -> dict:
    """What the consent page's form posts, exactly as the page renders it (hidden fields included)."""
    form = client.get(f"/staff/customers/{customer_id}/consents/", query).context["form"]
    return {name: form[name].value() for name in form.fields}


def test_a_consent_form_posted_twice_records_one_change(login, ana):
    """Like the till's sale_id, the return's return_id and the reply's reply_id: a double tap or the browser's
    resend of one form shown is one change in the ledger, not two."""
    client = login("store")
    data = shown_consent_form(client, ana, channel="sms", purpose="marketing", granted="1")

    first = client.post(f"/staff/customers/{ana}/consents/", data)
    again = client.post(f"/staff/customers/{ana}/consents/", data)  # the double tap

    assert first.status_code == again.status_code == 302
    assert again["Location"] == f"/staff/customers/{ana}/#consents"
    assert Event.objects.filter(type="consent.granted").count() == 1


def test_an_old_consent_form_resent_does_not_undo_a_later_change(login, ana):
    """The clerk withdrew SMS offers at the counter; the customer then opted in again on the web. The browser's
    resend of the clerk's old form (reload of the POST, back+submit) does not withdraw it a second time."""
    client = login("store")
    services.consent_record(
        customer_id=ana,
        channel="sms",
        purpose="marketing",
        is_granted=True,
        source_channel="web",
        wording="Acepto",
        actor="t",
    )
    data = shown_consent_form(client, ana, channel="sms", purpose="marketing", granted="0")
    assert client.post(f"/staff/customers/{ana}/consents/", data).status_code == 302
    services.consent_record(
        customer_id=ana,
        channel="sms",
        purpose="marketing",
        is_granted=True,
        source_channel="web",
        wording="Acepto de nuevo",
        actor="t",
    )

    client.post(f"/staff/customers/{ana}/consents/", data)  # the same form, resent

    assert consent_allows(customer_id=ana, channel="sms", purpose="marketing") is True
    assert Event.objects.filter(type="consent.revoked").count() == 1


def test_a_consent_form_without_its_change_id_is_a_400_and_records_nothing(login, ana):
    client = login("store")
    data = shown_consent_form(client, ana, channel="sms", purpose="marketing", granted="1")
    del data["change_id"]

    response = client.post(f"/staff/customers/{ana}/consents/", data)

    assert response.status_code == 400
    assert not Event.objects.filter(type__startswith="consent.").exists()


def test_a_consent_form_resent_with_another_wording_is_refused_and_changes_nothing(login, ana):
    client = login("store")
    data = shown_consent_form(client, ana, channel="sms", purpose="marketing", granted="1")
    client.post(f"/staff/customers/{ana}/consents/", data)

    response = client.post(f"/staff/customers/{ana}/consents/", {**data, "wording": "Otro texto"})

    assert response.status_code == 409
    assert "This form was sent already with other details" in page_text(response)
    assert Event.objects.filter(type="consent.granted").count() == 1


def test_the_consent_grid_says_service_is_allowed_and_marketing_is_not_until_recorded():
    rows = presenters.consent_grid([])

    cells = {(c.channel, c.purpose): c for row in rows for c in row["cells"]}
    assert cells[("sms", "service")].is_allowed is True
    assert cells[("sms", "marketing")].is_allowed is False
    assert {c.state for c in cells.values()} == {"default"}


def test_every_channel_has_a_label_and_an_icon():
    from django.template.loader import get_template

    from backoffice.eventstore.schema import CHANNELS

    icons = get_template("staff/includes/icons.html").template.source
    assert set(presenters.CHANNEL_LABELS) == set(CHANNELS)
    for channel in CHANNELS:
        assert f'id="ch-{channel}"' in icons


def test_an_admin_chooses_whether_the_change_happened_in_a_store_or_on_the_phone(login, ana):
    response = login("admin").get(
        f"/staff/customers/{ana}/consents/", {"channel": "email", "purpose": "marketing", "granted": "1"}
    )

    html = page_text(response)
    assert '<select name="source_channel"' in html
    assert 'value="store"' in html
    assert 'value="phone"' in html


def test_a_consent_change_without_the_csrf_token_is_refused_and_records_nothing(staff_user, ana):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user("store"))

    response = client.post(
        f"/staff/customers/{ana}/consents/",
        as_shown(
            {"channel": "sms", "purpose": "marketing", "granted": "1", "source_channel": "store", "wording": "Sí."}
        ),
    )

    assert response.status_code == 403
    assert not Event.objects.filter(type__startswith="consent.").exists()


def test_after_logging_in_staff_land_on_the_page_they_asked_for(client, ana):
    staff_user_save(username="lucia", role="store", location_code="MAD-01", password="a long counter password")
    asked = client.get(f"/staff/customers/{ana}/")

    response = client.post(
        asked["Location"],
        {"username": "lucia", "password": "a long counter password", "next": f"/staff/customers/{ana}/"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/staff/customers/{ana}/"


def test_switching_to_english_keeps_the_staff_member_on_the_same_page(login, ana):
    client = login("store")

    response = client.post("/i18n/setlang/", {"language": "en", "next": f"/staff/customers/{ana}/"})
    page = page_text(client.get(response["Location"]))

    assert response["Location"] == f"/staff/customers/{ana}/"
    assert 'lang="en"' in page
    assert "Timeline" in page


def test_the_role_decorator_guards_function_views_like_the_mixin(rf, staff_user):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from backoffice.staff.access import PEOPLE_ROLES, staff_role_required

    @staff_role_required(*PEOPLE_ROLES)
    def view(request):
        return HttpResponse(request.staff_role)

    def call(user):
        request = rf.get("/staff/somewhere/")
        request.user = user
        return view(request)

    assert call(AnonymousUser())["Location"] == "/staff/login/?next=/staff/somewhere/"
    assert call(staff_user("marketing")).status_code == 403
    assert call(staff_user("support")).content == b"support"


def test_a_search_by_a_merged_profiles_email_lists_every_identifier_of_the_person(login, ana):
    app = services.interactions_ingest(
        raw_items=[interaction(customer={"email": "ana.app@example.es", "phone": "622333444"}, channel="app")],
        actor="test",
    )[0].customer_id
    services.customer_merge(customer_ids=(ana, app), into=ana, actor="t")

    response = login("store").get("/staff/customers/", {"q": "ana.app@example.es"})

    (row,) = response.context["results"]
    assert row["customer"].id == ana
    assert {i["value"] for i in row["identifiers"]} >= {"ana@example.es", "ana.app@example.es", "+34 622 33 34 44"}
    assert [i["kind"] for i in row["identifiers"]] == sorted(
        (i["kind"] for i in row["identifiers"]), key=list(presenters.IDENTIFIER_LABELS).index
    )
