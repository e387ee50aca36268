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

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.customer360 import percentile  # noqa: E402
from benchmarks.ingest import log, prepare_database, setup_django  # noqa: E402

TARGET_ORDERS_PER_S = 300
TARGET_AVAILABILITY_P95_MS = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=200, help="reservation attempts per figure (200)")
    parser.add_argument("--threads", type=int, default=50, help="threads making them, one connection each (50)")
    parser.add_argument("--units", type=int, default=10, help="units left of the contended sku (10)")
    parser.add_argument("--orders", type=int, default=2000, help="orders placed through the API (2000)")
    parser.add_argument("--api-threads", type=int, default=4, help="API clients placing orders at once (4)")
    parser.add_argument("--repeat", type=int, default=300, help="timed availability requests (300)")
    args = parser.parse_args()
    url, cleanup, description = prepare_database(os.environ.get("DATABASE_URL"))
    try:
        setup_django(url)
        return run(args, description)
    finally:
        cleanup()


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import close_old_connections, connection, transaction
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_get_or_create, staff_user_save
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

    log(f"API: {args.orders} pickup orders of 3 lines, {args.api_threads} clients, each its own store")
    token = api_token_get_or_create(user=staff_user_save(username="bench-web", role="integration"))

    def place_one(n: int):
        client = clients[threading.get_ident()]
        body = {
            "id": f"API-{n}",
            "customer": str(customer_id),
            "channel": "app",
            "lines": [{"sku": sku, "quantity": 1} for sku in order_skus],
            "fulfilment": {"method": "pickup", "location": stores[n % args.api_threads]},
        }
        response = client.post("/api/v1/orders", body, format="json")
        assert response.status_code == 201, response.content[:300]
        return n

    clients: dict[int, APIClient] = {}

    def api_worker_client():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        clients[threading.get_ident()] = client

    # Work items are partitioned so that each client has its own store: no two clients touch the same rows.
    per_client = [list(range(i, args.orders, args.api_threads)) for i in range(args.api_threads)]
    api_threads = args.api_threads if is_pg else 1

    def client_run(items):
        api_worker_client()
        return [place_one(n) for n in items]

    if api_threads == 1:
        items = list(range(args.orders))
        api_worker_client()
        started = time.perf_counter()
        for n in items:
            # One client: spread over stores anyway, so each order is an uncontended reservation.
            place_one(n)
        api_seconds = time.perf_counter() - started
    else:
        _, api_seconds = in_threads(api_threads, per_client, client_run)
    api_rate = args.orders / api_seconds
    met = "yes" if api_rate >= TARGET_ORDERS_PER_S else "NO"
    figures.append(
        (
            f"POST /orders, 3 lines, pickup, {api_threads} client(s) (>= {TARGET_ORDERS_PER_S}/s)",
            f"{api_rate:,.0f}/s ({api_rate / append_rate:.2f}x bare append)",
            f"target met: {met}",
        )
    )

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
        f"orders: {args.orders} through the API on {api_threads} thread(s); DEBUG off, no after-commit hooks"
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
