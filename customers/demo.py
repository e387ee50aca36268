"""Demo service cases for `seed_demo`: some of the messages and calls in the demo history became cases, with
replies on the customer's channels, resolutions with compensation, satisfaction answers and a few still open
(some past their SLA). Everything goes through the case services, so the outbound pipeline sends the replies and
surveys (to the file backend under var/outbox in local settings).

Idempotent: a case's id derives from the message that opened it, and each step is skipped once done.
"""

import hashlib
import uuid
from collections import Counter
from datetime import datetime, timedelta

from django.utils import timezone

from backoffice.eventstore import store
from backoffice.messaging.services import messages_drain

from .events import CallReceived, MessageReceived
from .models import Case
from .services import cases as case_services

ACTOR = "seed_demo"
NAMESPACE = uuid.UUID("0c2b7a55-3f0d-4c7e-9d4e-5a6b7c8d9e10")
CASE_SHARE = 0.15
RECENT_DAYS = 120
# Minutes until the first reply, per channel: how each team really answers.
REPLY_MINUTES = {
    "phone": (1, 5),
    "whatsapp": (4, 120),
    "sms": (10, 240),
    "email": (45, 1800),
    "facebook": (30, 900),
    "instagram": (20, 700),
}
# Average satisfaction leans on the channel's speed: the demo's insight to find.
CSAT_WEIGHTS = {
    "phone": (2, 3, 8, 30, 57),
    "whatsapp": (2, 3, 6, 29, 60),
    "sms": (5, 7, 18, 35, 35),
    "email": (12, 14, 24, 28, 22),
    "facebook": (8, 10, 22, 32, 28),
    "instagram": (6, 8, 20, 34, 32),
}
REPLIES = (
    "Gracias por escribirnos. Lo revisamos ahora mismo y le decimos algo en breve.",
    "Sentimos las molestias. Ya hemos localizado su pedido y le informamos del siguiente paso.",
    "Hola, soy del equipo de atención al cliente: le ayudo con esto enseguida.",
)
RESOLUTIONS = (
    ("Pedido localizado y entregado.", {"kind": "none"}),
    ("Talla cambiada en tienda.", {"kind": "none"}),
    ("Retraso del transportista: vale de compensación.", {"kind": "voucher", "amount": "10.00", "code": "PERDON10"}),
    ("Producto defectuoso: reembolso del importe.", {"kind": "refund", "amount": "29.95"}),
    ("Envío perdido: se reenvía el pedido.", {"kind": "reshipment"}),
)


def _draw(key: str) -> float:
    """A number in [0, 1) fixed by the key: the same message makes the same decisions on every run."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64


def _pick(key: str, options):
    return options[int(_draw(key) * len(options))]


def _weighted(key: str, weights) -> int:
    point, total = _draw(key) * sum(weights), 0
    for index, weight in enumerate(weights):
        total += weight
        if point < total:
            return index
    return len(weights) - 1


def seed_cases(*, now: datetime | None = None) -> Counter[str]:
    """Open, answer, resolve and rate cases from the demo's inbound messages and calls. Returns counts."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    since = now - timedelta(days=RECENT_DAYS)
    position = 0
    while True:
        events = store.read_all(after=position, limit=5000, types=[MessageReceived.type_name, CallReceived.type_name])
        if not events:
            break
        position = events[-1].position
        for event in events:
            if event.occurred_at < since or event.customer_id is None or _draw(f"case:{event.id}") >= CASE_SHARE:
                continue
            _case_from(event, now, counts)
    messages_drain()
    return counts


def _case_from(event: store.RecordedEvent, now: datetime, counts: Counter[str]) -> None:
    case_id = uuid.uuid5(NAMESPACE, f"case:{event.id}")
    channel = event.channel or "phone"
    case = Case.objects.filter(id=case_id).first()
    if case is None:
        text = event.data.get("text") or event.data.get("notes") or event.data.get("reason") or "Consulta"
        subject = event.data.get("subject") or event.data.get("reason") or text.splitlines()[0][:80]
        case = case_services.case_open(
            customer_id=event.customer_id,
            channel=channel,
            subject=subject,
            text=text,
            actor=ACTOR,
            case_id=case_id,
            occurred_at=event.occurred_at,
            message_id=str(event.id),
        )
        counts["opened"] += 1
    low, high = REPLY_MINUTES.get(channel, (30, 600))
    replied_at = event.occurred_at + timedelta(minutes=low + _draw(f"reply:{case_id}") * (high - low))
    # Half of the last ten days' cases are still open, some without an answer: the inbox has work, some of it
    # past the SLA.
    is_recent = now - event.occurred_at < timedelta(days=10)
    is_waiting = is_recent and _draw(f"wait:{case_id}") < 0.5
    is_unanswered = is_waiting and _draw(f"unanswered:{case_id}") < 0.5
    if case.first_response_at is None and replied_at < now and not is_unanswered:
        case_services.case_reply(
            case_id=case_id,
            channel=channel,
            text=_pick(f"text:{case_id}", REPLIES),
            actor=ACTOR,
            reply_id=uuid.uuid5(case_id, "reply"),
            occurred_at=replied_at,
        )
        counts["replied"] += 1
    resolved_at = replied_at + timedelta(hours=1 + _draw(f"resolve:{case_id}") * 70)
    if case.status == Case.Status.OPEN and not is_waiting and resolved_at < now - timedelta(hours=2):
        resolution, compensation = _pick(f"resolution:{case_id}", RESOLUTIONS)
        case_services.case_resolve(
            case_id=case_id, resolution=resolution, compensation=compensation, actor=ACTOR, occurred_at=resolved_at
        )
        counts["resolved"] += 1
        if _draw(f"csat:{case_id}") < 0.6:
            score = 1 + _weighted(f"score:{case_id}", CSAT_WEIGHTS.get(channel, CSAT_WEIGHTS["email"]))
            case_services.case_csat_record(
                case_id=case_id,
                score=score,
                channel=channel,
                actor=ACTOR,
                occurred_at=min(now, resolved_at + timedelta(hours=2)),
            )
            counts["rated"] += 1
