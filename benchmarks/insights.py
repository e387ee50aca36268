"""Insights at scale: the rollups rebuilt from the log, the full metrics response and the dashboard page.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_insights_bench .venv/bin/python benchmarks/insights.py
    .venv/bin/python benchmarks/insights.py --scale 0.05          # SQLite in a temporary file, 5% of the size

Issue 7's targets, with 100,000 customers, 300,000 orders and 2,000,000 events on PostgreSQL:
- GET /api/v1/metrics for a 12-month range under 1 s;
- the admin dashboard page (/admin/insights/dashboard/) under 2 s;
- `rebuild_projections insights.rollups` at no less than 10,000 events/s (events of the log read per second).

How the data is made: the events are crafted rows written straight into the event table (COPY on PostgreSQL,
executemany on SQLite) in time order, with per-stream versions, as `store.append_batches` would store them but
without its validation, sealing and inline projections (only the fields insights reads, no personal fields).
Service cases are read from the customers app's `Case` projection: its rows are bulk-created alongside their
case.* events. Baselines measured in the same run: reading the whole log through `store.read_all` (what any
rebuild must do), and one raw aggregate over the order facts.
"""

import bisect
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import EVENT_COLUMNS  # noqa: E402
from benchmarks.support.runs import benchmark_parser, log, percentile, run_on_fresh_database  # noqa: E402

TARGET_METRICS_S = 1.0
TARGET_DASHBOARD_S = 2.0
TARGET_REBUILD_EPS = 10_000
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACQUISITION = (("web", 40), ("store", 25), ("app", 20), ("facebook", 5), ("instagram", 5), ("email", 5))
SALES = (("web", 45), ("store", 35), ("app", 15), ("phone", 5))
MESSAGE_CHANNELS = (("email", 60), ("sms", 15), ("whatsapp", 15), ("push", 10))
INTERACTIONS = (
    ("page.viewed", 45, {"url": "https://tienda.example.es/es/p/1"}),
    ("product.viewed", 30, {"sku": "SKU-001"}),
    ("cart.item_added", 15, {"cart_id": "c", "sku": "SKU-001", "quantity": 1, "unit_price": "19.90"}),
    ("consent.granted", 5, {"channel": "email", "purpose": "marketing", "wording": ""}),
    ("review.posted", 3, {"rating": 4}),
    ("content.shared", 2, {"url": "https://tienda.example.es/es/p/1"}),
)
STORES = [f"S{n:02d}" for n in range(20)]


def weighted(rng: random.Random, table) -> str:
    return rng.choices([row[0] for row in table], weights=[row[1] for row in table])[0]


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full size (1.0 = 2,000,000 events)")
    parser.add_argument("--repeat", type=int, default=10, help="timed metrics requests (10); dashboard: half")
    parser.add_argument("--seed", type=int, default=7)
    return run_on_fresh_database(run, parser.parse_args())


