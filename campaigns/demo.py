"""Demo campaigns for `seed_demo`: two finished campaigns with real deliveries (through the outbound pipeline, with
delivery, open and click callbacks), orders from part of their audiences and a measurable lift against the holdout,
and one draft still missing answers.

Everything goes through the services: segments, worksheet, approval by a second staff member, launch, fan-out,
`order_place`. Idempotent: campaigns are found by name, orders have ids derived from campaign and customer, callbacks
are deduplicated by messaging, and people are registered by their identifiers.
"""

import hashlib
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from backoffice.eventstore.vocabulary import Channel, FulfilmentMethod, Purpose
from backoffice.messaging.selectors import campaign_messages
from backoffice.messaging.services import message_status_record, messages_drain
from backoffice.messaging.vocabulary import Status as MessageStatus
from customers.selectors import marketing_consent_pairs
from customers.services import consent_record
from customers.services.ingestion import customer_register
from orders import services as order_services
from orders.selectors import active_products, store_skus_with_stock

from . import services
from .models import AudienceMember, Campaign, Segment, Status

ACTOR = "seed_demo"
AUTHOR, APPROVER = "seed_demo:marketing", "seed_demo:admin"
PEOPLE = 240
# Who buys within the window: the treated convert more than the holdout (the lift the report shows).
CONVERSION = {"treated": 0.28, "holdout": 0.10}
DEMO_PRODUCTS = (
    ("DEMO-CAM-BLA", "Camiseta algodón blanca", "camisetas", "19.90"),
    ("DEMO-VAQ-SLI", "Vaquero slim", "pantalones", "49.90"),
    ("DEMO-ZAP-RUN", "Zapatillas running", "calzado", "69.90"),
    ("DEMO-GOR-AZU", "Gorra azul", "accesorios", "12.00"),
)


