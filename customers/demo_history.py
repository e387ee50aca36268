"""The customers part of `seed_demo`: a Spanish fashion retailer's history of interactions on every channel.

Every interaction goes through `customers.services.interactions_ingest`, exactly as another system would send it,
so validation, identity resolution (several channels, one person; anonymous visitors stitched when they identify),
sealing of personal data and the projections all run for real. Nothing writes events directly.

Reproducible and idempotent: names come from Faker (es_ES) and every choice from a random generator seeded per
customer, so customer i is the same person on every run whatever --customers says; event ids are uuid5 of a fixed
namespace and (customer, sequence). The history ends the day before the first run (the anchor); later runs read
the anchor back from the stored events' metadata, so they send identical events and the store answers them as
duplicates. Staff users are created or updated on every run, with fresh passwords.

The catalog and the locations are constants here until the orders app owns products and locations; cart events
reference these SKUs and prices, store visits these location codes.
"""

import random
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.management.base import CommandError
from django.utils import timezone
from faker import Faker

from backoffice.eventstore.errors import EventStoreError
from backoffice.eventstore.schema import CHANNELS
from backoffice.eventstore.selectors import event_count, first_metadata_with_correlation_prefix, stored_event_ids
from backoffice.eventstore.vocabulary import Channel
from customers.events import (
    AppOpened,
    CallReceived,
    ContentShared,
    MessageReceived,
    PageViewed,
    ProductViewed,
    ReviewPosted,
    SearchPerformed,
    StoreVisited,
)
from customers.models import Customer
from customers.services import interactions_ingest

ACTOR = "seed_demo"
SEED = 20240607
BATCH_SIZE = 500
HISTORY_DAYS = 548  # about 18 months
NAMESPACE = uuid.UUID("5b0f6f3e-8c1d-5d7e-9a51-3c6e2f1d9b40")
# Sender metadata is a closed set (customers.services.ingestion.SenderMetadata): the anchor rides in correlation_id.
ANCHOR_PREFIX = "seed-anchor:"
MADRID = ZoneInfo("Europe/Madrid")
SHOP_URL = "https://tienda.example.com"


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: Decimal


@dataclass(frozen=True)
class Location:
    code: str
    name: str
    kind: str  # store | warehouse
    city: str
    timezone: str = "Europe/Madrid"


def _product(sku: str, name: str, category: str, price: str) -> Product:
    return Product(sku, name, category, Decimal(price))


