"""CPU per append: the client process and its PostgreSQL backend, one process (issue 15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_append_cpu_bench PYTHONPATH=. \\
        .venv/bin/python benchmarks/append_cpu.py
    PYTHONPATH=. .venv/bin/python benchmarks/append_cpu.py      # SQLite in a temporary file (client CPU only)

On a machine shared with other work, wall-clock rates move by 2x between identical runs (docs/benchmarks.md); the
CPU each append costs moves far less, so this is the figure to compare two codes by, run one after the other. Four
shapes, each with the real system's validation, sealing and inline projections (after-commit hooks off):

- single append: one `page.viewed` per transaction on 50 streams (`writers.py`'s append);
- command: the stream's version read, then one event appended at it (`eventsourcing_compare.py`'s command);
- batch of 100: 100 events to a new stream in one append (`eventsourcing_compare.py`'s batch);
- order: `POST /api/v1/orders`, 3 lines, pickup (`writers.py`'s order).

CPU is read from /proc for this process (`time.process_time`) and for its PostgreSQL backend (`pg_backend_pid()`,
on this machine only: PostgreSQL on loopback).
"""

import os
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, connection_backend_cpu_seconds, run_on_fresh_database  # noqa: E402


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--appends", type=int, default=3000, help="single appends, and commands (3000 each)")
    parser.add_argument("--batches", type=int, default=100, help="batches of 100 events (100)")
    parser.add_argument("--orders", type=int, default=1000, help="orders placed (1000)")
    return run_on_fresh_database(run, parser.parse_args())


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import connection
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore import store
    from customers.services.ingestion import customer_register
    from orders import services

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    data = {"url": "https://shop.example.es/p/1", "title": "Camiseta de algodón orgánico", "referrer": ""}
    customer_id = uuid.uuid4()
    skus = ["AC-A", "AC-B", "AC-C"]
    services.location_create(code="AC1", name="Store AC1", kind="store", city="Madrid", actor="bench")
    for sku in skus:
        services.product_save(sku=sku, name=sku, category="bench", price=Decimal("9.90"), actor="bench")
        services.stock_move(sku=sku, location="AC1", kind="received", quantity=1_000_000, actor="bench")
    buyer, _ = customer_register(customer={"email": "append-cpu@example.es"}, channel="web", actor="bench")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {api_token_issue(user=staff_user_save(username='bench-cpu', role='integration'))}"
    )

    def page_viewed(n: int) -> store.NewEvent:
        return store.NewEvent(
            "page.viewed", {**data, "url": f"{data['url']}?n={n}"}, channel="web", customer_id=customer_id
        )

    def single(n: int) -> None:
        store.append(f"single-{n % 50}", [page_viewed(n)])

    def command(n: int) -> None:
        stream = f"command-{n % 100}"
        store.append(stream, [page_viewed(n)], expected_version=store.stream_version(stream))

    def batch(n: int) -> None:
        store.append(f"batch-{n}-{uuid.uuid4()}", [page_viewed(k) for k in range(100)], expected_version=0)

    def order(n: int) -> None:
        body = {
            "id": f"cpu-{n}",
            "customer": str(buyer),
            "channel": "app",
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
            "fulfilment": {"method": "pickup", "location": "AC1"},
        }
        response = client.post("/api/v1/orders", body, format="json")
        assert response.status_code == 201, response.content[:300]

    shapes = (
        ("single append", single, args.appends, 1),
        ("command", command, args.appends, 1),
        ("batch of 100", batch, args.batches, 100),
        ("order (POST)", order, args.orders, 1),
    )
    for _, work, count, _ in shapes:  # warm: connections, prepared statements, imports
        for n in range(min(count, 20)):
            work(-1 - n)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def backend_cpu() -> float:
        return connection_backend_cpu_seconds(connection) or 0.0

    print(f"# append_cpu.py: {description}; load average at the start {os.getloadavg()[0]:.2f}")
    print(f"{'shape':14} {'wall ev/s':>10} {'client us/ev':>13} {'backend us/ev':>14} {'total us/ev':>12}")
    for name, work, count, per in shapes:
        wall, cpu, server = time.perf_counter(), time.process_time(), backend_cpu()
        for n in range(count):
            work(n)
        wall, cpu, server = time.perf_counter() - wall, time.process_time() - cpu, backend_cpu() - server
        events = count * per
        print(
            f"{name:14} {events / wall:10,.0f} {cpu / events * 1e6:13,.0f} {server / events * 1e6:14,.0f} "
            f"{(cpu + server) / events * 1e6:12,.0f}"
        )
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