def _draw(key: str) -> float:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def seed_campaigns(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    _people()
    location, skus = _catalog()
    email_segment = _segment(
        "Clientes solo con email de marketing",
        {
            "op": "and",
            "rules": [
                {"field": "consent", "cmp": "eq", "value": "email"},
                {"field": "consent", "cmp": "ne", "value": "sms"},
                {"field": "consent", "cmp": "ne", "value": "whatsapp"},
            ],
        },
    )
    sms_segment = _segment(
        "Clientes con SMS o WhatsApp",
        {
            "op": "or",
            "rules": [
                {"field": "consent", "cmp": "eq", "value": "sms"},
                {"field": "consent", "cmp": "eq", "value": "whatsapp"},
            ],
        },
    )
    winter = _finished(
        "Rebajas de invierno",
        now,
        [email_segment],
        {
            "key_message": "Rebajas de invierno en toda la tienda",
            "intent": "Reactivar a quien compró el último año",
            "offer_code": "INVIERNO20",
            "discount": "20%",
            "channels": ["email", "sms"],
            "channel_mode": "best",
            "email_subject": "{name}, {discount} en toda la tienda",
            "email_body": "Hola {name}: usa {offer_code} hasta {valid_until}. Te recomendamos {product}.",
            "sms_text": "{name}: {discount} con {offer_code} hasta {valid_until}",
            "objective": "Reactivar clientes en enero",
            "kpi": "conversión",
            "target_value": Decimal("0.15"),
            "costs": {"email": "0.002", "sms": "0.05"},
            "budget": Decimal("300"),
        },
    )
    spring = _finished(
        "Nueva colección de primavera",
        now,
        [sms_segment],
        {
            "key_message": "Llega la colección de primavera",
            "intent": "Dar a conocer la colección",
            "offer_code": "PRIMAVERA10",
            "discount": "10%",
            "channels": ["whatsapp", "sms"],
            "channel_mode": "every",
            "whatsapp_template": "new_collection",
            "whatsapp_parameters": "{name}\n{offer_code}\n{discount}\n{valid_until}",
            "sms_text": "{discount} en la nueva colección con {offer_code} hasta {valid_until}",
            "objective": "Ventas de la colección en su primer mes",
            "kpi": "ingresos",
            "target_value": Decimal("2000"),
            "costs": {"whatsapp": "0.04", "sms": "0.05"},
            "budget": Decimal("500"),
        },
    )
    messages_drain()
    callbacks = _callbacks([winter, spring])
    orders = sum(_orders(campaign, location, skus) for campaign in (winter, spring))
    draft = Campaign.objects.filter(name="Black Friday").first() or services.campaign_save(
        campaign=None,
        values={
            "name": "Black Friday",
            "key_message": "Black Friday: lo mejor del año",
            "offer_code": "BLACK30",
            "discount": "30%",
            "channels": ["email", "push"],
        },
        actor=AUTHOR,
        segment_ids=[email_segment.id],
    )
    return {
        "campaigns": 3,
        "finished": [str(winter.id), str(spring.id)],
        "draft": str(draft.id),
        "messages": campaign_messages(campaign_ids=[str(winter.id), str(spring.id)]).count(),
        "callbacks": callbacks,
        "orders": orders,
    }


def _people() -> None:
    """A guaranteed audience: demo people with consents on email, and some on SMS and WhatsApp."""
    granted = marketing_consent_pairs()
    for n in range(PEOPLE):
        customer_id, _created = customer_register(
            customer={"email": f"campana.demo{n}@example.es", "phone": f"+34699{n:06d}", "name": f"Cliente Demo {n}"},
            channel=Channel.WEB,
            actor=ACTOR,
        )
        wanted = ["email"] + (["sms"] if n % 2 == 0 else []) + (["whatsapp"] if n % 3 == 0 else [])
        for channel in wanted:
            if (customer_id, channel) not in granted:
                consent_record(
                    customer_id=customer_id,
                    channel=channel,
                    purpose=Purpose.MARKETING,
                    is_granted=True,
                    source_channel=Channel.WEB,
                    wording="Acepto recibir ofertas",
                    actor=ACTOR,
                )


def _catalog() -> tuple[str, list[str]]:
    """A store with stock of a few products: the demo catalog's, or a small one of our own."""
    stocked = store_skus_with_stock(free_at_least=500)
    by_location: dict[str, list[str]] = {}
    for code, sku in stocked:
        by_location.setdefault(code, []).append(sku)
    active = set(active_products())
    for code, skus in by_location.items():
        usable = [sku for sku in skus if sku in active]
        if len(usable) >= 3:
            return code, usable[:8]
    _location, created = order_services.location_create(
        code="DEMO-MAD", name="Tienda demo Madrid", kind="store", city="Madrid", actor=ACTOR
    )
    for sku, name, category, price in DEMO_PRODUCTS:
        order_services.product_save(sku=sku, name=name, category=category, price=Decimal(price), actor=ACTOR)
        if created:
            order_services.stock_move(sku=sku, location="DEMO-MAD", kind="received", quantity=10_000, actor=ACTOR)
    return "DEMO-MAD", sorted(sku for sku, *_rest in DEMO_PRODUCTS)


def _segment(name: str, rules: dict) -> Segment:
    return Segment.objects.filter(name=name).first() or services.segment_save(name=name, rules=rules, actor=AUTHOR)


def _finished(name: str, now: datetime, segments: list[Segment], values: dict) -> Campaign:
    campaign = Campaign.objects.filter(name=name).first()
    if campaign is None:
        values = {
            "name": name,
            "holdout_share": Decimal("0.200"),
            "starts_at": now - timedelta(minutes=5),
            "ends_at": now + timedelta(days=14),
            "valid_until": (now + timedelta(days=30)).date(),
            "attribution_days": 7,
            **values,
        }
        campaign = services.campaign_save(
            campaign=None, values=values, actor=AUTHOR, segment_ids=[s.id for s in segments]
        )
    if campaign.status == Status.DRAFT:
        services.campaign_approve(campaign_id=campaign.id, actor=APPROVER)
    if campaign.status in (Status.DRAFT, Status.APPROVED):
        services.campaign_launch(campaign_id=campaign.id, actor=APPROVER)
    # The launch hands these to workers; run them here too, so the demo does not wait for one (both are idempotent).
    services.campaign_snapshot(campaign_id=campaign.id)
    while services.campaign_fan_out_batch(campaign_id=campaign.id).taken:
        pass
    campaign.refresh_from_db()
    return campaign


def _callbacks(campaigns: list[Campaign]) -> int:
    """Providers report deliveries, opens and clicks for part of what was sent."""
    recorded = 0
    sent = campaign_messages(campaign_ids=[str(c.id) for c in campaigns], status=MessageStatus.SENT).exclude(
        provider_message_id=""
    )
    for message in sent:
        draw = _draw(f"callback:{message.id}")
        steps = ["delivered"] if draw < 0.95 else ["bounced"]
        if draw < 0.45:
            steps.append("read")
        if draw < 0.15:
            steps.append("clicked")
        for status in steps:
            url = "https://tienda.example.es/rebajas" if status == "clicked" else ""
            result = message_status_record(
                channel=message.channel, provider_message_id=message.provider_message_id, status=status, url=url
            )
            recorded += 0 if getattr(result, "duplicate", False) else 1
    return recorded


def _orders(campaign: Campaign, location: str, skus: list[str]) -> int:
    """Orders within the attribution window from part of the audience: a fixed share of the treated and a smaller
    one of the holdout, the members picked by a hash (the same ones every run)."""
    placed = 0
    members = list(AudienceMember.objects.filter(campaign=campaign).order_by("id"))
    for group, is_holdout in (("treated", False), ("holdout", True)):
        side = [m for m in members if m.is_holdout == is_holdout]
        side.sort(key=lambda m: _draw(f"buys:{campaign.id}:{m.customer_id}"))
        for member in side[: round(CONVERSION[group] * len(side))]:
            placed += _order(campaign, member, location, skus)
    return placed


def _order(campaign: Campaign, member: AudienceMember, location: str, skus: list[str]) -> int:
    key = f"{campaign.id}:{member.customer_id}"
    first = int(_draw(f"sku:{key}") * len(skus))
    lines = [{"sku": skus[first], "quantity": 1}]
    if _draw(f"second:{key}") < 0.4:
        lines.append({"sku": skus[(first + 1) % len(skus)], "quantity": 1})
    order_id = f"demo-{uuid.uuid5(campaign.id, str(member.customer_id)).hex[:20]}"
    _order, created = order_services.order_place(
        order_id=order_id,
        customer=str(member.customer_id),
        channel=Channel.WEB,
        lines=lines,
        fulfilment={"method": FulfilmentMethod.PICKUP, "location": location},
        actor=ACTOR,
    )
    return int(created)