CATALOG: tuple[Product, ...] = (
    _product("CAM-ALG-BLA-M", "Camiseta algodón blanca M", "camisetas", "19.90"),
    _product("CAM-ALG-BLA-L", "Camiseta algodón blanca L", "camisetas", "19.90"),
    _product("CAM-ALG-NEG-M", "Camiseta algodón negra M", "camisetas", "19.90"),
    _product("CAM-ALG-NEG-L", "Camiseta algodón negra L", "camisetas", "19.90"),
    _product("CAM-RAY-MAR-M", "Camiseta marinera de rayas M", "camisetas", "24.90"),
    _product("CMS-LIN-AZU-M", "Camisa de lino azul M", "camisas", "39.90"),
    _product("CMS-OXF-BLA-L", "Camisa Oxford blanca L", "camisas", "35.90"),
    _product("CMS-VIS-EST-S", "Blusa viscosa estampada S", "camisas", "29.90"),
    _product("PAN-VAQ-SLI-40", "Vaquero slim azul 40", "pantalones", "49.90"),
    _product("PAN-VAQ-SLI-42", "Vaquero slim azul 42", "pantalones", "49.90"),
    _product("PAN-VAQ-REC-38", "Vaquero recto negro 38", "pantalones", "45.90"),
    _product("PAN-CHI-BEI-42", "Pantalón chino beige 42", "pantalones", "39.90"),
    _product("PAN-LIN-BLA-M", "Pantalón de lino blanco M", "pantalones", "42.90"),
    _product("VES-MID-FLO-S", "Vestido midi de flores S", "vestidos", "59.90"),
    _product("VES-MID-FLO-M", "Vestido midi de flores M", "vestidos", "59.90"),
    _product("VES-PUN-NEG-M", "Vestido de punto negro M", "vestidos", "45.90"),
    _product("FAL-PLI-VER-S", "Falda plisada verde S", "vestidos", "35.90"),
    _product("ABR-LAN-CAM-M", "Abrigo de lana camel M", "abrigos", "129.00"),
    _product("CAZ-VAQ-AZU-M", "Cazadora vaquera M", "abrigos", "59.90"),
    _product("PLU-LIG-NEG-L", "Plumífero ligero negro L", "abrigos", "79.90"),
    _product("GAB-CLA-BEI-M", "Gabardina clásica beige M", "abrigos", "99.90"),
    _product("JER-MER-GRI-M", "Jersey de merino gris M", "punto", "49.90"),
    _product("SUD-CAP-AZU-L", "Sudadera con capucha azul L", "punto", "35.90"),
    _product("CAR-ALG-CRU-S", "Cárdigan de algodón crudo S", "punto", "39.90"),
    _product("ZAP-RUN-BLA-42", "Zapatillas running blancas 42", "calzado", "69.90"),
    _product("ZAP-RUN-BLA-38", "Zapatillas running blancas 38", "calzado", "69.90"),
    _product("ZAP-OXF-NEG-43", "Zapatos Oxford de piel negros 43", "calzado", "89.90"),
    _product("SAN-PIE-MAR-39", "Sandalias de piel marrón 39", "calzado", "45.90"),
    _product("BOT-CHE-NEG-40", "Botines Chelsea negros 40", "calzado", "89.90"),
    _product("ALP-YUT-AZU-41", "Alpargatas de yute azul 41", "calzado", "24.90"),
    _product("BOL-PIE-MAR-U", "Bolso de piel marrón", "accesorios", "79.90"),
    _product("MOC-TEL-NEG-U", "Mochila de tela negra", "accesorios", "39.90"),
    _product("CIN-PIE-NEG-95", "Cinturón de piel negro 95", "accesorios", "25.90"),
    _product("GOR-LAN-GRI-U", "Gorro de lana gris", "accesorios", "15.90"),
    _product("BUF-LAN-ROJ-U", "Bufanda de lana roja", "accesorios", "22.90"),
    _product("GAF-SOL-CAR-U", "Gafas de sol carey", "accesorios", "29.90"),
    _product("CAL-ALG-PAC-U", "Calcetines de algodón, pack de 3", "accesorios", "9.90"),
    _product("BAN-NAT-AZU-M", "Bañador de natación azul M", "baño", "29.90"),
    _product("BIK-TRI-ROJ-S", "Bikini triángulo rojo S", "baño", "32.90"),
    _product("TOA-PLA-RAY-U", "Toalla de playa de rayas", "baño", "24.90"),
)
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(p.category for p in CATALOG))

LOCATIONS: tuple[Location, ...] = (
    Location("MAD-01", "Madrid Gran Vía", "store", "Madrid"),
    Location("BCN-01", "Barcelona Passeig de Gràcia", "store", "Barcelona"),
    Location("VLC-01", "Valencia Colón", "store", "Valencia"),
    Location("SVQ-01", "Sevilla Tetuán", "store", "Sevilla"),
    Location("BIO-01", "Bilbao Gran Vía", "store", "Bilbao"),
    Location("AGP-01", "Málaga Larios", "store", "Málaga"),
    Location("WH-ZGZ", "Almacén central Zaragoza", "warehouse", "Zaragoza"),
)
STORES: tuple[Location, ...] = tuple(loc for loc in LOCATIONS if loc.kind == "store")
STORE_WEIGHTS = (30, 24, 12, 12, 9, 13)  # where customers live, in STORES order

