"""Customers with addresses and consents, a small catalogue with orders, and a campaign that passes every check,
all made through the services."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from backoffice.eventstore import projector
from campaigns import services as campaign_services
from campaigns.personalisation import forget_pairs
from customers.services.ingestion import customer_register
from orders import services as order_services
from tests.factories import ConsentFactory

PRODUCTS = (
    ("CAM-BLA", "Camiseta blanca", "camisetas", "19.90"),
    ("PAN-VAQ", "Vaquero slim", "pantalones", "49.90"),
    ("ZAP-RUN", "Zapatillas running", "calzado", "69.90"),
    ("GOR-AZU", "Gorra azul", "accesorios", "12.00"),
)


@pytest.fixture(autouse=True)
def _fresh_recommendations():
    """Co-purchases are cached per process for a few minutes; each test has its own orders."""
    forget_pairs()
    yield
    forget_pairs()


@pytest.fixture
def person(db):
    """A registered customer with an email and a phone, granting marketing consent on the channels given."""
    counter = iter(range(1, 1_000_000))

    def make(*, consents=("email",), name: str = "", language: str = "es", **profile) -> uuid.UUID:
        n = next(counter)
        identifiers = {"email": f"cliente{n}-{uuid.uuid4().hex[:6]}@example.es", "phone": f"+3461{n:03d}{n:04d}"}
        if name:
            identifiers["name"] = name
        customer_id, _ = customer_register(customer=identifiers, channel="web", actor="test")
        for channel in consents:
            grant(customer_id, channel)
        from customers.models import Customer

        Customer.objects.filter(id=customer_id).update(language=language, **profile)
        return customer_id

    return make


def grant(customer_id, channel):
    ConsentFactory(customer_id=customer_id, channel=channel, wording="Acepto")


def revoke(customer_id, channel):
    ConsentFactory(customer_id=customer_id, channel=channel, is_granted=False, source_channel=channel, wording="BAJA")


@pytest.fixture
def shop(db):
    """Two stores, four products, plenty of stock; `buy(customer, [skus], location)` places an order."""
    order_services.location_create(code="MAD-01", name="Madrid Gran Vía", kind="store", city="Madrid", actor="t")
    order_services.location_create(code="VLC-01", name="Valencia Colón", kind="store", city="Valencia", actor="t")
    for sku, name, category, price in PRODUCTS:
        order_services.product_save(sku=sku, name=name, category=category, price=Decimal(price), actor="t")
        for code in ("MAD-01", "VLC-01"):
            order_services.stock_move(sku=sku, location=code, kind="received", quantity=1000, actor="t")

    def buy(customer_id, skus, location="MAD-01", occurred_at=None, channel="store"):
        order, _ = order_services.order_place(
            customer=str(customer_id),
            channel=channel,
            lines=[{"sku": sku, "quantity": 1} for sku in skus],
            fulfilment={"method": "pickup", "location": location},
            actor="test",
            occurred_at=occurred_at,
        )
        projector.catch_up("customers.commerce")  # the order figures segments read: asynchronous, as a worker keeps
        return order

    return buy


def segment(rules=None, name=None, actor="marketing-1"):
    rules = rules or {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]}
    return campaign_services.segment_save(name=name or f"seg-{uuid.uuid4().hex[:6]}", rules=rules, actor=actor)


def worksheet_dates() -> dict[str, str]:
    """The worksheet's dates as a form posts them: started, and ending a year after today. Fixed dates put the end in
    the past one day (on 2027-01-01 every person of a launch expired and the tests asserting a send failed)."""
    ends = timezone.localdate() + timedelta(days=365)
    return {
        "starts_at": "2026-01-01T09:00",
        "ends_at": f"{ends.isoformat()}T09:00",
        "valid_until": (ends + timedelta(days=30)).isoformat(),
    }


def ready_values(**overrides) -> dict:
    now = timezone.now()
    values = {
        "name": "Rebajas de invierno",
        "key_message": "Rebajas de invierno en toda la tienda",
        "intent": "Reactivar clientes",
        "offer_code": "INVIERNO20",
        "discount": "20%",
        "valid_until": timezone.localdate() + timedelta(days=30),
        "channels": ["email", "sms"],
        "channel_mode": "best",
        "starts_at": now - timedelta(minutes=1),
        "ends_at": now + timedelta(days=14),
        "email_subject": "{name}, {discount} para ti",
        "email_body": "Usa {offer_code} hasta {valid_until}. Te recomendamos {product}.",
        "sms_text": "{name}: {discount} con {offer_code} hasta {valid_until}",
        "whatsapp_template": "winter_sale",
        "whatsapp_parameters": "{name}\n{offer_code}\n{discount}\n{valid_until}",
        "push_title": "{discount} de descuento",
        "push_body": "Código {offer_code} hasta {valid_until}",
        "objective": "Vender más en enero",
        "kpi": "conversion",
        "target_value": Decimal("0.05"),
        "attribution_days": 7,
        "costs": {"email": "0.01", "sms": "0.05", "whatsapp": "0.04", "push": "0", "facebook": "0", "instagram": "0"},
        "budget": Decimal("500"),
    }
    values.update(overrides)
    return values


@pytest.fixture
def make_campaign(db):
    def make(*, segments=None, author="user:1", **overrides):
        segments = segments if segments is not None else [segment()]
        return campaign_services.campaign_save(
            campaign=None, values=ready_values(**overrides), actor=author, segment_ids=[s.id for s in segments]
        )

    return make


@pytest.fixture
def launched(make_campaign, django_capture_on_commit_callbacks):
    """Approve (as a second person) and launch a campaign, running every after-commit task in process."""

    def make(campaign=None, **overrides):
        campaign = campaign or make_campaign(**overrides)
        campaign_services.campaign_approve(campaign_id=campaign.id, actor="user:2")
        with django_capture_on_commit_callbacks(execute=True):
            campaign_services.campaign_launch(campaign_id=campaign.id, actor="user:2")
        campaign.refresh_from_db()
        return campaign

    return make
