"""A small shop whose every figure was computed by hand (see test_metrics.py for the arithmetic).

Events go through the real event store; the erasure through the real GDPR service.
"""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from backoffice.eventstore import projector, store
from customers.services.gdpr import customer_erase

PERIOD = {"from": "2026-01-01", "to": "2026-03-31"}
SPRING = "2f1e0d9c-0000-4000-8000-000000000001"


def at(day: str, hh_mm: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hh_mm}:00").replace(tzinfo=UTC)


class Shop:
    def __init__(self):
        self.customers: dict[str, uuid.UUID] = {}

    def emit(self, stream, type_, data, *, channel=None, customer=None, when):
        customer_id = self.customers[customer] if customer else None
        store.append(
            stream,
            [store.NewEvent(type_, data, channel=channel, customer_id=customer_id, occurred_at=when)],
        )

    def register(self, name, channel, day):
        cid = self.customers[name] = uuid.uuid4()
        self.emit(
            f"customer-{cid}",
            "customer.registered",
            {"customer_id": str(cid), "identifiers": [{"kind": "email", "value": f"{name.lower()}@example.es"}]},
            channel=channel,
            customer=name,
            when=at(day),
        )

    def merge(self, merged, into, day):
        self.emit(
            f"customer-{self.customers[into]}",
            "customer.merged",
            {
                "customer_id": str(self.customers[into]),
                "merged": str(self.customers[merged]),
                "evidence": {"reason": "manual"},
            },
            customer=into,
            when=at(day),
        )

    def order(self, order_id, customer, channel, day, total, *, method="ship", location=""):
        self.emit(
            f"order-{order_id}",
            "order.placed",
            {
                "order_id": order_id,
                "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": total, "location": location or "WH-ZGZ"}],
                "total": total,
                "currency": "EUR",
                "fulfilment": {"method": method, "location": location},
            },
            channel=channel,
            customer=customer,
            when=at(day),
        )

    def refund(self, order_id, customer, channel, day, amount):
        self.emit(
            f"order-{order_id}",
            "order.returned",
            {
                "order_id": order_id,
                "location": "MAD-01",
                "lines": [{"sku": "SKU-1", "quantity": 1}],
                "refund_amount": amount,
            },
            channel=channel,
            customer=customer,
            when=at(day),
        )

    def cancel(self, order_id, customer, channel, day, reason=""):
        self.emit(
            f"order-{order_id}",
            "order.cancelled",
            {"order_id": order_id, "reason": reason},
            channel=channel,
            customer=customer,
            when=at(day),
        )

    def case(self, customer, channel, opened, *, first_response=None, resolved=None, csat=None):
        case_id = str(uuid.uuid4())
        stream = f"case-{case_id}"
        cid = str(self.customers[customer])
        self.emit(
            stream,
            "case.opened",
            {"case_id": case_id, "customer_id": cid, "subject": "Ayuda"},
            channel=channel,
            customer=customer,
            when=opened,
        )
        if first_response:
            self.emit(
                stream,
                "case.message_added",
                {"case_id": case_id, "direction": "out", "text": "Hola"},
                channel=channel,
                customer=customer,
                when=first_response,
            )
        if resolved:
            self.emit(
                stream,
                "case.resolved",
                {"case_id": case_id, "resolution": "Hecho"},
                channel=channel,
                customer=customer,
                when=resolved,
            )
        if csat:
            self.emit(
                stream,
                "case.csat_recorded",
                {"case_id": case_id, "score": csat},
                channel=channel,
                customer=customer,
                when=resolved,
            )

    def message(self, type_, customer, channel, day, campaign_id, message_id, **extra):
        self.emit(
            f"message-{message_id}",
            type_,
            {"message_id": message_id, "purpose": "marketing", "campaign_id": campaign_id, **extra},
            channel=channel,
            customer=customer,
            when=at(day),
        )

    def interaction(self, type_, data, customer, channel, day, times=1):
        for _ in range(times):
            self.emit(
                f"customer-{self.customers[customer]}", type_, data, channel=channel, customer=customer, when=at(day)
            )

    def stock_count(self, sku, location, day, expected, counted):
        self.emit(
            f"stock-{sku}@{location}",
            "stock.counted",
            {
                "sku": sku,
                "location": location,
                "counted": counted,
                "expected": expected,
                "shrinkage": expected - counted,
            },
            when=at(day),
        )


@pytest.fixture
def insights_settings(settings):
    settings.INSIGHTS_MESSAGE_COSTS = {"email": Decimal("9.99"), "sms": Decimal("9.99")}  # the campaign's own win
    settings.INSIGHTS_GROSS_MARGIN = Decimal("0.40")
    settings.INSIGHTS_EXPECTED_LIFESPAN_YEARS = Decimal("3")
    settings.INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS = 7
    settings.TIME_ZONE = "Europe/Madrid"
    return settings