# How often each channel is someone's first contact, and how much each is used afterwards.
ACQUISITION_WEIGHTS = {"web": 34, "store": 30, "app": 14, "instagram": 9, "facebook": 4, "whatsapp": 5, "phone": 4}
USAGE_WEIGHTS = {
    "web": 26,
    "app": 18,
    "store": 20,
    "email": 9,
    "whatsapp": 9,
    "push": 8,
    "instagram": 6,
    "phone": 5,
    "facebook": 3,
    "sms": 3,
}
SESSION_HOURS = {"store": (10, 20), "phone": (9, 19), "push": (9, 20)}  # local opening hours; others 8 to 22

SEARCHES = (
    ("camiseta blanca", "camisetas"),
    ("camisa lino", "camisas"),
    ("vaqueros slim", "pantalones"),
    ("vestido flores", "vestidos"),
    ("abrigo lana", "abrigos"),
    ("jersey merino", "punto"),
    ("zapatillas running", "calzado"),
    ("bolso piel", "accesorios"),
    ("bikini", "baño"),
)
CALL_REASONS = (
    "estado del pedido",
    "devolución",
    "cambio de talla",
    "incidencia con el pago",
    "disponibilidad en tienda",
    "tarjeta de fidelización",
)
EMAILS = (
    ("Consulta sobre mi pedido", "Hola, hice un pedido hace unos días y todavía no me ha llegado. ¿Cómo va?"),
    ("Devolución", "Buenas, quiero devolver {product}, no me queda bien. ¿Puedo hacerlo en la tienda de {city}?"),
    ("Duda de talla", "¿{product} talla como siempre o es mejor pedir una talla más?"),
    ("Factura", "Necesito la factura de mi última compra a nombre de mi empresa."),
    ("Cambio de dirección", "Me he mudado, ¿cómo actualizo la dirección de envío?"),
)
CHATS = (
    "Hola, ¿tenéis {product} en la tienda de {city}?",
    "¿A qué hora cierra hoy la tienda de {city}?",
    "Mi pedido pone entregado pero no lo tengo",
    "¿El código de descuento vale también en tienda?",
    "Gracias por la atención, todo perfecto",
    "¿Cuándo volvéis a tener {product}?",
)
REVIEWS = (
    (5, "Muy buena calidad, repetiré."),
    (5, "Llegó rápido y bien empaquetado."),
    (4, "Bonito, aunque la talla es algo pequeña."),
    (4, "Buena relación calidad-precio."),
    (3, "Correcto, sin más."),
    (2, "El color no es como en la foto."),
)
STORE_REVIEWS = (
    (5, "Atención de diez en la tienda."),
    (4, "Mucha gente, pero me atendieron bien."),
    (2, "Colas largas."),
)
PUSH_SCREENS = ("promo/rebajas", "promo/nueva-coleccion", "cart/reminder", "order/status")
APP_VERSIONS = ("5.2.0", "5.3.1", "5.4.0", "5.5.2", "5.6.0", "5.7.1")
REFERRERS = ("", "", "https://www.google.es/", "https://www.instagram.com/", "https://www.facebook.com/")


@dataclass
class Person:
    """One demo customer: identifiers, where they live, and which channels they use."""

    index: int
    first_name: str
    full_name: str
    email: str
    phone: str
    home: Location
    channels: list[str]
    is_anonymous_only: bool
    is_stitched: bool
    # Known by email on one channel and by phone alone on another until a checkout gives both: identity
    # resolution merges the two customers then.
    is_split: bool = False
    loyalty_card: str | None = None
    facebook_id: str | None = None
    instagram_id: str | None = None
    web_id: str | None = None
    app_id: str | None = None


