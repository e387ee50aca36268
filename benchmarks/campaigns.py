"""Segment evaluation over 100,000 customers, and a campaign launched to them on 3 channels with 2 workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/campaigns.py
    .venv/bin/python benchmarks/campaigns.py --customers 20000      # SQLite in a temporary file (one writer)

Issue 6's targets:
- Segment evaluation (count and the streamed id list of a rule mixing RFM, spend, consent, channels used, language
  and a purchase category) over 100,000 customers: under 2 s on PostgreSQL.
- Launch to 100,000 customers on email, SMS and WhatsApp ("every consented channel") into the in-memory backend,
  with every rule applied (consent, contact-pressure budget, send window, holdout, dedupe by idempotency key and
  unique delivery; quiet hours configured, not in force, so the pipeline checks them and sends): plan and dispatch
  at least 2,000 messages/s with 2 workers; peak memory per worker (the audience is streamed in batches).
Baselines measured in the same run: a bare `SELECT count(*)` of the people (the least a segment costs), and
`message_send` alone in a loop (the least each planned message costs, without any campaign rule).

Customers, identifiers, consents and orders are inserted straight into their projections: this measures segments
and the fan-out, not ingestion (benchmarks/ingest.py does that).
"""

import random
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, log, run_on_fresh_database  # noqa: E402

TARGET_SEGMENT_S = 2.0
TARGET_MESSAGES_PER_S = 2000
CHANNELS = ["email", "sms", "whatsapp"]
RULES = {
    "op": "and",
    "rules": [
        {
            "op": "or",
            "rules": [
                {"field": "recency_score", "cmp": "gte", "value": 3},
                {"field": "lifetime_value", "cmp": "gte", "value": "300"},
                {"field": "bought_category", "cmp": "eq", "value": "calzado"},
            ],
        },
        {"field": "consent", "cmp": "eq", "value": "email"},
        {"field": "channel_used", "cmp": "ne", "value": "phone"},
        {"field": "language", "cmp": "ne", "value": "fr"},
    ],
}


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--customers", type=int, default=100_000, help="customers (100000)")
    parser.add_argument("--workers", type=int, default=2, help="fan-out and drain worker processes (2)")
    parser.add_argument("--repeat", type=int, default=5, help="timed segment evaluations (5)")
    parser.add_argument("--baseline-messages", type=int, default=2000, help="bare message_send calls (2000)")
    parser.add_argument("--drain-seconds", type=float, default=60, help="how long the drain is measured (60)")
    parser.add_argument("--seed", type=int, default=6)
    return run_on_fresh_database(run, parser.parse_args())


def seed(n: int, rng: random.Random) -> None:
    from django.db import transaction

    from customers.models import Consent, Customer, CustomerIdentifier
    from orders.models import Location, Order, OrderLine, Product

    now = datetime.now(UTC)
    Location.objects.create(code="MAD-01", name="Madrid", kind="store", city="Madrid", created_at=now)
    categories = ("calzado", "camisetas", "pantalones", "accesorios")
    for i in range(40):
        Product.objects.create(
            sku=f"SKU-{i:03d}",
            name=f"Producto {i}",
            category=categories[i % 4],
            price=Decimal("19.90"),
            created_at=now,
            updated_at=now,
        )
    zones = ("Europe/Madrid", "Atlantic/Canary", "Europe/Lisbon", "Europe/Paris")
    for offset in range(0, n, 5000):
        customers, identifiers, consents, orders, lines = [], [], [], [], []
        for k in range(offset, min(n, offset + 5000)):
            cid = uuid.UUID(int=rng.getrandbits(128))
            count = rng.choice((0, 0, 1, 1, 2, 3, 5, 8))
            last = now - timedelta(days=rng.randint(1, 500)) if count else None
            customers.append(
                Customer(
                    id=cid,
                    registered_at=now - timedelta(days=600),
                    acquisition_channel=rng.choice(("web", "app", "store", "phone")),
                    language=rng.choice(("es", "es", "en", "fr")),
                    time_zone=rng.choice(zones),
                    channels_used=rng.sample(["web", "app", "store", "phone", "email", "whatsapp"], 2),
                    interaction_count=rng.randint(1, 50),
                    order_count=count,
                    lifetime_value=Decimal(rng.randint(0, 2000)) if count else 0,
                    first_order_at=last,
                    last_order_at=last,
                )
            )
            identifiers += [
                CustomerIdentifier(
                    key=f"email:c{k}@example.es", customer_id=cid, kind="email", value=f"c{k}@example.es", added_at=now
                ),
                CustomerIdentifier(
                    key=f"phone:+346{k:08d}", customer_id=cid, kind="phone", value=f"+346{k:08d}", added_at=now
                ),
            ]
            for channel, share in (("email", 0.9), ("sms", 0.6), ("whatsapp", 0.4)):
                if rng.random() < share:
                    consents.append(
                        Consent(
                            customer_id=cid,
                            channel=channel,
                            purpose="marketing",
                            is_granted=True,
                            source_channel="web",
                            changed_at=now - timedelta(days=30),
                            position=0,
                        )
                    )
            if count and rng.random() < 0.5:
                order_id = f"o-{k}"
                orders.append(
                    Order(
                        id=order_id,
                        customer_id=cid,
                        channel="web",
                        status="delivered",
                        fulfilment_method="ship",
                        total=Decimal("39.80"),
                        placed_at=last,
                        updated_at=last,
                    )
                )
                for sku in rng.sample(range(40), 2):
                    lines.append(
                        OrderLine(
                            order_id=order_id,
                            sku=f"SKU-{sku:03d}",
                            quantity=1,
                            unit_price=Decimal("19.90"),
                            location_code="MAD-01",
                        )
                    )
        with transaction.atomic():
            Customer.objects.bulk_create(customers)
            CustomerIdentifier.objects.bulk_create(identifiers)
            Consent.objects.bulk_create(consents)
            Order.objects.bulk_create(orders)
            OrderLine.objects.bulk_create(lines)
        log(f"  {min(n, offset + 5000)} customers")