@pytest.fixture
def shop(db, insights_settings):
    from backoffice.insights.services import acquisition_spend_set

    s = Shop()
    s.register("E", "web", "2025-12-15")
    s.register("A", "web", "2026-01-05")
    s.register("B", "store", "2026-01-10")
    s.register("C", "web", "2026-01-20")
    s.register("D", "app", "2026-02-03")

    for channel, month, amount in [("web", 1, "300"), ("web", 2, "100"), ("store", 1, "100"), ("app", 2, "50")]:
        acquisition_spend_set(channel=channel, month=date(2026, month, 1), amount=Decimal(amount), actor="test")
    acquisition_spend_set(channel="web", month=date(2026, 4, 1), amount=Decimal("999"), actor="test")

    # The campaign is event-sourced like the rest: its worksheet, launch and audience are in the log.
    worksheet = {"name": "Primavera", "attribution_days": 7, "costs": {"email": "0.50", "sms": "0.25"}}
    s.emit(
        f"campaign-{SPRING}",
        "campaign.created",
        {"campaign_id": SPRING, "worksheet": worksheet},
        when=at("2026-01-01"),
    )
    launch = {"channels": [], "channel_mode": "best", "holdout_share": "0.5", "launched_at": at("2026-01-02", "09:00")}
    s.emit(f"campaign-{SPRING}", "campaign.launched", {"campaign_id": SPRING, **launch}, when=at("2026-01-02"))
    members = {name: s.customers[name] for name in ("A", "B", "D", "E")}
    s.emit(
        f"campaign-audience-{SPRING}",
        "campaign.audience_snapshotted",
        {
            "campaign_id": SPRING,
            "customer_ids": sorted(str(cid) for cid in members.values()),
            "holdout_ids": [str(members["D"]), str(members["E"])],
            "is_done": True,
        },
        when=at("2026-01-02"),
    )
    s.message("message.sent", "B", "sms", "2026-01-02", SPRING, "m-b", attempt=1)
    s.order("o1", "A", "web", "2026-01-06", "100.00")
    s.order("o4", "B", "store", "2026-01-12", "40.00")
    s.order("o5", "B", "store", "2026-01-20", "60.00")
    s.cancel("o5", "B", "store", "2026-01-21", "changed her mind")
    s.order("o3", "C", "app", "2026-01-25", "80.00")
    s.merge("C", "A", "2026-01-30")
    s.order("o6", "D", "app", "2026-02-05", "200.00")
    s.message("message.sent", "A", "email", "2026-02-08", SPRING, "m-a", attempt=1)
    s.message("message.delivered", "A", "email", "2026-02-08", SPRING, "m-a")
    s.message("message.clicked", "A", "email", "2026-02-09", SPRING, "m-a", url="https://shop.example/p")
    s.order("o2", "A", "store", "2026-02-10", "50.00")
    s.refund("o2", "A", "store", "2026-02-15", "20.00")
    s.order("o7", "E", "web", "2026-03-03", "30.00", method="pickup", location="MAD-01")
    s.order("o8", "E", "web", "2026-03-10", "25.00", method="pickup", location="MAD-01")
    s.cancel("o8", "E", "store", "2026-03-11", "Sin stock en tienda")

    # customer, channel, opened, first response, resolved (day, time each), CSAT
    for customer, channel, opened, first_response, resolved, csat in (
        ("A", "phone", ("2026-01-07", "10:00"), ("2026-01-07", "10:30"), ("2026-01-07", "12:00"), 5),
        ("B", "whatsapp", ("2026-01-13", "09:00"), ("2026-01-13", "15:00"), ("2026-01-16", "09:00"), 2),
        ("D", "whatsapp", ("2026-02-06", "10:00"), ("2026-02-06", "10:10"), ("2026-02-06", "11:10"), 4),
    ):
        s.case(
            customer,
            channel,
            at(*opened),
            first_response=at(*first_response),
            resolved=at(*resolved),
            csat=csat,
        )
    s.case("E", "phone", at("2026-03-01", "08:00"))

    s.stock_count("SKU-1", "MAD-01", "2026-02-01", expected=10, counted=8)
    s.stock_count("SKU-2", "MAD-01", "2026-03-02", expected=5, counted=5)
    s.stock_count("SKU-1", "BCN-01", "2026-02-01", expected=4, counted=6)

    s.interaction("page.viewed", {"url": "https://shop.example/"}, "A", "web", "2026-01-04", times=3)
    s.interaction("search.performed", {"query": "camisa"}, "A", "web", "2026-01-04")
    s.interaction("product.viewed", {"sku": "SKU-1"}, "D", "app", "2026-02-04")
    s.interaction(
        "cart.item_added",
        {"cart_id": "c1", "sku": "SKU-1", "quantity": 1, "unit_price": "10.00"},
        "A",
        "web",
        "2026-01-05",
        times=2,
    )
    s.interaction("review.posted", {"rating": 5}, "A", "web", "2026-01-08")
    s.interaction("content.shared", {"url": "https://shop.example/p"}, "A", "instagram", "2026-01-08")
    s.emit(
        f"customer-{s.customers['B']}",
        "consent.granted",
        {"customer_id": str(s.customers["B"]), "channel": "email", "purpose": "marketing"},
        channel="store",
        customer="B",
        when=at("2026-01-10"),
    )

    customer_erase(customer_id=s.customers["D"], actor="test")
    projector.catch_up_all(["insights.rollups", "insights.campaign_audience"])
    return s
