"""The doors of issue 12: the Segment-spec tracking API and Shopify webhooks, each next to our own API in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_integrations_bench .venv/bin/python benchmarks/integrations.py
    .venv/bin/python benchmarks/integrations.py           # SQLite in a temporary file

Issue 12's targets (PostgreSQL):
- `POST /v1/batch`, 100-event batches gzip-encoded as the SDKs send them, identity resolution included: at least
  3,000 events/s and at least 0.5x `POST /api/v1/events` with the same events (our envelope, batches of 100).
- Shopify `orders/create` webhooks (the published example's shape, signed, 2 lines): at least 200 orders/s from 2
  processes, and the ratio to `POST /api/v1/orders` with the same orders.
Both sides of each ratio run alternately in the same run, each on its own people (same shape: anonymous visitors,
a fifth of whom identify with an email and a user id, returning visitors found by their anonymous id) or its own
shop and location, so neither warms the other's customers or stock rows. Clients are in-process (Django's test
client), as in benchmarks/orders.py: the figures are the server's work, request parsing included.
"""

import base64
import gzip
import hashlib
import hmac
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import (  # noqa: E402
    AutoAnalyze,
    benchmark_parser,
    connection_backend_cpu_seconds,
    log,
    run_forked_together,
    run_on_fresh_database,
)

TARGET_EVENTS_PER_S = 3000
TARGET_EVENTS_RATIO = 0.5
TARGET_ORDERS_PER_S = 200
ORDER_ROUNDS = 4
SHOP_SECRET = "bench-shopify-secret"  # noqa: S105 - a benchmark's own shop
SKUS = ("SKU2006-001", "SKU2006-020")
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "integrations" / "fixtures" / "shopify_orders_create.json"


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=20_000, help="events per side (20000), in batches of 100")
    parser.add_argument("--batch", type=int, default=100, help="events per request (100)")
    parser.add_argument("--orders", type=int, default=2000, help="orders per side (2000)")
    parser.add_argument("--processes", type=int, default=2, help="processes sending orders at once (2)")
    parser.add_argument(
        "--event-processes", type=int, default=2, help="processes sending event batches at once (2; PostgreSQL only)"
    )
    return run_on_fresh_database(measure, parser.parse_args())


def measure(args, description: str) -> int:
    figures, ok = run(args)
    report(figures, args, description)
    return 0 if ok else 1


