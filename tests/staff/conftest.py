"""Fixtures for the staff pages' browser tests: a live server, Debian's chromium driven by Playwright, a page
logged in through the login form for any role, a customer with a history on several channels, and screenshots.

    def test_something(staff_page, customer_with_history, screenshot):
        page = staff_page("support")            # logged in, Spanish UI, tablet-sized window, on the start page
        page.goto(f"/staff/customers/{customer_with_history()}/")
        screenshot(page, "customer")            # test-artifacts/screenshots/<test name>/NN-customer.png

Screenshots go to test-artifacts/screenshots/ at the top of the repository (git ignores test-artifacts/; CI keeps
it as an artifact).
"""

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import sync_playwright

from backoffice.accounts.models import Role
from backoffice.accounts.services import staff_user_save
from customers import services
from orders import services as order_services
from tests.browser import SCREENSHOTS, launch_chromium
from tests.factories import ConsentFactory, interaction
from tests.orders.chain import PRODUCTS, chain_create

# A 11-inch counter tablet in landscape.
TABLET = {"width": 1180, "height": 820}
PASSWORD = "a long counter password"
_usernames = itertools.count()


@pytest.fixture
def browser(monkeypatch):
    """Debian's chromium (never a downloaded one), one per test.

    While Playwright's sync API is started it keeps its asyncio loop marked as running in this thread, so Django
    refuses database access from the test body (SynchronousOnlyOperation) although no coroutine ever touches the
    database: Playwright only drives the browser, and the live server answers in its own thread. The flag lifts
    that check for the browser tests only (monkeypatch undoes it after the test), and the browser is started per
    test so that no loop outlives it into the rest of the suite.

    With the loop running, Django also keeps this thread's database connections apart (asgiref's Local goes by
    context then), so the test body opens connections of its own; they are closed here, inside the loop, or
    PostgreSQL would keep them open and refuse to drop the test database at the end.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            connections.close_all()
            chromium.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page, "step") saves the whole page as test-artifacts/screenshots/<test>/<NN>-<step>.png."""
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    steps = itertools.count(1)

    def take(page, name: str) -> Path:
        path = folder / f"{next(steps):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def spanish_by_default(settings):
    """The product's default language (the test settings use English)."""
    settings.LANGUAGE_CODE = "es"


@pytest.fixture
def browser_page(browser, live_server, spanish_by_default):
    """new_page(locale=..., viewport=...): a fresh browser context on the live server, not logged in."""
    contexts = []

    def new_page(*, locale: str = "es-ES", viewport: dict | None = None):
        context = browser.new_context(base_url=live_server.url, locale=locale, viewport=viewport or TABLET)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def staff_page(browser_page, screenshot):
    """staff_page(role, ...): a page logged in through the staff login form as a new user with that role."""

    def log_in(role: str = Role.SUPPORT, *, location_code: str | None = None, **page_options):
        username = f"{role}-browser-{next(_usernames)}"
        location = location_code if location_code is not None else ("MAD-01" if role == Role.STORE else "")
        staff_user_save(username=username, role=role, location_code=location, password=PASSWORD)
        page = browser_page(**page_options)
        page.goto("/staff/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        screenshot(page, "login")
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        assert "/staff/login/" not in page.url, f"login as {role} failed"
        page.staff_username = username
        return page

    return log_in


HISTORY_START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
# (type, channel, data): a week of one customer on six channels.
HISTORY = [
    ("product.viewed", "web", {"sku": "CAM-ALG-BLA-M", "url": "https://tienda.example.com/p/cam-alg-bla-m"}),
    ("app.opened", "app", {"screen": "home", "app_version": "4.2.0"}),
    ("cart.item_added", "app", {"cart_id": "c-1001", "sku": "CAM-ALG-BLA-M", "quantity": 1, "unit_price": "19.90"}),
    ("store.visited", "store", {"location": "MAD-01", "minutes": 25}),
    ("message.received", "email", {"subject": "Talla equivocada", "text": "Me llegó una M y pedí una L."}),
    ("call.received", "phone", {"reason": "Cambio de talla", "seconds": 240}),
    ("message.received", "whatsapp", {"text": "¿Puedo cambiarla en la tienda de Sol?"}),
]


@pytest.fixture
def customer_with_history(db):
    """customer_with_history(email=..., phone=...): a customer with a week of events on six channels and marketing
    consent given on SMS and email. Returns the customer id."""
    counter = itertools.count()

    def make(*, email: str | None = None, phone: str = "600111222", loyalty_card: str | None = None):
        n = next(counter)
        who = {"email": email or f"ana{n}@example.es", "phone": phone}
        if loyalty_card:
            who["loyalty_card"] = loyalty_card
        raw = [
            interaction(
                type=event_type,
                channel=channel,
                customer=who,
                occurred_at=(HISTORY_START + timedelta(hours=7 * index)).isoformat(),
                data=data,
            )
            for index, (event_type, channel, data) in enumerate(HISTORY)
        ]
        customer_id = services.interactions_ingest(raw_items=raw, actor="test")[0].customer_id
        for channel in ("sms", "email"):
            ConsentFactory(
                customer_id=customer_id,
                channel=channel,
                wording=f"Acepto recibir ofertas por {channel}.",
                occurred_at=HISTORY_START - timedelta(days=30),
            )
        return customer_id

    return make


@pytest.fixture
def shop(db):
    """Two stores and a warehouse, two products, stock: 3 T-shirts in Madrid, 5 in Valencia, 10 in the warehouse;
    2 jeans in Madrid. Made through the orders services. Returns place(customer_id, channel, lines, fulfilment)
    that places an order (and pays it when paid=True)."""
    chain_create(PRODUCTS[:2])
    for sku, code, quantity in (
        ("CAM-ALG-BLA-M", "MAD-01", 3),
        ("CAM-ALG-BLA-M", "VLC-01", 5),
        ("CAM-ALG-BLA-M", "WH-ZGZ", 10),
        ("PAN-VAQ-SLI-40", "MAD-01", 2),
    ):
        order_services.stock_move(sku=sku, location=code, kind="received", quantity=quantity, actor="test")

    def place(customer_id, *, order_id, channel="app", lines, fulfilment, steps=("pay",)):
        order, _ = order_services.order_place(
            order_id=order_id, customer=customer_id, channel=channel, lines=lines, fulfilment=fulfilment, actor="test"
        )
        for step in steps:
            order = order_services.order_act(order_id=order.id, action=step, actor="test")
        return order

    return place