def worker(kind: str, campaign_id: str, quiet: str, queue, budget: float = 0) -> None:
    """One worker process: take fan-out batches (or drain the outbox) until there is nothing left."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    settings.MESSAGING_QUIET_HOURS = quiet
    from backoffice.messaging.backends.local import MemoryBackend
    from backoffice.messaging.services import messages_drain
    from campaigns.services import campaign_fan_out_batch

    done = 0
    started = time.perf_counter()
    if kind == "fan_out":
        while True:
            taken = campaign_fan_out_batch(campaign_id=uuid.UUID(campaign_id)).taken
            if not taken:
                break
            done += taken
    else:
        while time.perf_counter() - started < budget:
            result = messages_drain(max_seconds=min(30, budget))
            if not result.sent and not result.suppressed and not result.deferred:
                break
            done += result.sent
            MemoryBackend.reset()  # what a provider does with what it received: keep it out of our memory
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((done, time.perf_counter() - started, peak))


def in_workers(kind: str, count: int, campaign_id: str, quiet: str, budget: float = 0) -> tuple[float, int, list]:
    from django.db import connections

    connections.close_all()
    context = get_context("fork")
    queue = context.Queue()
    started = time.perf_counter()
    processes = [context.Process(target=worker, args=(kind, campaign_id, quiet, queue, budget)) for _ in range(count)]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    return time.perf_counter() - started, sum(r[0] for r in results), [r[2] for r in results]


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from backoffice.messaging.models import OutboundMessage
    from backoffice.messaging.services import message_send
    from campaigns import segments, services
    from campaigns.models import AudienceMember, Delivery

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    from backoffice.messaging import tasks as messaging_tasks

    # Tasks are eager here (no broker): a commit that queued messages would drain them in the committing process.
    # The drain is measured on its own, by its workers.
    messaging_tasks.messages_drain_task.delay = lambda *args: None
    rng = random.Random(args.seed)
    is_pg = connection.vendor == "postgresql"
    workers = args.workers if is_pg else 1
    log(f"seeding {args.customers} customers (identifiers, consents, orders) into {description}")
    seed(args.customers, rng)
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    lines = [f"Campaign benchmarks on {description}", f"customers: {args.customers}", ""]

    # --- Segment evaluation -----------------------------------------------------------------------------------
    rules = segments.validate_rules(RULES)
    base_times, count_times, list_times = [], [], []
    matched = 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM customers_customer WHERE merged_into_id IS NULL")
            cursor.fetchone()
        base_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        matched = segments.segment_queryset(rules, now=timezone.now()).count()
        count_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        streamed = sum(
            1 for _ in segments.segment_queryset(rules, now=timezone.now()).values_list("id", flat=True).iterator(5000)
        )
        list_times.append(time.perf_counter() - t)
        assert streamed == matched
    best = min(count_times)
    lines += [
        "Segment evaluation (RFM OR spend OR category, AND consent, channels used, language)",
        f"  matched people            {matched}",
        f"  baseline count(*)         {min(base_times) * 1000:8.1f} ms",
        f"  segment count             {best * 1000:8.1f} ms  ({best / min(base_times):.1f}x baseline; "
        f"target < {TARGET_SEGMENT_S:.0f} s: {'OK' if best < TARGET_SEGMENT_S else 'MISSED'})",
        f"  segment ids, streamed     {min(list_times) * 1000:8.1f} ms",
        "",
    ]

    # --- Baseline: message_send alone ---------------------------------------------------------------------------
    people = list(segments.people().values_list("id", flat=True)[: args.baseline_messages])
    t = time.perf_counter()
    for index, customer_id in enumerate(people):
        with transaction.atomic():
            message_send(
                customer_id=customer_id,
                channel="email",
                purpose="service",
                content={"subject": "Hola", "body": "Tu pedido"},
                idempotency_key=f"baseline-{index}",
                actor="bench",
            )
    baseline_rate = len(people) / (time.perf_counter() - t)
    OutboundMessage.objects.filter(purpose="service").delete()  # not marketing: the budget would not count them

    # --- Launch -------------------------------------------------------------------------------------------------
    # Everyone with email consent who is not French: roughly 3 in 5 of the customers.
    audience_rules = {
        "op": "and",
        "rules": [
            {"field": "consent", "cmp": "eq", "value": "email"},
            {"field": "language", "cmp": "ne", "value": "fr"},
        ],
    }
    segment = services.segment_save(name="bench", rules=audience_rules, actor="bench")
    now = timezone.now()
    campaign = services.campaign_save(
        campaign=None,
        values={
            "name": "Benchmark",
            "key_message": "Rebajas",
            "intent": "Vender",
            "offer_code": "BENCH10",
            "discount": "10%",
            "valid_until": (now + timedelta(days=30)).date(),
            "channels": CHANNELS,
            "channel_mode": "every",
            "starts_at": now - timedelta(minutes=1),
            "ends_at": now + timedelta(days=7),
            "send_window_start": None,
            "send_window_end": None,
            "email_subject": "{name}, {discount} con {offer_code}",
            "email_body": "Hasta {valid_until}. Para ti: {product}",
            "sms_text": "{name}: {discount} con {offer_code} hasta {valid_until}",
            "whatsapp_template": "sale",
            "whatsapp_parameters": "{name}\n{offer_code}\n{discount}\n{valid_until}",
            "objective": "o",
            "kpi": "k",
            "target_value": Decimal(1),
            "budget": Decimal(1000),
            "costs": {"email": "0.001", "sms": "0.05", "whatsapp": "0.03"},
        },
        actor="user:1",
        segment_ids=[segment.id],
    )
    services.campaign_approve(campaign_id=campaign.id, actor="user:2")
    local = now.astimezone(UTC)
    # Checked, not in force: the audience's zones are UTC+0 to UTC+2 in summer, so hours 4-5 ahead of UTC are no one's
    # now (2-3 ahead was Madrid's and Paris's own hour from March to October: half the audience was deferred).
    quiet = f"{(local + timedelta(hours=4)):%H:%M}-{(local + timedelta(hours=5)):%H:%M}"
    settings.MESSAGING_QUIET_HOURS = quiet
    from campaigns import tasks

    tasks.campaign_snapshot_task.delay = lambda *args: None  # the snapshot is timed below; the workers take batches
    services.campaign_launch(campaign_id=campaign.id, actor="user:2")
    t = time.perf_counter()
    audience = services.campaign_snapshot(campaign_id=campaign.id)
    snapshot_s = time.perf_counter() - t
    snapshot_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    log(f"fan-out of {audience} people with {workers} workers")
    fan_out_s, decided, fan_out_peaks = in_workers("fan_out", workers, str(campaign.id), quiet)
    messages = Delivery.objects.filter(campaign=campaign).count()
    log(f"draining into the in-memory backend with {workers} workers for up to {args.drain_seconds:.0f} s")
    drain_s, sent, drain_peaks = in_workers("drain", workers, str(campaign.id), quiet, args.drain_seconds)
    holdout = AudienceMember.objects.filter(campaign=campaign, is_holdout=True).count()
    keys = OutboundMessage.objects.filter(campaign_id=str(campaign.id)).count()
    plan_rate = messages / (snapshot_s + fan_out_s)
    drain_rate = sent / drain_s
    # The drain ran for --drain-seconds at most: the whole dispatch at the rate it kept.
    total_rate = messages / (snapshot_s + fan_out_s + messages / drain_rate)
    lines += [
        f"Launch to the audience on {', '.join(CHANNELS)} (every consented channel), {workers} workers",
        f"  audience {audience}, holdout {holdout}, decided {decided}, messages {messages} "
        f"(unique keys {keys}, sent {sent})",
        f"  baseline message_send alone     {baseline_rate:8.0f} messages/s (1 process)",
        f"  snapshot                        {snapshot_s:8.2f} s",
        f"  plan (snapshot + fan-out)       {plan_rate:8.0f} messages/s  ({fan_out_s:.1f} s fan-out; "
        f"{plan_rate / baseline_rate:.2f}x baseline)",
        f"  drain into the memory backend   {drain_rate:8.0f} messages/s  ({sent} sent in {drain_s:.1f} s)",
        f"  plan and dispatch (+ drain)     {total_rate:8.0f} messages/s  (target >= "
        f"{TARGET_MESSAGES_PER_S}: {'OK' if total_rate >= TARGET_MESSAGES_PER_S else 'MISSED'})",
        f"  peak RSS: snapshot process {snapshot_peak:.0f} MB; fan-out workers "
        f"{', '.join(f'{p:.0f}' for p in fan_out_peaks)} MB; "
        f"drain workers {', '.join(f'{p:.0f}' for p in drain_peaks)} MB",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