def run(args) -> tuple[list[tuple[str, str, str]], bool]:
    """Set up, measure, check what was stored. Returns (figures, every count as expected)."""
    from django.conf import settings
    from django.db import connection

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore.models import Event
    from backoffice.integrations import services as integrations
    from orders import services as orders

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    settings.SHOPIFY_WEBHOOK_SECRET = ""
    is_pg = connection.vendor == "postgresql"
    processes = args.processes if is_pg else 1
    log("setup: a tracking source, an integration token, two shops each shipping from its own warehouse")
    write_key = integrations.tracking_source_create(name="bench-web", channel="web").write_key
    token = api_token_issue(user=staff_user_save(username="bench-integration", role="integration"))
    for side in ("api", "shop"):
        for n in range(processes):
            code = f"WH-{side.upper()}-{n}"
            orders.location_create(code=code, name=code, kind="warehouse", city="Madrid", actor="bench")
    for sku in SKUS:
        orders.product_save(sku=sku, name=sku, category="bench", price=Decimal("19.90"), actor="bench")
        for side in ("api", "shop"):
            for n in range(processes):
                orders.stock_move(
                    sku=sku, location=f"WH-{side.upper()}-{n}", kind="received", quantity=10**6, actor="bench"
                )
    for n in range(processes):
        integrations.shop_connection_save(
            platform="shopify",
            shop_domain=f"bench-{n}.myshopify.com",
            secret=SHOP_SECRET,
            default_location=f"WH-SHOP-{n}",
        )
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    figures: list[tuple[str, str, str]] = []
    ok = True

    # --- Events --------------------------------------------------------------------------------------------------
    rng = random.Random(12)  # noqa: S311 - reproducible data, not security
    batches = max(1, args.events // args.batch)
    segment_bodies, api_bodies = [], []
    for side in ("seg", "api"):
        for b in range(batches):
            # In several processes, batch b is sent by process b % P: its people are that process's own, as
            # different visitors reach different web workers (two first visits of one person at once is a race
            # of its own, not what this measures).
            group = f"{side}{b % max(1, getattr(args, 'event_processes', 1))}"
            messages = [_visit(rng, group, b * args.batch + i, batches * args.batch) for i in range(args.batch)]
            if side == "seg":
                body = {"batch": messages, "sentAt": datetime.now(UTC).isoformat(), "writeKey": write_key}
                segment_bodies.append(gzip.compress(json.dumps(body).encode()))
            else:
                api_bodies.append(json.dumps({"events": [_ours(m) for m in messages]}).encode())
    log(f"events: {batches} batches of {args.batch} per side, /v1/batch (gzip) and /api/v1/events alternately")
    from django.test import Client

    client = Client()
    auth_basic = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    seg_seconds = api_seconds = seg_cpu = api_cpu = seg_db_cpu = api_db_cpu = 0.0
    # The database backend's CPU, where the server is a process of this machine (None: not measured).
    db_cpu = (
        (lambda: connection_backend_cpu_seconds(connection) or 0.0)
        if connection_backend_cpu_seconds(connection) is not None
        else None
    )
    before = Event.objects.count()
    event_processes = getattr(args, "event_processes", 1) if is_pg else 1
    if event_processes > 1:
        # Several web workers: each side's batches from `event_processes` forked clients, in alternating rounds.
        rounds = max(1, min(ORDER_ROUNDS, batches // event_processes))
        for round_ in range(rounds):
            numbers = range(round_ * batches // rounds, (round_ + 1) * batches // rounds)
            seconds, _ = _in_processes(
                numbers, event_processes, lambda n, p: _batch_request(segment_bodies[n], auth_basic)
            )
            seg_seconds += seconds
            seconds, _ = _in_processes(numbers, event_processes, lambda n, p: _events_request(api_bodies[n], token))
            api_seconds += seconds

    def post_batch(body: bytes):
        """One gzip /v1/batch request, as an analytics SDK sends it."""
        return client.post(
            "/v1/batch",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=auth_basic,
            HTTP_CONTENT_ENCODING="gzip",
        )

    # The stand-in for autovacuum's ANALYZE (AutoAnalyze): with the statistics of empty tables the planner keeps
    # seq-scanning customers_customer for every batch's identifier lookup. Outside the measured time.
    analyze = AutoAnalyze() if is_pg else None
    for seg_body, api_body in zip(segment_bodies, api_bodies, strict=True):
        if event_processes > 1:
            break
        if analyze:
            analyze.run_due(connection)
        server = db_cpu() if db_cpu else 0.0
        started, cpu = time.perf_counter(), time.process_time()
        response = post_batch(seg_body)
        seg_seconds += time.perf_counter() - started
        seg_cpu += time.process_time() - cpu
        seg_db_cpu += (db_cpu() - server) if db_cpu else 0.0
        assert response.status_code == 200, response.content[:500]
        server = db_cpu() if db_cpu else 0.0
        started, cpu = time.perf_counter(), time.process_time()
        response = client.post(
            "/api/v1/events", api_body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
        )
        api_seconds += time.perf_counter() - started
        api_cpu += time.process_time() - cpu
        api_db_cpu += (db_cpu() - server) if db_cpu else 0.0
        assert response.status_code == 201, response.content[:500]
    total = batches * args.batch
    stored = Event.objects.count() - before
    seg_rate, api_rate = total / seg_seconds, total / api_seconds
    ratio = seg_rate / api_rate
    figures.append(
        (
            f"POST /api/v1/events, batches of {args.batch}, {event_processes} process(es) (baseline)",
            f"{api_rate:,.0f} ev/s",
            _cpu_note(api_cpu, api_db_cpu if db_cpu else None, total) if event_processes == 1 else "-",
        )
    )
    met = seg_rate >= TARGET_EVENTS_PER_S and ratio >= TARGET_EVENTS_RATIO
    figures.append(
        (
            f"POST /v1/batch, {args.batch} per batch, gzip, {event_processes} process(es) "
            f"(>= {TARGET_EVENTS_PER_S:,}/s, >= {TARGET_EVENTS_RATIO}x)",
            f"{seg_rate:,.0f} ev/s ({ratio:.2f}x)",
            f"target met: {'yes' if met else 'NO'}"
            + (f"; {_cpu_note(seg_cpu, seg_db_cpu if db_cpu else None, total)}" if event_processes == 1 else ""),
        )
    )
    figures.append(
        ("  events stored, both sides (identity events included)", f"{stored:,}", f"{stored / total / 2:.2f} per item")
    )
    log("events: the same /v1/batch bodies again (an SDK retrying): nothing new")
    before = Event.objects.count()
    started = time.perf_counter()
    for seg_body in segment_bodies:
        response = post_batch(seg_body)
        assert response.status_code == 200
    resend_rate = total / (time.perf_counter() - started)
    again = Event.objects.count() - before
    ok &= again == 0
    figures.append(("  resent batches (all duplicates)", f"{resend_rate:,.0f} ev/s", f"{again} events written"))

    # --- Orders --------------------------------------------------------------------------------------------------
    from orders.models import Order

    payload = json.loads(FIXTURE.read_text())
    log(f"orders: {args.orders} Shopify orders/create and {args.orders} POST /api/v1/orders, {processes} process(es)")
    # Alternating rounds, so a machine busier at one moment than another weighs on both sides alike.
    shop_seconds = shop_cpu = api_orders_seconds = api_cpu = 0.0
    rounds = max(1, min(ORDER_ROUNDS, args.orders // max(1, 10 * processes)))
    for round_ in range(rounds):
        numbers = range(round_ * args.orders // rounds, (round_ + 1) * args.orders // rounds)
        if analyze:
            analyze.run_due(connection)
        seconds, cpu = _in_processes(numbers, processes, lambda n, p: _shopify_request(payload, n, p))
        shop_seconds, shop_cpu = shop_seconds + seconds, shop_cpu + cpu
        seconds, cpu = _in_processes(numbers, processes, lambda n, p: _api_order_request(token, n, p))
        api_orders_seconds, api_cpu = api_orders_seconds + seconds, api_cpu + cpu
    shop_rate, api_order_rate = args.orders / shop_seconds, args.orders / api_orders_seconds
    placed = Order.objects.count()
    ok &= placed == 2 * args.orders
    figures.append(
        (
            f"POST /api/v1/orders, 2 lines, ship, {processes} process(es) (baseline)",
            f"{api_order_rate:,.0f} orders/s",
            f"{api_cpu / args.orders * 1000:.2f} ms CPU per order",
        )
    )
    figures.append(
        (
            f"Shopify orders/create webhook, {processes} process(es) (>= {TARGET_ORDERS_PER_S}/s)",
            f"{shop_rate:,.0f} orders/s ({shop_rate / api_order_rate:.2f}x)",
            f"target met: {'yes' if shop_rate >= TARGET_ORDERS_PER_S else 'NO'}; "
            f"{shop_cpu / args.orders * 1000:.2f} ms CPU per order",
        )
    )
    figures.append(("  orders placed, both sides", f"{placed:,}", "expected " + f"{2 * args.orders:,}"))
    if analyze:
        note = f"{analyze.seconds:.2f} s"
        figures.append(("  ANALYZE in autovacuum's stead, not counted", f"{analyze.runs} tables analyzed", note))
    return figures, ok


def _cpu_note(app: float, server: float | None, items: int) -> str:
    """CPU per event: the application's (this process), and PostgreSQL's backend when it could be read."""
    note = f"{app / items * 1000:.3f} ms app CPU per event"
    if server is not None:
        note += f" + {server / items * 1000:.3f} ms PostgreSQL"
    return note


def _visit(rng: random.Random, side: str, n: int, population: int) -> dict:
    """One Segment message of a shop visit: returning visitors (by anonymous id), a fifth identifying."""
    visitor = rng.randrange(max(1, population // 4))
    anonymous_id = f"{side}-anon-{visitor}"
    base = {
        "messageId": f"{side}-{n}",
        "anonymousId": anonymous_id,
        "timestamp": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "context": {
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0 (bench)",
            "locale": "es-ES",
            "library": {"name": "analytics-python", "version": "2.4.0"},
        },
    }
    roll = rng.random()
    if roll < 0.2:
        return {
            **base,
            "type": "identify",
            "userId": f"{side}-user-{visitor}",
            "traits": {"email": f"{side}-{visitor}@example.es", "firstName": "Ana", "lastName": f"V{visitor}"},
        }
    if roll < 0.5:
        return {
            **base,
            "type": "page",
            "name": "Catalogue",
            "properties": {"url": f"https://shop.example/c/{n % 50}", "title": "Catálogo"},
        }
    if roll < 0.8:
        return {
            **base,
            "type": "track",
            "event": "Product Viewed",
            "properties": {"product_id": f"SKU-{n % 300}", "sku": f"SKU-{n % 300}", "price": 19.9},
        }
    return {
        **base,
        "type": "track",
        "event": "Product Added",
        "properties": {"cart_id": f"{side}-cart-{visitor}", "sku": f"SKU-{n % 300}", "price": 19.9, "quantity": 1},
    }


def _ours(message: dict) -> dict:
    """The same interaction in our own envelope (POST /api/v1/events)."""
    customer = {"anonymous_id": message["anonymousId"]}
    kind = message["type"]
    if kind == "identify":
        traits = message["traits"]
        customer |= {
            "email": traits["email"],
            "external_id": {"system": "bench-web", "id": message["userId"]},
            "name": f"{traits['firstName']} {traits['lastName']}",
        }
        type_name, data = "customer.identified", {"traits": {}}
    elif kind == "page":
        type_name, data = "page.viewed", {"url": message["properties"]["url"], "title": "Catálogo"}
    elif message["event"] == "Product Viewed":
        type_name, data = "product.viewed", {"sku": message["properties"]["sku"]}
    else:
        p = message["properties"]
        type_name = "cart.item_added"
        data = {"cart_id": p["cart_id"], "sku": p["sku"], "quantity": 1, "unit_price": "19.90"}
    return {
        "id": str(uuid.uuid4()),
        "type": type_name,
        "channel": "web",
        "occurred_at": message["timestamp"],
        "customer": customer,
        "data": data,
    }


def _batch_request(body: bytes, auth: str) -> dict:
    return {
        "path": "/v1/batch",
        "data": body,
        "content_type": "application/json",
        "HTTP_AUTHORIZATION": auth,
        "HTTP_CONTENT_ENCODING": "gzip",
        "expect": 200,
    }


def _events_request(body: bytes, token: str) -> dict:
    return {
        "path": "/api/v1/events",
        "data": body,
        "content_type": "application/json",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "expect": 201,
    }


def _shopify_request(payload: dict, n: int, process: int) -> dict:
    body = json.dumps(
        {
            **payload,
            "id": 10**12 + n,
            "customer": {**payload["customer"], "id": 5000 + n % 500, "email": f"buyer-{n % 500}@example.es"},
            "email": f"buyer-{n % 500}@example.es",
        }
    ).encode()
    return {
        "path": "/integrations/shopify/webhooks",
        "data": body,
        "content_type": "application/json",
        "HTTP_X_SHOPIFY_TOPIC": "orders/create",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": f"bench-{process}.myshopify.com",
        "HTTP_X_SHOPIFY_WEBHOOK_ID": str(uuid.uuid4()),
        "HTTP_X_SHOPIFY_HMAC_SHA256": base64.b64encode(hmac.new(SHOP_SECRET.encode(), body, hashlib.sha256).digest()),
        "expect": 200,
    }


def _api_order_request(token: str, n: int, process: int) -> dict:
    body = {
        "id": f"API-{n}",
        "customer": {"email": f"api-buyer-{n % 500}@example.es"},
        "channel": "web",
        "lines": [{"sku": sku, "quantity": 1} for sku in SKUS],
        "fulfilment": {"method": "ship", "location": f"WH-API-{process}"},
    }
    return {
        "path": "/api/v1/orders",
        "data": json.dumps(body).encode(),
        "content_type": "application/json",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "expect": 201,
    }


def _in_processes(numbers: range, processes: int, build) -> tuple[float, float]:
    """(wall time, CPU of the clients) for the requests `numbers` from `processes` forked in-process clients that
    start together; requests are built before the clock starts. One process: in this one."""
    from django.test import Client

    def send_all(index: int) -> float:
        client = Client()
        requests = [build(n, index) for n in numbers if n % processes == index]
        cpu = time.process_time()
        for request in requests:
            request = dict(request)
            path, expect = request.pop("path"), request.pop("expect")
            if isinstance(request.get("HTTP_X_SHOPIFY_HMAC_SHA256"), bytes):
                request["HTTP_X_SHOPIFY_HMAC_SHA256"] = request["HTTP_X_SHOPIFY_HMAC_SHA256"].decode()
            response = client.post(path, request.pop("data"), **request)
            assert response.status_code == expect, response.content[:300]
            if path.startswith("/integrations/"):
                assert response.json()["outcome"] == "applied", response.content[:300]
        return time.process_time() - cpu

    if processes == 1:
        started = time.perf_counter()
        cpu = send_all(0)
        return time.perf_counter() - started, cpu

    def child(index: int, start) -> float:
        start.wait()
        return send_all(index)

    forked = run_forked_together(child, processes)
    return forked.seconds, sum(forked.answers)


def report(figures, args, description: str) -> None:
    print(f"Integrations (issue 12), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average at the end: {load} (other processes share these cores: compare the ratios)")
    print(
        f"{os.cpu_count()} CPUs; {args.events} events per side in batches of {args.batch}; {args.orders} orders per "
        f"side from {args.processes} process(es) on PostgreSQL (1 on SQLite); DEBUG off, no after-commit hooks"
    )
    print()
    print(f"{'figure':84}  {'rate':28}  outcome")
    for name, value, outcome in figures:
        print(f"{name:84}  {value:28}  {outcome}")


if __name__ == "__main__":
    sys.exit(main())
