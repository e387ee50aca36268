"""Reads of one customer with a long history: the 360 view, the timeline's first and a deep page, and `as_of`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/customer360.py
    .venv/bin/python benchmarks/customer360.py --events 10000        # SQLite in a temporary file

Issue 3's targets: GET /api/v1/customers/{id} for a customer with 10,000 events p95 < 50 ms with a bounded number
of queries, the timeline's first page likewise, and `as_of` < 500 ms. Baseline measured in the same run: the raw
keyset SELECT of the same 50 timeline rows through the driver.
"""

import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, log, percentile, run_on_fresh_database  # noqa: E402


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="events of the one customer (10000)")
    parser.add_argument("--others", type=int, default=2_000, help="other customers, 20 events each (2000)")
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per figure (200)")
    parser.add_argument("--cases", type=int, default=10, help="service cases of the one customer, 5 events each (10)")
    return run_on_fresh_database(run, parser.parse_args())


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import connection
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore import projector
    from customers import services

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    start = datetime.now(UTC) - timedelta(days=400)

    def item(n: int, email: str, minutes: int, phone: str | None = None) -> dict:
        kinds = (
            ("page.viewed", "web", {"url": f"https://tienda.example.es/es/p/{n}", "title": "Camiseta | Tienda"}),
            ("product.viewed", "app", {"sku": f"SKU-{n % 40:03d}"}),
            ("search.performed", "web", {"query": "zapatillas running talla 38", "results_count": 12}),
            ("message.received", "whatsapp", {"text": "¿Tenéis la talla M en Valencia?"}),
            ("store.visited", "store", {"location": "VLC-01"}),
        )
        type_, channel, data = kinds[n % len(kinds)]
        return {
            "id": str(uuid.uuid4()),
            "type": type_,
            "channel": channel,
            "occurred_at": (start + timedelta(minutes=minutes)).isoformat(),
            # WhatsApp names the person by phone, other channels by email (when a phone is given).
            "customer": {"phone": phone} if phone and channel == "whatsapp" else {"email": email},
            "data": data,
        }

    log(f"seeding {args.others} other customers and one with {args.events} events")
    others = [item(n, f"otro{n // 20}@example.es", n) for n in range(args.others * 20)]
    for offset in range(0, len(others), 500):
        services.interactions_ingest(raw_items=others[offset : offset + 500], actor="bench")
    # The person is two customers while the events arrive (email on the web, app and till; phone on WhatsApp) until
    # a checkout names both and merges them: the 360 view and the timeline read the merged group. Cases with their
    # threads on top (orders have no event type yet: CustomerCommerce reads them by name when they exist).
    mine = [item(n, "ana.larga@example.es", n * 50, phone="600 999 888") for n in range(args.events - 1)]
    for offset in range(0, len(mine), 500):
        services.interactions_ingest(raw_items=mine[offset : offset + 500], actor="bench")
    both = item(0, "ana.larga@example.es", args.events * 50)
    both["customer"] = {"email": "ana.larga@example.es", "phone": "+34600999888"}
    (merged,) = services.interactions_ingest(raw_items=[both], actor="bench")
    customer_id = merged.customer_id
    from customers.models import Customer
    from customers.services.cases import case_message_receive, case_open

    members = Customer.objects.filter(merged_into_id=customer_id).count()
    case_events = 0
    for n in range(args.cases):
        opened_at = start + timedelta(days=10 + 30 * n)
        case = case_open(
            customer_id=customer_id,
            channel="whatsapp",
            subject=f"Pedido {n}: talla equivocada",
            text="Me llegó una talla M y pedí una L",
            actor="bench",
            occurred_at=opened_at,
        )
        for m in range(3):
            case_message_receive(
                case_id=case.id,
                channel="email",
                text=f"Adjunto foto {m}",
                actor="bench",
                occurred_at=opened_at + timedelta(hours=m + 1),
            )
        case_events += 5
    projector.catch_up_all()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would keep them

    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_issue(user=staff_user_save(username='b', role='support'))}"
    )
    page_url = f"/api/v1/customers/{customer_id}/timeline?limit=50"
    for _ in range(40):  # 40 pages in: the cursor of a deep page
        following = client.get(page_url).json()["next"]
        if following is None:
            break
        page_url = following
    deep_cursor = page_url
    as_of = (start + timedelta(minutes=args.events * 25)).isoformat()  # half-way through the history

    def timed(path: str, params: dict | None = None, repeat: int = args.repeat) -> list[float]:
        client.get(path, params)  # warm
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path, params)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
        return samples

    def raw_baseline() -> list[float]:
        is_pg = connection.vendor == "postgresql"
        param = customer_id if is_pg else customer_id.hex
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT position, id, stream, version, type, schema_version, channel, customer_id, occurred_at,"
                    " recorded_at, data, metadata FROM eventstore_event WHERE customer_id = %s"
                    " ORDER BY occurred_at DESC, position DESC LIMIT 50",
                    [param],
                )
                cursor.fetchall()
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    figures = [
        ("raw SELECT of 50 timeline rows (baseline)", raw_baseline(), None),
        ("GET /customers/{id} (360 view)", timed(f"/api/v1/customers/{customer_id}"), 50),
        ("GET .../timeline first page (50)", timed(f"/api/v1/customers/{customer_id}/timeline"), 50),
        ("GET .../timeline page 41 (cursor)", timed(deep_cursor), 50),
        (
            "GET /customers/{id}?as_of= (fold)",
            timed(f"/api/v1/customers/{customer_id}", {"as_of": as_of}, repeat=max(10, args.repeat // 10)),
            500,
        ),
    ]
    print(f"Customer 360 reads, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(
        f"one customer with {args.events:,} interactions among {args.others:,} others with 20 each; "
        f"{args.repeat} timed requests per figure (as_of: {max(10, args.repeat // 10)})"
    )
    print(
        f"the one customer is a merged group ({members + 1} customers: by email, and by phone on WhatsApp until a "
        f"checkout named both) with {args.cases} open cases ({case_events} case events); orders: no event type yet"
    )
    print()
    print("(query counts are asserted by tests/customers/test_customers_api.py: at most 8 for the 360 view)")
    print(f"{'read':44}  {'p50 ms':>7}  {'p95 ms':>7}  {'max ms':>7}  {'target p95':>10}  met")
    for name, samples, target in figures:
        p95 = percentile(samples, 0.95)
        met = "-" if target is None else ("yes" if p95 < target else "NO")
        print(
            f"{name:44}  {statistics.median(samples):7.2f}  {p95:7.2f}  {max(samples):7.2f}  "
            f"{target if target else '-':>10}  {met}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