@dataclass
class Journey:
    """The interactions of one person, built in time order, with the identifiers each channel would send."""

    person: Person
    rng: random.Random
    metadata: dict
    items: list[dict] = field(default_factory=list)
    known: set[tuple[str, str]] = field(default_factory=set)
    clock: datetime | None = None
    carts: int = 0
    bought: list[Product] = field(default_factory=list)
    # A split person's phone-only contacts, made before they gave phone and email together.
    split_contacts: int = 0

    def emit(self, channel: str, type_: str, data: dict, ids: dict[str, str | None]) -> None:
        ref = {kind: value for kind, value in ids.items() if value}
        pairs = {(kind, value) for kind, value in ref.items() if kind != "name"}
        if self.person.is_split and set(ref) == {"phone"} and ("phone", self.person.phone) not in self.known:
            self.split_contacts += 1
        elif self.person.is_split and self.split_contacts and set(ref) == {"phone"}:
            self.split_contacts += 1
        elif self.known and not pairs & self.known:
            # Nothing this channel knows links it to the person yet: it sends a known identifier along
            # (a Messenger profile with its email, a card number given at the counter).
            ref["email"] = self.person.email
        self.known |= pairs
        self.items.append(
            {
                "id": str(uuid.uuid5(NAMESPACE, f"{self.person.index}:{len(self.items)}")),
                "type": type_,
                "channel": channel,
                "occurred_at": self.clock.isoformat(),
                "customer": ref,
                "data": data,
                "metadata": self.metadata,
            }
        )
        self.clock += timedelta(seconds=self.rng.randint(15, 150))

    def product(self) -> Product:
        return self.rng.choice(CATALOG)


