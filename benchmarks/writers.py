"""Parallel writers: appends and order placement through the API from 1, 2, 4 and 8 processes (issue 15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_writers_bench .venv/bin/python benchmarks/writers.py
    .venv/bin/python benchmarks/writers.py                 # SQLite in a temporary file (one writer: 1 process only)

Targets (PostgreSQL, this machine, ratios within one run): the rate never drops when processes are added, and two
processes reach at least 1.4x one. Each process is its own forked client with its own connection, as a web server's
workers are, and writes streams of its own (no two touch one stream or stock row): what is measured is what the
store makes writers wait for, not a contention the application asked for.

- `store.append`: one command = one transaction appending one event (~300 bytes) to a stream of its own process,
  with the inline projections and after-commit hooks of the real system (hooks off: no broker here).
- `POST /api/v1/orders`: a pickup order of 3 lines, each process at its own store.

The baseline of each series is its own 1-process figure in the same run. The rate is taken over the window in
which every process runs (from the common start until the first finishes its share): the rate of N writers at work.
The rate until the last one ends is printed too; it also counts a tail in which fewer processes run, because on 2
cores 8 children given equal shares do not finish together.
"""

import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, log, run_forked_together, run_on_fresh_database  # noqa: E402

TARGET_TWO_PROCESSES = 1.4


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--appends", type=int, default=4000, help="appends per run, split across processes (4000)")
    parser.add_argument("--orders", type=int, default=1200, help="orders per run, split across processes (1200)")
    parser.add_argument("--processes", default="1,2,4,8", help="process counts, one run each (1,2,4,8)")
    return run_on_fresh_database(run, parser.parse_args())


def _in_processes(processes: int, count: int, work) -> tuple[float, float, float]:
    """Work(index, n) over n in range(count), split across `processes` forked children that each warm up (connect)
    and then start together: (completed per second while all of them ran, completed per second until the last ended,
    the children's CPU seconds per item).

    The first is the figure: the rate of `processes` writers at work. The second counts the tail in which the first
    children have finished and fewer run (on 2 cores, 8 children do not end together: the last one alone then sets
    the wall time), which measures the scheduler's unfairness as much as the writers."""

    def child(index: int, start) -> tuple[list[float], float]:
        ended: list[float] = []  # time.perf_counter() is CLOCK_MONOTONIC: one clock for every process
        work(index, -1 - index)  # connect and warm
        start.wait()
        cpu = time.process_time()
        for n in range(index, count, processes):
            work(index, n)
            ended.append(time.perf_counter())
        return ended, time.process_time() - cpu

    forked = run_forked_together(child, processes, warm_seconds=1.5)
    # The common window: from the start to the moment the first child finished its share.
    window_end = min(ended[-1] for ended, _ in forked.answers)
    in_window = sum(1 for ended, _ in forked.answers for at in ended if at <= window_end)
    return (
        in_window / (window_end - forked.started),
        count / forked.seconds,
        sum(cpu for _, cpu in forked.answers) / count,
    )


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import connection
    from rest_framework.test import APIClient

    from backoffice.accounts.services import api_token_issue, staff_user_save
    from backoffice.eventstore import store
    from customers.services.ingestion import customer_register
    from orders import services

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    is_pg = connection.vendor == "postgresql"
    counts = [int(c) for c in str(args.processes).split(",")] if is_pg else [1]

    log("catalog: one store per process, 3 order skus")
    stores = [f"W{n:02d}" for n in range(max(counts))]
    skus = ["WR-A", "WR-B", "WR-C"]
    for code in stores:
        services.location_create(code=code, name=f"Store {code}", kind="store", city="Madrid", actor="bench")
    for sku in skus:
        services.product_save(sku=sku, name=sku, category="bench", price=Decimal("9.90"), actor="bench")
        for code in stores:
            services.stock_move(sku=sku, location=code, kind="received", quantity=1_000_000, actor="bench")
    customer_id, _ = customer_register(customer={"email": "writers@example.es"}, channel="web", actor="bench")
    token = api_token_issue(user=staff_user_save(username="bench-writers", role="integration"))
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def append(run_name: str):
        def work(index: int, n: int) -> None:
            event = store.NewEvent(
                "page.viewed",
                {"url": f"https://shop.example.es/p/{n}", "title": "Camiseta de algodón orgánico", "referrer": ""},
                channel="web",
                customer_id=customer_id,
            )
            store.append(f"bench-{run_name}-{index}-{n % 50}", [event])

        return work

    def order(run_name: str):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

        def work(index: int, n: int) -> None:
            body = {
                "id": f"{run_name}-{index}-{n}",
                "customer": str(customer_id),
                "channel": "app",
                "lines": [{"sku": sku, "quantity": 1} for sku in skus],
                "fulfilment": {"method": "pickup", "location": stores[index]},
            }
            response = client.post("/api/v1/orders", body, format="json")
            assert response.status_code == 201, response.content[:300]

        return work

    rows = []
    overall: dict[tuple[str, int], float] = {}
    cpu: dict[tuple[str, int], float] = {}
    ok = True
    for label, total, make in (
        ("store.append, 1 event", args.appends, append),
        ("POST /api/v1/orders", args.orders, order),
    ):
        rates = {}
        for processes in counts:
            log(f"{label}: {total} from {processes} process(es)")
            rates[processes], overall[(label, processes)], cpu[(label, processes)] = _in_processes(
                processes, total, make(f"{label.split()[0].replace('.', '').upper()}{processes}")
            )
        base = rates[counts[0]]
        previous = 0.0
        for processes in counts:
            rate = rates[processes]
            verdicts = []
            if rate < previous:
                verdicts.append("LOWER than fewer processes")
                ok = False
            if processes == 2 and counts[0] == 1:
                met = rate / base >= TARGET_TWO_PROCESSES
                verdicts.append(f"2 >= {TARGET_TWO_PROCESSES}x 1: {'yes' if met else 'NO'}")
                ok = ok and met
            previous = max(previous, rate)
            rows.append(
                (
                    f"{label}, {processes} process(es)",
                    f"{rate:,.0f}/s",
                    f"{rate / base:.2f}x",
                    f"{overall[(label, processes)]:,.0f}/s",
                    f"{cpu[(label, processes)] * 1e6:,.0f}",
                    "; ".join(verdicts),
                )
            )

    print(f"Parallel writers, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(f"{os.cpu_count()} CPUs; DEBUG off, no after-commit hooks; ratios against 1 process in this run")
    print()
    print("rate: completed per second while every process ran; to last: completed / wall time until the last ended;")
    print("client us: CPU of the client processes per item (their PostgreSQL backends not counted)")
    print(f"{'figure':44}  {'rate':>10}  {'ratio':>6}  {'to last':>10}  {'client us':>9}  outcome")
    for name, rate, ratio, to_last, client, verdict in rows:
        print(f"{name:44}  {rate:>10}  {ratio:>6}  {to_last:>10}  {client:>9}  {verdict}")
    print()
    print(f"targets met: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