def make_events(scale: float, seed: int):
    """(occurred_at, type, stream key, channel, customer index, data) in time order, and the cases to project."""
    rng = random.Random(seed)
    n_customers, n_orders = int(100_000 * scale), int(300_000 * scale)
    n_total = int(2_000_000 * scale)
    span = timedelta(days=730)
    registered = sorted(
        NOW - span + timedelta(seconds=rng.uniform(0, span.total_seconds() - 86_400)) for _ in range(n_customers)
    )
    customers = [uuid.uuid4() for _ in range(n_customers)]
    events = []
    for i, at in enumerate(registered):
        data = {"customer_id": str(customers[i]), "identifiers": []}
        events.append((at, "customer.registered", f"customer-{customers[i]}", weighted(rng, ACQUISITION), i, data))
    for _ in range(int(2_000 * scale)):
        older, younger = sorted(rng.sample(range(n_customers), 2))
        at = registered[younger] + timedelta(days=rng.uniform(0, 30))
        data = {
            "customer_id": str(customers[older]),
            "merged": str(customers[younger]),
            "evidence": {"reason": "automatic"},
        }
        if at < NOW:
            events.append((at, "customer.merged", f"customer-{customers[older]}", None, older, data))
    # Orders: most customers few, some many (Pareto), each after the customer registered.
    buyers = [min(int(rng.paretovariate(1.2)), 60) for _ in range(n_customers)]
    pool = [i for i, count in enumerate(buyers) for _ in range(count)]
    for n in range(n_orders):
        i = rng.choice(pool)
        at = registered[i] + (NOW - registered[i]) * rng.random()
        order_id = f"O{n:07d}"
        total = f"{rng.uniform(9, 250):.2f}"
        pickup = rng.random() < 0.2
        store = rng.choice(STORES)
        data = {
            "order_id": order_id,
            "lines": [{"sku": "SKU-001", "quantity": 1, "unit_price": total, "location": store}],
            "total": total,
            "currency": "EUR",
            "fulfilment": {"method": "pickup" if pickup else "ship", "location": store if pickup else ""},
        }
        events.append((at, "order.placed", f"order-{order_id}", weighted(rng, SALES), i, data))
        later = at + timedelta(days=rng.uniform(1, 20))
        roll = rng.random()
        if roll < 0.10 and later < NOW:
            refund = f"{float(total) * rng.choice((1, 0.5)):.2f}"
            data = {
                "order_id": order_id,
                "location": store,
                "lines": [{"sku": "SKU-001", "quantity": 1}],
                "refund_amount": refund,
                "currency": "EUR",
            }
            events.append((later, "order.returned", f"order-{order_id}", "store", i, data))
        elif roll < 0.15 and later < NOW:
            reason = "sin stock en tienda" if pickup and rng.random() < 0.5 else "cliente"
            events.append(
                (later, "order.cancelled", f"order-{order_id}", "web", i, {"order_id": order_id, "reason": reason})
            )
    # Campaign messages: one campaign a month, each message sent, most delivered, some read and clicked.
    audiences: dict[str, tuple[datetime, set[int]]] = {}
    for n in range(int(150_000 * scale)):
        at = NOW - timedelta(days=rng.uniform(1, 395))
        i = rng.randrange(n_customers)
        message_id = f"M{n:07d}"
        campaign = str(uuid.uuid5(uuid.NAMESPACE_URL, f"camp-{at:%Y-%m}"))
        audiences.setdefault(campaign, (at, set()))[1].add(i)
        if at < audiences[campaign][0]:
            audiences[campaign] = (at, audiences[campaign][1])
        channel = weighted(rng, MESSAGE_CHANNELS)
        base = {"message_id": message_id, "purpose": "marketing", "campaign_id": campaign}
        events.append((at, "message.sent", f"message-{message_id}", channel, i, {**base, "attempt": 1}))
        if rng.random() < 0.85:
            events.append((at + timedelta(minutes=1), "message.delivered", f"message-{message_id}", channel, i, base))
            if rng.random() < 0.45:
                events.append((at + timedelta(hours=2), "message.read", f"message-{message_id}", channel, i, base))
                if rng.random() < 0.3:
                    events.append(
                        (
                            at + timedelta(hours=3),
                            "message.clicked",
                            f"message-{message_id}",
                            channel,
                            i,
                            {**base, "url": "https://tienda.example.es/"},
                        )
                    )
    for _ in range(int(20_000 * scale)):
        at = NOW - timedelta(days=rng.uniform(1, 395))
        store, sku = rng.choice(STORES), f"SKU-{rng.randrange(500):03d}"
        expected = rng.randrange(0, 40)
        counted = max(0, expected + rng.choice((0, 0, 0, -1, -2, 1)))
        data = {
            "sku": sku,
            "location": store,
            "counted": counted,
            "expected": expected,
            "shrinkage": expected - counted,
        }
        events.append((at, "stock.counted", f"stock-{sku}@{store}", None, None, data))
    cases = []
    for _ in range(int(10_000 * scale)):
        opened = NOW - timedelta(days=rng.uniform(2, 395))
        i = rng.randrange(n_customers)
        case_id = uuid.uuid4()
        channel = rng.choice(("phone", "email", "whatsapp", "store", "web"))
        first = opened + timedelta(minutes=rng.expovariate(1 / 180))
        resolved = first + timedelta(minutes=rng.expovariate(1 / 1500))
        score = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
        stream = f"case-{case_id}"
        events.append((opened, "case.opened", stream, channel, i, {"case_id": str(case_id), "order_ref": ""}))
        events.append(
            (
                first,
                "case.message_added",
                stream,
                channel,
                i,
                {"case_id": str(case_id), "direction": "out", "message_id": ""},
            )
        )
        events.append((resolved, "case.resolved", stream, channel, i, {"case_id": str(case_id)}))
        events.append((resolved, "case.csat_recorded", stream, channel, i, {"case_id": str(case_id), "score": score}))
        cases.append((case_id, customers[i], channel, opened, first, resolved, score))
    remaining = n_total - len(events)
    kinds = [(row[0], row[2]) for row in INTERACTIONS]
    weights = [row[1] for row in INTERACTIONS]
    cumulative = [sum(weights[: k + 1]) for k in range(len(weights))]
    for _ in range(max(remaining, 0)):
        type_, data = kinds[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        i = rng.randrange(n_customers)
        at = registered[i] + (NOW - registered[i]) * rng.random()
        channel = rng.choice(("web", "app", "web", "store", "instagram"))
        if type_ == "consent.granted":
            data = {**data, "customer_id": str(customers[i])}
        events.append((at, type_, f"customer-{customers[i]}", channel, i, data))
    events.sort(key=lambda e: e[0])
    return events, customers, cases, audiences


def campaign_events(campaign_id: str, launched_at: datetime, customers, treated: set[int], holdout: set[int]):
    """campaign.created, campaign.launched and the audience snapshotted in chunks of 400, as event tuples."""
    stream, data = f"campaign-{campaign_id}", {"campaign_id": campaign_id}
    created = launched_at - timedelta(minutes=1)
    worksheet = {"name": f"Campaña {launched_at:%Y-%m}", "attribution_days": 7}
    launch = {"channels": ["email"], "channel_mode": "best", "holdout_share": "0.1", "launched_at": str(launched_at)}
    out = [
        (created, "campaign.created", stream, None, None, {**data, "worksheet": worksheet}),
        (created, "campaign.launched", stream, None, None, {**data, **launch}),
    ]
    people = sorted([(str(customers[i]), False) for i in treated] + [(str(customers[i]), True) for i in holdout])
    for start in range(0, len(people), 400):
        chunk = people[start : start + 400]
        audience = {
            "customer_ids": [cid for cid, _held in chunk],
            "holdout_ids": [cid for cid, held in chunk if held],
            "is_done": start + 400 >= len(people),
        }
        out.append(
            (
                created,
                "campaign.audience_snapshotted",
                f"campaign-audience-{campaign_id}",
                None,
                None,
                {**data, **audience},
            )
        )
    return out


def write_events(events, customers, vendor: str) -> float:
    from django.db import connection, transaction

    versions: dict[str, int] = {}
    recorded_at = datetime.now(UTC)
    started = time.perf_counter()
    connection.ensure_connection()
    chunk = 100_000
    for offset in range(0, len(events), chunk):
        rows = []
        for at, type_, stream, channel, i, data in events[offset : offset + chunk]:
            version = versions[stream] = versions.get(stream, 0) + 1
            event_id = uuid.uuid4()
            customer = customers[i] if i is not None else None
            rows.append(
                (
                    event_id,
                    stream,
                    version,
                    type_,
                    1,
                    channel,
                    customer,
                    at,
                    recorded_at,
                    json.dumps(data, separators=(",", ":")),
                    "{}",
                    event_id.hex + event_id.hex,
                )
            )
        with transaction.atomic():
            cursor = connection.connection.cursor()
            if vendor == "postgresql":
                with cursor.copy(f"COPY eventstore_event ({EVENT_COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["?"] * 12)
                cursor.executemany(
                    f"INSERT INTO eventstore_event ({EVENT_COLUMNS}) VALUES ({marks})",  # noqa: S608
                    [
                        (
                            r[0].hex,
                            *r[1:6],
                            r[6].hex if r[6] else None,
                            r[7].replace(tzinfo=None).isoformat(sep=" "),
                            r[8].replace(tzinfo=None).isoformat(sep=" "),
                            *r[9:],
                        )
                        for r in rows
                    ],
                )
            cursor.close()
        log(f"  {min(offset + chunk, len(events)):,} events written")
    return time.perf_counter() - started


def run(args, description: str) -> int:
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore import projector, store
    from backoffice.insights import campaign_figures
    from backoffice.insights.models import AcquisitionSpend, AudienceFact, DailyMetric, OrderFact
    from campaigns.models import AudienceMember, Campaign
    from customers.models import Case

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    settings.ALLOWED_HOSTS = ["testserver"]
    vendor = connection.vendor
    log(f"making {int(2_000_000 * args.scale):,} events")
    events, customers, cases, audiences = make_events(args.scale, args.seed)
    # Each campaign's audience: everyone messaged, plus a 10% holdout drawn apart. In the log as the campaigns app
    # writes it (created with its attribution window, launched, the audience snapshotted in chunks), which is what
    # insights' lift reads, and as the campaigns app's own rows below (what its report reads).
    rng = random.Random(args.seed + 1)
    holdouts: dict[str, set[int]] = {}
    for campaign_id, (launched_at, treated) in audiences.items():
        holdouts[campaign_id] = set(rng.sample(range(len(customers)), len(treated) // 10)) - treated
        events += campaign_events(campaign_id, launched_at, customers, treated, holdouts[campaign_id])
    events.sort(key=lambda e: e[0])
    counts: dict[str, int] = {}
    for event in events:
        counts[event[1]] = counts.get(event[1], 0) + 1
    log(f"writing {len(events):,} events")
    write_seconds = write_events(events, customers, vendor)
    Case.objects.bulk_create(
        [
            Case(
                id=cid,
                customer_id=customer,
                channel=channel,
                subject="-",
                opened_at=opened,
                first_response_at=first,
                resolved_at=resolved,
                last_message_at=resolved,
                status="resolved",
                message_count=1,
                csat_score=score,
                csat_at=resolved,
            )
            for cid, customer, channel, opened, first, resolved, score in cases
        ],
        batch_size=5000,
    )
    # The campaigns' own rows: launch, costs, and the audiences drawn above.
    members = []
    for campaign_id, (launched_at, treated) in audiences.items():
        campaign = Campaign.objects.create(
            id=campaign_id,
            name=f"Campaña {launched_at:%Y-%m}",
            status="completed",
            launched_at=launched_at,
            attribution_days=7,
            costs={"email": "0.002", "sms": "0.06", "whatsapp": "0.05", "push": "0.0005"},
            created_at=launched_at,
            updated_at=launched_at,
        )
        members += [AudienceMember(campaign=campaign, customer_id=customers[i]) for i in treated]
        members += [
            AudienceMember(campaign=campaign, customer_id=customers[i], is_holdout=True) for i in holdouts[campaign_id]
        ]
    AudienceMember.objects.bulk_create(members, batch_size=5000)
    for month in range(1, 13):
        for channel, amount in (("web", 20000), ("store", 8000), ("app", 6000), ("facebook", 3000)):
            AcquisitionSpend.objects.create(channel=channel, month=date(2026, month, 1), amount=amount)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    del events

    log("baseline: the whole log through store.read_all, pages of 5,000")
    started, cpu = time.perf_counter(), time.process_time()
    position, read = 0, 0
    while True:
        page = store.read_all(after=position, limit=5000)
        if not page:
            break
        read += len(page)
        position = page[-1].position
    read_seconds, read_cpu = time.perf_counter() - started, time.process_time() - cpu

    log("rebuild_projections insights.rollups")
    started, cpu = time.perf_counter(), time.process_time()
    replayed = projector.rebuild(["insights.rollups"], batch_size=5000)["insights.rollups"]
    rebuild_seconds, rebuild_cpu = time.perf_counter() - started, time.process_time() - cpu
    projector.rebuild(["insights.campaign_audience"], batch_size=5000)
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    end = (NOW - timedelta(days=1)).date()
    start = end - timedelta(days=364)
    params = {"from": start.isoformat(), "to": end.isoformat()}
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=staff_user_save(username='m', role='marketing'))}")
    browser = Client()
    browser.force_login(staff_user_save(username="mk", role="marketing"))

    def timed(call, repeat: int) -> list[float]:
        call()  # warm
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.content[:300]
        return samples

    log("timing reads")

    def cold(call):
        def run_cold():
            cache.clear()  # the per-checkpoint cache of the customer scan: measure the work itself
            return call()

        return run_cold

    metrics_cold = timed(cold(lambda: api.get("/api/v1/metrics", params)), args.repeat)
    metrics = timed(lambda: api.get("/api/v1/metrics", params), args.repeat)
    metrics_web = timed(cold(lambda: api.get("/api/v1/metrics", {**params, "channel": "web"})), args.repeat)
    dashboard_cold = timed(cold(lambda: browser.get("/admin/insights/dashboard/", params)), max(3, args.repeat // 2))
    dashboard = timed(lambda: browser.get("/admin/insights/dashboard/", params), max(3, args.repeat // 2))
    csv_export = timed(
        lambda: browser.get("/admin/insights/dashboard/csv/retention/", params), max(3, args.repeat // 2)
    )

    def raw_aggregate():
        class Ok:
            status_code = 200

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT channel, COUNT(*), SUM(total - refunded) FROM insights_orderfact "
                "WHERE is_cancelled = %s AND placed_day BETWEEN %s AND %s GROUP BY channel",
                [False, start, end],
            )
            cursor.fetchall()
        return Ok()

    raw = timed(raw_aggregate, args.repeat)

    def every_lift():
        class Ok:
            status_code = 200

        lifts = campaign_figures.campaign_lifts(list(audiences))
        assert len(lifts) == len(audiences)
        return Ok()

    lift_samples = timed(every_lift, args.repeat)
    body = api.get("/api/v1/metrics", params).json()

    print(f"Insights at scale, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(
        f"{len(customers):,} customers, {counts.get('order.placed', 0):,} orders "
        f"({counts.get('order.returned', 0):,} returned, {counts.get('order.cancelled', 0):,} cancelled), "
        f"{sum(counts.values()):,} events, {len(cases):,} cases, {len(audiences)} campaigns with "
        f"{AudienceFact.objects.count():,} audience members; scale {args.scale}"
    )
    print(f"event mix: {', '.join(f'{k} {v:,}' for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))}")
    print(
        f"data written as crafted rows ({'COPY' if vendor == 'postgresql' else 'executemany'}): "
        f"{sum(counts.values()) / write_seconds:,.0f} events/s"
    )
    print(f"rollups: {DailyMetric.objects.count():,} daily rows, {OrderFact.objects.count():,} order facts")
    print(
        f"12-month range {start}..{end}: net revenue {body['revenue']['total']['net']} EUR, "
        f"{body['revenue']['total']['orders']} orders, {len(body['retention']['cohorts'])} cohorts"
    )
    print(f"load average when the reads ended: {os.getloadavg()[0]:.1f} (2 cores, shared with other work)")
    print()
    read_rate, rebuild_rate = read / read_seconds, read / rebuild_seconds
    print(f"{'what':58}  {'figure':>16}  {'target':>10}  met")
    print(f"{'store.read_all of the whole log (baseline)':58}  {read_rate:12,.0f} ev/s  {'-':>10}  -")
    print(
        f"{'rebuild insights.rollups (log events read per second)':58}  {rebuild_rate:12,.0f} ev/s  "
        f"{TARGET_REBUILD_EPS:>10,}  {'yes' if rebuild_rate >= TARGET_REBUILD_EPS else 'NO'}"
    )
    print(f"{'  ratio to the bare read':58}  {rebuild_rate / read_rate:15.2f}x  {'-':>10}  -")
    print(
        f"{'  per CPU second of this process (read / rebuild)':58}  "
        f"{read / read_cpu:,.0f} / {read / rebuild_cpu:,.0f} ev/s  (load average {os.getloadavg()[0]:.1f})"
    )
    print(f"{'  of which handled by the projection':58}  {replayed:13,} ev  {'-':>10}  -")
    for name, samples, target in (
        ("raw aggregate over order facts, 12 months (baseline)", raw, None),
        ("GET /api/v1/metrics, 12 months, cold (scan not cached)", metrics_cold, TARGET_METRICS_S),
        ("GET /api/v1/metrics, 12 months, scan cached", metrics, TARGET_METRICS_S),
        ("GET /api/v1/metrics, 12 months, channel=web, cold", metrics_web, TARGET_METRICS_S),
        ("GET /admin/insights/dashboard/, 12 months, cold", dashboard_cold, TARGET_DASHBOARD_S),
        ("GET /admin/insights/dashboard/, 12 months, scan cached", dashboard, TARGET_DASHBOARD_S),
        ("GET .../dashboard/csv/retention/, 12 months", csv_export, None),
        (f"lift of the {len(audiences)} campaigns (campaign_lifts)", lift_samples, None),
    ):
        p95 = percentile(samples, 0.95)
        met = "-" if target is None else ("yes" if p95 < target else "NO")
        print(
            f"{name:58}  p50 {statistics.median(samples):6.3f} s p95 {p95:6.3f} s  "
            f"{(f'{target:.1f} s' if target else '-'):>10}  {met}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