class DemoHistory:
    """Builds the people and their interactions. Deterministic: the same anchor gives the same events."""

    def __init__(self, anchor: date):
        self.anchor = anchor
        self.metadata = {"source_system": ACTOR, "correlation_id": f"{ANCHOR_PREFIX}{anchor.isoformat()}"}
        self.faker = Faker("es_ES")
        self._used: set[str] = set()

    def people(self, count: int) -> list[Person]:
        return [self._person(index) for index in range(count)]

    def interactions(self, person: Person) -> list[dict]:
        rng = random.Random(f"{SEED}:journey:{person.index}")  # noqa: S311 - reproducible demo data, not secrets
        journey = Journey(person, rng, self.metadata)
        days_back = rng.randint(21, HISTORY_DAYS)
        sessions = min(days_back - 1, 3 + min(int(rng.expovariate(1 / 6)), 30))
        # Distinct days, oldest first; the first contact is on the oldest day.
        days = sorted([days_back, *rng.sample(range(1, days_back), sessions - 1)], reverse=True)
        plan = self._channel_plan(person, rng, len(days))
        identified = not (person.is_anonymous_only or person.is_stitched)
        for number, (days_ago, channel) in enumerate(zip(days, plan, strict=True)):
            low, high = SESSION_HOURS.get(channel, (8, 22))
            day = self.anchor - timedelta(days=days_ago)
            hour, minute, second = rng.randint(low, high), rng.randint(0, 59), rng.randint(0, 59)
            journey.clock = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=MADRID)
            if person.is_stitched and not identified and number == plan.index("identify"):
                self._browse(journey, "web", identify=True)
                identified = True
            elif not identified:
                self._browse(journey, channel, anonymous=True)
            else:
                self._session(journey, channel, first=number == 0)
        if journey.split_contacts:
            # The day they check out on the web with email and phone, the two customers become one (no later
            # than the last evening of the history: it ends yesterday).
            last_evening = datetime.combine(self.anchor - timedelta(days=1), time(23), MADRID)
            journey.clock = max(journey.clock, min(journey.clock + timedelta(days=1), last_evening))
            self._browse(journey, "web", signup={"email": person.email, "phone": person.phone})
        return journey.items

    def _person(self, index: int) -> Person:
        rng = random.Random(f"{SEED}:person:{index}")  # noqa: S311 - reproducible demo data, not secrets
        self.faker.seed_instance(SEED + index)
        first, last1, last2 = self.faker.first_name(), self.faker.last_name(), self.faker.last_name()
        is_anonymous_only = index % 20 in (10, 11)
        # Customer i always uses channel i % 10 (anonymous visitors are 10 and 11: web and app), so any ten
        # consecutive customers cover every channel.
        coverage = CHANNELS[index % len(CHANNELS)]
        if is_anonymous_only:
            channels = [coverage]
        else:
            acquisition = _weighted(rng, ACQUISITION_WEIGHTS)
            extra = [_weighted(rng, USAGE_WEIGHTS) for _ in range(rng.randint(1, 4))]
            channels = list(dict.fromkeys([acquisition, coverage, *extra]))
        is_stitched = not is_anonymous_only and index % 4 == 3
        if is_stitched and "web" not in channels:
            channels.append("web")
        phone_channels = {"whatsapp", "sms", "phone"} & set(channels[1:])
        is_split = not is_anonymous_only and not is_stitched and index % 10 in (4, 6) and bool(phone_channels)
        person = Person(
            index=index,
            first_name=first,
            full_name=f"{first} {last1} {last2}",
            email=self._unique(rng, lambda: _email(rng, first, last1, last2)),
            phone=self._unique(rng, lambda: _mobile(rng)),
            home=rng.choices(STORES, weights=STORE_WEIGHTS)[0],
            channels=channels,
            is_anonymous_only=is_anonymous_only,
            is_stitched=is_stitched,
            is_split=is_split,
        )
        if "store" in channels and rng.random() < 0.7:
            person.loyalty_card = self._unique(rng, lambda: f"2400{rng.randrange(10**8, 10**9)}")
        if "facebook" in channels:
            person.facebook_id = self._unique(rng, lambda: str(rng.randrange(10**14, 10**15)))
        if "instagram" in channels:
            person.instagram_id = self._unique(rng, lambda: str(rng.randrange(10**16, 10**17)))
        if is_stitched or ("web" in channels and (is_anonymous_only or rng.random() < 0.6)):
            person.web_id = self._unique(rng, lambda: f"web-{rng.getrandbits(48):012x}")
        if "app" in channels or "push" in channels:
            person.app_id = self._unique(rng, lambda: f"app-{rng.getrandbits(64):016x}")
        return person

    def _unique(self, rng: random.Random, make) -> str:
        value = make()
        while value in self._used:
            value = make()
        self._used.add(value)
        return value

    @staticmethod
    def _channel_plan(person: Person, rng: random.Random, sessions: int) -> list[str]:
        """The channel of each session, oldest first: the first is the acquisition channel; each channel once."""
        weights = [USAGE_WEIGHTS[c] for c in person.channels]
        plan = [rng.choices(person.channels, weights=weights)[0] for _ in range(sessions)]
        start = 1
        if person.is_stitched:
            # Anonymous web visits, then the visit where they identify, then the rest of their channels.
            anonymous = rng.randint(1, min(3, sessions - 2))
            plan[:anonymous] = ["web"] * anonymous
            plan[anonymous] = "identify"
            start = anonymous + 1
        else:
            plan[0] = person.channels[0]
        # Channels not drawn yet get a session each, the coverage channel (second in the list) first.
        missing = [c for c in person.channels if c not in plan[start:]]
        slots = rng.sample(range(start, sessions), min(len(missing), sessions - start))
        for slot, channel in zip(slots, missing, strict=False):
            plan[slot] = channel
        return plan

    def _session(self, j: Journey, channel: str, *, first: bool) -> None:
        p, rng = j.person, j.rng
        # A first contact is a sign-up: it carries the name, email and phone the person gives (a split person keeps
        # the phone to themselves that day).
        signup = {"email": p.email, "name": p.full_name} if first else {}
        if first and not p.is_split:
            signup["phone"] = p.phone
        if channel in (Channel.WEB, Channel.APP, Channel.PUSH):
            self._browse(j, channel, signup=signup)
        elif channel == Channel.STORE:
            store = p.home if rng.random() < 0.85 else rng.choice(STORES)
            ids = {"loyalty_card": p.loyalty_card} if p.loyalty_card else {"phone": p.phone}
            j.emit(
                "store", StoreVisited.type_name, {"location": store.code, "minutes": rng.randint(5, 60)}, ids | signup
            )
            if rng.random() < 0.1:
                rating, text = rng.choice(STORE_REVIEWS)
                j.emit("store", ReviewPosted.type_name, {"location": store.code, "rating": rating, "text": text}, ids)
        elif channel == Channel.PHONE:
            reason = rng.choice(CALL_REASONS)
            data = {"reason": reason, "seconds": rng.randint(40, 900), "notes": f"Consulta: {reason}. Resuelta."}
            j.emit("phone", CallReceived.type_name, data, {"phone": p.phone} | signup)
        elif channel == Channel.EMAIL:
            subject, text = rng.choice(EMAILS)
            text = f"{self._fill(j, text)}\n\nUn saludo,\n{p.first_name}"
            data = {"subject": subject, "text": text, "provider_message_id": f"<{_hex(rng, 16)}@mail.example.com>"}
            j.emit("email", MessageReceived.type_name, data, {"email": p.email} | signup)
        elif channel in (Channel.SMS, Channel.WHATSAPP):
            message_id = f"wamid.{_hex(rng, 24)}" if channel == Channel.WHATSAPP else f"SM{_hex(rng, 32)}"
            data = {"text": self._fill(j, rng.choice(CHATS)), "provider_message_id": message_id}
            j.emit(channel, MessageReceived.type_name, data, {"phone": p.phone} | signup)
        else:  # facebook, instagram
            ids = {f"{channel}_id": getattr(p, f"{channel}_id")} | signup
            roll = rng.random()
            if roll < 0.45:
                data = {"text": self._fill(j, rng.choice(CHATS)), "provider_message_id": f"m_{_hex(rng, 20)}"}
                j.emit(channel, MessageReceived.type_name, data, ids)
            elif roll < 0.85 or not j.bought:
                product = j.product()
                data = {"url": _product_url(product), "sku": product.sku, "network": channel}
                j.emit(channel, ContentShared.type_name, data, ids)
            else:
                rating, text = rng.choice(REVIEWS)
                j.emit(
                    channel,
                    ReviewPosted.type_name,
                    {"sku": rng.choice(j.bought).sku, "rating": rating, "text": text},
                    ids,
                )

    def _browse(self, j: Journey, channel: str, *, anonymous=False, identify=False, signup=None) -> None:
        """A web or app visit (push: opened from a notification): views, maybe a search, maybe a cart."""
        p, rng = j.person, j.rng
        device = p.web_id if channel == Channel.WEB else p.app_id
        ids = {"anonymous_id": device} if anonymous or identify else {"email": p.email, "anonymous_id": device}
        first_ids = ids | (signup or {})
        if channel == Channel.PUSH:
            j.emit(
                "push",
                AppOpened.type_name,
                {"screen": rng.choice(PUSH_SCREENS), "app_version": self._app(j)},
                first_ids,
            )
            channel = Channel.APP
        elif channel == Channel.APP:
            j.emit("app", AppOpened.type_name, {"screen": "home", "app_version": self._app(j)}, first_ids)
        else:
            category = rng.choice(CATEGORIES)
            data = {
                "url": f"{SHOP_URL}/c/{category}",
                "title": category.capitalize(),
                "referrer": rng.choice(REFERRERS),
            }
            j.emit("web", PageViewed.type_name, data, first_ids)
        category = rng.choice(CATEGORIES)
        if rng.random() < 0.35:
            query, category = rng.choice(SEARCHES)
            j.emit(channel, SearchPerformed.type_name, {"query": query, "results_count": rng.randint(3, 60)}, ids)
        in_category = [product for product in CATALOG if product.category == category]
        viewed = rng.sample(in_category, min(len(in_category), rng.randint(1, 3)))
        for product in viewed:
            j.emit(channel, ProductViewed.type_name, {"sku": product.sku, "url": _product_url(product)}, ids)
        if not identify and rng.random() > (0.2 if anonymous else 0.4):
            return
        j.carts += 1
        cart_id = uuid.uuid5(NAMESPACE, f"cart:{p.index}:{j.carts}").hex[:16]
        lines = viewed[: rng.randint(1, len(viewed))]
        for product in lines:
            quantity = 2 if product.sku.startswith("CAL-") else 1
            data = {"cart_id": cart_id, "sku": product.sku, "quantity": quantity, "unit_price": str(product.price)}
            # The cart events are the orders app's (a layer above): named by their type, as a shop would send them.
            j.emit(channel, "cart.item_added", data, ids)
        if len(lines) > 1 and rng.random() < 0.25:
            removed = lines.pop()
            j.emit(channel, "cart.item_removed", {"cart_id": cart_id, "sku": removed.sku, "quantity": 1}, ids)
        if identify:
            # Checking out is when the visitor identifies: the same anonymous id, now with email and phone.
            ids = ids | {"email": p.email, "phone": p.phone, "name": p.full_name}
        elif anonymous or rng.random() > 0.6:
            return  # abandoned
        order_id = f"{channel[0].upper()}-{p.index:05d}-{j.carts:02d}"
        j.emit(channel, "cart.checked_out", {"cart_id": cart_id, "order_id": order_id}, ids)
        j.bought.extend(lines)

    def _fill(self, j: Journey, text: str) -> str:
        return text.format(product=j.product().name.lower(), city=j.person.home.city)

    def _app(self, j: Journey) -> str:
        elapsed = 1 - (self.anchor - j.clock.date()).days / HISTORY_DAYS
        return APP_VERSIONS[min(len(APP_VERSIONS) - 1, max(0, int(elapsed * len(APP_VERSIONS))))]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _email(rng: random.Random, first: str, last1: str, last2: str) -> str:
    first, last1, last2 = _ascii(first.split()[0]) or "cliente", _ascii(last1) or "demo", _ascii(last2) or "demo"
    local = rng.choice(
        (
            f"{first}.{last1}",
            f"{first}.{last1}.{last2}",
            f"{first}{last1}{rng.randint(1, 99)}",
            f"{first[0]}{last1}{last2[:1]}",
            f"{first}_{last1}{rng.randint(70, 99)}",
        )
    )
    # Reserved domains (RFC 2606): a misconfigured mail backend can never reach a real person.
    return f"{local}@{rng.choice(('example.com', 'example.net', 'example.org'))}"


