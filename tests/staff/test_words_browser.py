"""Pages speak the staff's language: in a real browser, no page of the staff's daily work shows a raw Python or
JSON dict, or an internal field path (`valid_until`, `costs.push`, `lines.0.sku`, `message.deferred`) where a label
or a sentence belongs; the worksheet's failed checks name the question and the field as the form labels it; the
till's refusals and the timeline's pipeline events read as what they mean."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backoffice.eventstore import projector, store
from backoffice.messaging.services import message_send, messages_drain
from campaigns import services as campaign_services
from customers.services.cases import case_open
from tests.campaigns.conftest import ready_values, segment

pytestmark = pytest.mark.django_db(transaction=True)

RAW_DICT = re.compile(r"""\{\s*['"][\w.]+['"]\s*:""")
# snake_case words and dotted paths standing alone (not in an email address, a URL, or a {placeholder} staff type).
FIELD_PATH = re.compile(r"(?<![\w@/.{-])(?:[a-z]+(?:_[a-z0-9]+)+|[a-z_]+\.(?:\d+\.)?[a-z_]+)(?![\w@/.}-])")


def _visible_text(page) -> str:
    """What the page shows (closed "details" toggles stay closed: their raw data is for those who open them)."""
    return page.locator("body").inner_text()


def _internal_words(page) -> list[str]:
    text = _visible_text(page)
    return RAW_DICT.findall(text) + FIELD_PATH.findall(text)


@pytest.fixture
def story(customer_with_history, shop):
    """A customer with a week on six channels, an order, a case, and a message held for quiet hours."""
    customer_id = customer_with_history(email="rosa@example.es", phone="+34600222333")
    shop(
        customer_id,
        order_id="W-1001",
        channel="web",
        lines=[{"sku": "CAM-ALG-BLA-M", "quantity": 1}],
        fulfilment={"method": "ship"},
    )
    case = case_open(
        customer_id=customer_id, channel="email", subject="Talla equivocada", text="Me llegó una M.", actor="test"
    )
    message_id = str(uuid.uuid4())
    store.append(
        f"message-{message_id}",
        [
            store.NewEvent(
                "message.deferred",
                {
                    "message_id": message_id,
                    "purpose": "marketing",
                    "until": (timezone.now() + timedelta(hours=9)).isoformat(),
                    "reason": "quiet_hours",
                },
                channel="sms",
                customer_id=customer_id,
            )
        ],
    )
    projector.catch_up_all()
    return customer_id, case


def test_no_daily_page_shows_a_raw_dict_or_an_internal_field_path(story, staff_page, screenshot):
    customer_id, case = story
    seg = segment()
    draft = campaign_services.campaign_save(
        campaign=None,
        values=ready_values(valid_until=None, costs={"email": "0.01"}, channels=["email", "sms", "push"]),
        actor="user:1",
        segment_ids=[seg.id],
    )

    support = staff_page("support")
    support.goto(f"/staff/customers/{customer_id}/")
    deferred = support.locator('#timeline li.tl[data-type="message.deferred"] .tl__sentence').inner_text()
    assert deferred.startswith("Aviso aplazado por horario de descanso")
    placed = support.locator('#timeline li.tl[data-type="order.placed"]')
    assert placed.locator(".tl__sentence").inner_text().startswith("Pedido W-1001 realizado en Web · ")
    assert placed.get_by_role("link", name="Abrir el pedido").get_attribute("href") == "/staff/orders/W-1001/"
    assert support.locator(".tl__raw").count() == 0  # raw data is for admins only
    assert _internal_words(support) == []
    screenshot(support, "staff-customer")
    support.goto(f"/staff/cases/{case.id}/")
    assert _internal_words(support) == []

    admin = staff_page("admin")
    admin.goto(f"/admin/customers/customer/{customer_id}/change/")
    line = admin.locator('#timeline .story__line[data-type="message.deferred"]')
    assert line.locator(".story__sentence").inner_text().startswith("Aviso aplazado por horario de descanso")
    assert not line.locator(".story__raw pre").is_visible()  # folded, one click away
    line.locator(".story__raw summary").click()
    assert "quiet_hours" in line.locator(".story__raw pre").inner_text()
    line.locator(".story__raw summary").click()
    assert _internal_words(admin) == []
    screenshot(admin, "admin-customer")
    admin.goto(f"/admin/customers/customer/{customer_id}/consent/")
    assert _internal_words(admin) == []

    marketing = staff_page("marketing")
    marketing.goto(f"/admin/campaigns/campaign/{draft.pk}/change/")
    checks = marketing.locator(".qqoqcp-problems").inner_text()
    assert "Oferta válida hasta" in checks
    assert "coste por mensaje (Notificación push)" in checks
    assert "valid_until" not in checks
    assert "costs.push" not in checks
    assert _internal_words(marketing) == []
    screenshot(marketing, "worksheet-checks")
    marketing.goto("/admin/insights/dashboard/")
    assert _internal_words(marketing) == []


def test_the_admins_lists_name_codes_by_their_labels_and_show_every_column_at_1440_pixels(
    story, staff_page, screenshot
):
    customer_id, case = story
    for origin in ({"campaign_id": str(uuid.uuid4())}, {"case_id": str(case.pk)}, {"order_id": "W-1001"}):
        message_send(
            customer_id=customer_id,
            channel="sms",
            purpose="service",
            content={"text": "Tu pedido W-1001 está en camino"},
            idempotency_key=f"k-{uuid.uuid4()}",
            actor="test",
            **origin,
        )
    messages_drain()
    admin = staff_page("admin", viewport={"width": 1440, "height": 900})
    for name, url, labels in (
        ("customers", "/admin/customers/customer/", ["Teléfono", "Tienda"]),  # in the filter
        ("orders", "/admin/orders/order/", ["Envío a domicilio", "Venta en caja"]),
        ("carts", "/admin/orders/cart/", ["App"]),
        ("cases", "/admin/customers/case/", ["Correo electrónico"]),
        ("messages", "/admin/messaging/outboundmessage/", ["campaña", "caso", "pedido"]),
        ("events", "/admin/eventstore/event/", ["Por tipo", "Por canal", "Correo electrónico"]),
    ):
        admin.goto(url)
        results = admin.locator("#changelist .results")
        hidden = results.evaluate("r => r.scrollWidth - r.clientWidth")
        screenshot(admin, f"admin-list-{name}")
        assert hidden <= 0, f"{name}: {hidden}px of the list's columns are out of sight"
        text = admin.locator("#changelist").inner_text()
        for label in labels:
            assert label in text, f"{name}: {label} missing"
        cells = admin.locator("#result_list td").all_inner_texts()
        assert not {"web", "app", "store", "email", "pickup", "ship"} & set(cells), f"{name}: a raw code in a cell"


def test_the_tills_refusals_name_the_field_as_the_form_does(staff_page, shop):
    till = staff_page("store")
    till.goto("/staff/till/")
    till.fill("input[name=sku]", "NO-SUCH-SKU")
    till.fill("input[name=quantity]", "1")
    with till.expect_navigation():
        till.locator("main form button[type=submit]").click()

    expect(till.locator("main")).to_contain_text("Producto desconocido.")
    assert _internal_words(till) == []
