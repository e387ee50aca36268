"""Stock reservations under contention, order placement through the API, and availability across 50 locations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/orders.py
    .venv/bin/python benchmarks/orders.py                 # SQLite in a temporary file

Issue 5's targets:
- 200 concurrent reservation attempts for the last 10 units of one sku on PostgreSQL: exactly 10 succeed, 0
  oversold; reservations/s under contention and without (each attempt its own sku).
- Order placement through the API (3 lines, pickup): at least 300 orders/s on PostgreSQL without contention.
- Stock availability for one sku across 50 locations: p95 under 20 ms.
Baselines measured in the same run: the least SQL a reservation needs through the driver (a conditional
`UPDATE ... SET reserved = reserved + 1 WHERE on_hand - reserved >= 1` and its COMMIT), a bare `store.append` of
the same four events an order writes, and the raw SELECT of the 50 stock rows.
"""

import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import (  # noqa: E402
    benchmark_parser,
    log,
    percentile,
    run_forked_together,
    run_on_fresh_database,
)

TARGET_ORDERS_PER_S = 300
TARGET_AVAILABILITY_P95_MS = 20.0


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--attempts", type=int, default=200, help="reservation attempts per figure (200)")
    parser.add_argument("--threads", type=int, default=50, help="threads making them, one connection each (50)")
    parser.add_argument("--units", type=int, default=10, help="units left of the contended sku (10)")
    parser.add_argument("--orders", type=int, default=2000, help="orders placed through the API (2000)")
    parser.add_argument(
        "--api-processes", default="2,4", help="processes placing orders at once, one run per count (2,4)"
    )
    parser.add_argument("--repeat", type=int, default=300, help="timed availability requests (300)")
    return run_on_fresh_database(run, parser.parse_args())


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import close_old_connections, connection, transaction
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore import store
    from customers.services.ingestion import customer_register
    from orders import services
    from orders.errors import InsufficientStock
    from orders.models import StockLevel

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    is_pg = connection.vendor == "postgresql"
    threads = args.threads if is_pg else 1  # SQLite has one writer; threads would only queue on its lock

    log("catalog: 50 locations, 3 order skus, one hot sku, and one sku per uncontended reservation")
    codes = [f"S{n:02d}" for n in range(49)] + ["WH-01"]
    for code in codes:
        kind = "warehouse" if code.startswith("WH") else "store"
        services.location_create(code=code, name=f"Location {code}", kind=kind, city="Madrid", actor="bench")
    stores = [code for code in codes if not code.startswith("WH")]
    order_skus = ["ORD-A", "ORD-B", "ORD-C"]
    solo_skus = [f"SOLO-{n:04d}" for n in range(args.attempts)]
    for sku in ["HOT", *order_skus, *solo_skus]:
        services.product_save(sku=sku, name=sku, category="bench", price=Decimal("9.90"), actor="bench")
    services.stock_move(sku="HOT", location="S00", kind="received", quantity=args.units, actor="bench")
    for sku in order_skus:
        for code in codes:
            services.stock_move(sku=sku, location=code, kind="received", quantity=100_000, actor="bench")
    for n, sku in enumerate(solo_skus):
        services.stock_move(sku=sku, location=stores[n % len(stores)], kind="received", quantity=5, actor="bench")
    customer_id, _ = customer_register(customer={"email": "bench@example.es"}, channel="web", actor="bench")
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def in_threads(count: int, work: list, do) -> tuple[list, float]:
        """Run do(item) for every item on `count` threads (own connections), all starting together."""
        results: list = [None] * len(work)
        barrier = threading.Barrier(count + 1)
        lock = threading.Lock()
        queue = list(enumerate(work))

        def worker():
            close_old_connections()
            connection.ensure_connection()
            barrier.wait()
            while True:
                with lock:
                    if not queue:
                        break
                    index, item = queue.pop()
                try:
                    results[index] = do(item)
                except Exception as exc:  # noqa: BLE001 - counted below
                    results[index] = exc
            connection.close()

        pool = [threading.Thread(target=worker) for _ in range(count)]
        for thread in pool:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in pool:
            thread.join()
        return results, time.perf_counter() - started

    def reserve(sku: str, code: str):
        def attempt(n: int):
            return services.order_place(
                order_id=f"R-{sku}-{n}",
                customer=customer_id,
                channel="web",
                lines=[{"sku": sku, "quantity": 1}],
                fulfilment={"method": "pickup", "location": code},
                actor="bench",
            )

        return attempt

    def raw_reserve(item: tuple[str, str]):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_stocklevel SET reserved = reserved + 1 "
                "WHERE sku = %s AND location_code = %s AND on_hand - reserved >= 1",
                list(item),
            )
            return cursor.rowcount

    figures: list[tuple[str, str, str]] = []

    log(f"baseline: {args.attempts} raw conditional UPDATEs on {threads} threads, each its own row")
    results, seconds = in_threads(
        threads, [(sku, stores[n % len(stores)]) for n, sku in enumerate(solo_skus)], raw_reserve
    )
    assert all(r == 1 for r in results), results[:5]
    raw_rate = args.attempts / seconds
    figures.append(("raw conditional UPDATE + COMMIT, own rows (baseline)", f"{raw_rate:,.0f}/s", "-"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE orders_stocklevel SET reserved = 0 WHERE sku LIKE 'SOLO-%%'")

    log(f"contention: {args.attempts} reservations of the last {args.units} units of one sku, {threads} threads")
    results, seconds = in_threads(threads, list(range(args.attempts)), reserve("HOT", "S00"))
    won = sum(1 for r in results if isinstance(r, tuple))
    refused = sum(1 for r in results if isinstance(r, InsufficientStock))
    other = [r for r in results if isinstance(r, Exception) and not isinstance(r, InsufficientStock)]
    hot = StockLevel.objects.get(sku="HOT", location_code="S00")
    reserved_events = sum(e.data["quantity"] for e in store.read_stream("stock-HOT@S00") if e.type == "stock.reserved")
    oversold = max(hot.reserved - hot.on_hand, 0) + max(reserved_events - args.units, 0)
    contended_rate = args.attempts / seconds
    figures.append(
        (
            f"{args.attempts} attempts on the last {args.units} units (contention)",
            f"{contended_rate:,.0f}/s ({contended_rate / raw_rate:.2f}x raw)",
            f"{won} succeeded, {refused} refused, {len(other)} errors, {oversold} oversold",
        )
    )
    assert not other, other[:3]

    log(f"no contention: {args.attempts} reservations, each of its own sku, {threads} threads")

    def solo(n: int):
        return reserve(solo_skus[n], stores[n % len(stores)])(n)

    results, seconds = in_threads(threads, list(range(args.attempts)), solo)
    ok = sum(1 for r in results if isinstance(r, tuple))
    assert ok == args.attempts, [r for r in results if not isinstance(r, tuple)][:3]
    solo_rate = args.attempts / seconds
    figures.append(
        (
            f"{args.attempts} attempts, each its own sku (no contention)",
            f"{solo_rate:,.0f}/s ({solo_rate / raw_rate:.2f}x raw)",
            f"{ok} succeeded",
        )
    )

    log("baseline: store.append of the four events an order writes (placed + 3 reserved), one thread")
    appended = 0
    started = time.perf_counter()
    for n in range(300):
        order_id = f"B-{n}"
        events = [store.NewEvent("order.placed", _placed(order_id, order_skus), channel="web", customer_id=customer_id)]
        batches = [store.StreamAppend(f"bench-order-{order_id}", events)]
        for sku in order_skus:
            data = {"sku": sku, "location": "NOWHERE", "quantity": 1, "order_id": order_id}
            batches.append(store.StreamAppend(f"bench-stock-{sku}-{n}", [store.NewEvent("stock.reserved", data)]))
        with transaction.atomic():
            store.append_batches(batches)
        appended += 1
    append_rate = appended / (time.perf_counter() - started)
    figures.append(("store.append_batches, the 4 events, 1 thread (baseline)", f"{append_rate:,.0f}/s", "-"))

    token = api_token_issue(user=staff_user_save(username="bench-web", role="integration"))
    # Processes, as a web server's workers would be: threads of one process would share one GIL, and an order costs
    # milliseconds of Python. Each process is its own client with its own store: no two touch the same stock rows.
    # Several counts: with two cores, two processes leave a core idle whenever both wait on PostgreSQL at once; a
    # web server runs more workers than cores for that reason (gunicorn suggests 2 x cores + 1).
    counts = [int(count) for count in str(args.api_processes).split(",")] if is_pg else [1]
    for processes in counts:
        log(f"API: {args.orders} pickup orders of 3 lines from {processes} process(es), each its own store")
        api_seconds, api_cpu = _place_through_api(
            args.orders, processes, token, str(customer_id), order_skus, stores, prefix=f"API{processes}"
        )
        api_rate = args.orders / api_seconds
        met = "yes" if api_rate >= TARGET_ORDERS_PER_S else "NO"
        figures.append(
            (
                f"POST /orders, 3 lines, pickup, {processes} process(es) (>= {TARGET_ORDERS_PER_S}/s)",
                f"{api_rate:,.0f}/s ({api_rate / append_rate:.2f}x bare append)",
                f"target met: {met}",
            )
        )
        cpu_ms = api_cpu / args.orders * 1000
        figures.append(
            (
                "  Python CPU per order (request, view, services, driver)",
                f"{cpu_ms:.2f} ms",
                f"{1000 / cpu_ms:,.0f} orders/s per fully available core",
            )
        )
    api_threads = ", ".join(str(count) for count in counts)

    log(f"availability of one sku across {len(codes)} locations, {args.repeat} requests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    path = "/api/v1/stock"
    client.get(path, {"sku": "ORD-A"})
    samples = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        response = client.get(path, {"sku": "ORD-A"})
        samples.append((time.perf_counter() - started) * 1000)
    assert len(response.json()["results"]) == len(codes)
    raw = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sku, location_code, on_hand, reserved, version, updated_at FROM orders_stocklevel "
                "WHERE sku = %s ORDER BY location_code",
                ["ORD-A"],
            )
            cursor.fetchall()
        raw.append((time.perf_counter() - started) * 1000)
    p95 = percentile(samples, 0.95)
    figures.append(
        (
            "raw SELECT of the 50 rows (baseline), p50 / p95",
            f"{statistics.median(raw):.2f} / {percentile(raw, 0.95):.2f} ms",
            "-",
        )
    )
    figures.append(
        (
            f"GET /stock?sku= over {len(codes)} locations, p50 / p95 (< {TARGET_AVAILABILITY_P95_MS:.0f} ms)",
            f"{statistics.median(samples):.2f} / {p95:.2f} ms",
            f"target met: {'yes' if p95 < TARGET_AVAILABILITY_P95_MS else 'NO'}",
        )
    )

    print(f"Orders and stock, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(
        f"{os.cpu_count()} CPUs; reservations: {args.attempts} attempts on {threads} threads (one connection each); "
        f"orders: {args.orders} through the API from {api_threads} process(es); DEBUG off, no after-commit hooks"
    )
    print()
    print(f"{'figure':66}  {'rate / latency':32}  outcome")
    for name, value, outcome in figures:
        print(f"{name:66}  {value:32}  {outcome}")
    ok = won == args.units and oversold == 0
    print()
    print(
        f"no oversell: {'yes' if ok else 'NO'} (exactly {args.units} of {args.attempts} succeeded: {won == args.units})"
    )
    return 0 if ok else 1


def _place_through_api(
    count: int, processes: int, token: str, customer: str, skus: list, stores: list, prefix: str = "API"
) -> tuple[float, float]:
    """(wall time, CPU time of the clients) for `count` orders POSTed by `processes` forked clients that start
    together. In-process clients: the CPU time is the whole request's, view, services and driver included."""
    from rest_framework.test import APIClient

    def body(n: int, store: str) -> dict:
        return {
            "id": f"{prefix}-{n}",
            "customer": customer,
            "channel": "app",
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
            "fulfilment": {"method": "pickup", "location": store},
        }

    def client_run(index: int, start) -> float:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.post("/api/v1/orders", body(-1 - index, stores[index]), format="json")  # connect and warm
        start.wait()
        cpu = time.process_time()
        for n in range(index, count, processes):
            response = client.post("/api/v1/orders", body(n, stores[index]), format="json")
            assert response.status_code == 201, response.content[:300]
        return time.process_time() - cpu

    if processes == 1:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.post("/api/v1/orders", body(-1, stores[0]), format="json")
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(count):
            response = client.post("/api/v1/orders", body(n, stores[n % len(stores)]), format="json")
            assert response.status_code == 201, response.content[:300]
        return time.perf_counter() - started, time.process_time() - cpu
    forked = run_forked_together(client_run, processes, warm_seconds=2)  # time for every child to connect and warm up
    return forked.seconds, sum(forked.answers)


def _placed(order_id: str, skus: list[str]) -> dict:
    return {
        "order_id": order_id,
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "9.90", "location": "S00"} for sku in skus],
        "total": "29.70",
        "currency": "EUR",
        "fulfilment": {"method": "pickup", "location": "S00"},
    }


if __name__ == "__main__":
    sys.exit(main())