def _mobile(rng: random.Random) -> str:
    while True:
        prefix = "6" if rng.random() < 0.9 else f"7{rng.randint(1, 4)}"
        number = f"+34{prefix}{rng.randrange(10 ** (9 - len(prefix))):0{9 - len(prefix)}d}"
        if phonenumbers.is_valid_number_for_region(phonenumbers.parse(number), "ES"):
            return number


def _hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(4 * length):0{length}x}"


def _product_url(product: Product) -> str:
    return f"{SHOP_URL}/p/{product.sku.lower()}"


@dataclass(frozen=True)
class Checkout:
    """A cart the history paid for (its `cart.checked_out`): the shop's order behind it, for the orders demo to place
    (this app does not place orders: orders is a layer above)."""

    order_id: str
    customer: dict[str, str]  # the identifiers the checkout was sent with: they resolve to its customer
    channel: str
    placed_at: datetime
    lines: tuple[tuple[str, int], ...]  # (sku, quantity): what was in the cart when it was paid


def history_checkouts(items: list[dict]) -> list[Checkout]:
    """Every checkout of these history items, in time order, with its cart's lines (added less removed)."""
    carts: dict[str, Counter[str]] = {}
    checkouts = []
    for item in sorted(items, key=lambda item: (datetime.fromisoformat(item["occurred_at"]), item["id"])):
        data = item["data"]
        if item["type"] == "cart.item_added":
            carts.setdefault(data["cart_id"], Counter())[data["sku"]] += data["quantity"]
        elif item["type"] == "cart.item_removed":
            carts.setdefault(data["cart_id"], Counter())[data["sku"]] -= data["quantity"]
        elif item["type"] == "cart.checked_out":
            lines = tuple(sorted((sku, n) for sku, n in carts.pop(data["cart_id"], Counter()).items() if n > 0))
            if lines:
                checkouts.append(
                    Checkout(
                        order_id=data["order_id"],
                        customer=dict(item["customer"]),
                        channel=item["channel"],
                        placed_at=datetime.fromisoformat(item["occurred_at"]),
                        lines=lines,
                    )
                )
    return checkouts


class HistorySeeder:
    """Ingests the demo history through the service, in batches; writes progress and a summary to `stdout`."""

    def __init__(self, stdout):
        self.stdout = stdout
        self.checkouts: list[Checkout] = []  # after seed(): the history's paid carts, for the orders demo

    def seed(self, customers: int) -> date:
        """Seed `customers` people (idempotent). Returns the anchor: the day the history ends."""
        if customers < 1:
            raise CommandError("--customers must be at least 1")
        started = monotonic()
        anchor = self._anchor()
        history = DemoHistory(anchor)
        items = [item for person in history.people(customers) for item in history.interactions(person)]
        # One log in time order, as the channels would have sent it; a person's events keep their order.
        items.sort(key=lambda item: (datetime.fromisoformat(item["occurred_at"]), item["id"]))
        first_day, last_day = anchor - timedelta(days=HISTORY_DAYS), anchor - timedelta(days=1)
        self.stdout.write(f"Seeding {customers} customers: {len(items)} interactions from {first_day} to {last_day}")
        new_per_channel = self._ingest(items, started)
        self._summary(customers, items, new_per_channel)
        self.checkouts = history_checkouts(items)
        return anchor

    def _ingest(self, items: list[dict], started: float) -> Counter[str]:
        new_per_channel: Counter[str] = Counter()
        for offset in range(0, len(items), BATCH_SIZE):
            batch = items[offset : offset + BATCH_SIZE]
            ids = [uuid.UUID(item["id"]) for item in batch]
            # A batch stored whole by an earlier run needs no call; any other goes to the service, which answers
            # the stored part as duplicates.
            if len(stored_event_ids(ids)) < len(ids):
                try:
                    results = interactions_ingest(raw_items=batch, actor=ACTOR, source="seed_demo")
                except EventStoreError as exc:
                    raise CommandError(f"the store refused batch {offset // BATCH_SIZE + 1}: {exc}") from exc
                # Matched by id: the result list does not line up with the items when the service also returns
                # identity events (several for one customer in a batch).
                new_ids = {result.id for result in results if not result.duplicate}
                new_per_channel.update(item["channel"] for item, id_ in zip(batch, ids, strict=True) if id_ in new_ids)
            done = offset + len(batch)
            if done % (BATCH_SIZE * 10) == 0 or done == len(items):
                self.stdout.write(f"  {done}/{len(items)} interactions ({monotonic() - started:.1f} s)")
        return new_per_channel

    def _anchor(self) -> date:
        """The day the demo history ends: read back from an earlier run, so re-runs send identical events."""
        metadata = first_metadata_with_correlation_prefix(ANCHOR_PREFIX)
        if metadata:
            return date.fromisoformat(metadata["correlation_id"].removeprefix(ANCHOR_PREFIX))
        return timezone.localdate(timezone=MADRID)

    def _summary(self, customers: int, items: list[dict], new_per_channel: Counter[str]) -> None:
        per_channel = Counter(item["channel"] for item in items)
        new = sum(new_per_channel.values())
        in_directory = Customer.objects.filter(merged_into=None).count()
        self.stdout.write(f"Customers: {customers} demo customers ({in_directory} in the directory)")
        self.stdout.write(f"Interactions: {len(items)} ({new} new, {len(items) - new} already stored)")
        self.stdout.write("Interactions per channel:")
        for channel in CHANNELS:
            self.stdout.write(f"  {channel:<10} {per_channel[channel]:>7}  ({new_per_channel[channel]} new)")
        self.stdout.write(f"Events in the log: {event_count()} (with identity events and any others)")
