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

A third series is the machine's own scaling, in the same run, with no database and none of our code: N pairs of
forked Python processes ping-ponging one byte over a pipe, each side touching 256 KB of a 4 MB working set of its own
per message, as a client and its backend do a round trip each (`--baseline-messages`, 0 to skip it). On these 2 cores
its rate falls too from 4 pairs to 8 (2026-12-07, two runs: 9,302 -> 7,926 and 7,228 -> 5,988 messages/s, CPU per
message up 18% and 16%): 16 processes that keep waking one another evict each other's caches, whatever they run.
The last line sets each series' drop at the most processes beside the baseline's.
"""

import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import (  # noqa: E402
    AutoAnalyze,
    benchmark_parser,
    log,
    run_forked_together,
    run_on_fresh_database,
)

TARGET_TWO_PROCESSES = 1.4


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--appends", type=int, default=4000, help="appends per run, split across processes (4000)")
    parser.add_argument("--orders", type=int, default=1200, help="orders per run, split across processes (1200)")
    parser.add_argument("--processes", default="1,2,4,8", help="process counts, one run each (1,2,4,8)")
    parser.add_argument(
        "--baseline-messages",
        type=int,
        default=40000,
        help="messages of the database-free ping-pong baseline per process count (40000; 0: skip it)",
    )
    parser.add_argument(
        "--waits", action="store_true", help="sample pg_stat_activity every 10 ms and print what backends wait on"
    )
    return run_on_fresh_database(run, parser.parse_args())


class _Costs(NamedTuple):
    """What one child spent on its share: its CPU seconds and context switches (voluntary: it waited, for the
    server or a lock; involuntary: the scheduler took the CPU away), and the same for its PostgreSQL backend, read
    from /proc (None when the server runs elsewhere)."""

    cpu: float
    switches: tuple[int, int]
    faults: int
    full_collections: float  # CPU seconds in the cycle collector's full passes
    server_cpu: float | None
    server_switches: tuple[int, int] | None


def _server_usage(pid: int | None) -> tuple[float, tuple[int, int]] | None:
    """CPU seconds and (voluntary, involuntary) context switches of a local process, from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    switches = dict(line.split(":\t") for line in status if line.endswith(tuple("0123456789")) and "ctxt" in line)
    return (
        (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        (int(switches["voluntary_ctxt_switches"]), int(switches["nonvoluntary_ctxt_switches"])),
    )


class _FullCollections:
    """A gc callback: the CPU seconds of the cycle collector's full passes (generation 2) in this process."""

    def __init__(self) -> None:
        self.seconds, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


def _in_processes(processes: int, count: int, work, waits: "_WaitSampler | None" = None):
    """Work(index, n) over n in range(count), split across `processes` forked children that each warm up (connect)
    and then start together: (completed per second while all of them ran, completed per second until the last ended,
    what the children and their backends spent per item, what the backends waited on in the window).

    The first is the figure: the rate of `processes` writers at work. The second counts the tail in which the first
    children have finished and fewer run (on 2 cores, 8 children do not end together: the last one alone then sets
    the wall time), which measures the scheduler's unfairness as much as the writers."""

    def child(index: int, start) -> tuple[list[float], _Costs]:
        import gc
        import resource

        from django.db import connection

        ended: list[float] = []  # time.perf_counter() is CLOCK_MONOTONIC: one clock for every process
        from backoffice.process import start_up_done

        work(index, -1 - index)  # connect and warm
        # As a gunicorn worker does once started (wsgi.py): what the child inherited and warmed is frozen out of the
        # cycle collector's reach. Without it, each child's first full pass walked the whole inherited heap and
        # copied its pages (copy-on-write) inside the window: 155 / 359 / 677 / 989 us per order at 1 / 2 / 4 / 8
        # processes (07:38), a cost per child that more children paid more often, and no server worker pays.
        start_up_done()
        backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else None
        full_passes = _FullCollections()
        gc.callbacks.append(full_passes)
        start.wait()
        server_before, usage_before = _server_usage(backend), resource.getrusage(resource.RUSAGE_SELF)
        cpu = time.process_time()
        for n in range(index, count, processes):
            work(index, n)
            ended.append(time.perf_counter())
        cpu = time.process_time() - cpu
        server_after, usage_after = _server_usage(backend), resource.getrusage(resource.RUSAGE_SELF)
        switches = (usage_after.ru_nvcsw - usage_before.ru_nvcsw, usage_after.ru_nivcsw - usage_before.ru_nivcsw)
        faults = usage_after.ru_minflt - usage_before.ru_minflt
        gc.callbacks.remove(full_passes)
        if server_before is None or server_after is None:
            return ended, _Costs(cpu, switches, faults, full_passes.seconds, None, None)
        server_switches = (
            server_after[1][0] - server_before[1][0],
            server_after[1][1] - server_before[1][1],
        )
        return ended, _Costs(
            cpu, switches, faults, full_passes.seconds, server_after[0] - server_before[0], server_switches
        )

    if waits is not None:
        waits.begin()
    forked = run_forked_together(child, processes, warm_seconds=1.5)
    # The common window: from the start to the moment the first child finished its share.
    window_end = min(ended[-1] for ended, _ in forked.answers)
    in_window = sum(1 for ended, _ in forked.answers for at in ended if at <= window_end)
    costs = [cost for _, cost in forked.answers]
    server = [c for c in costs if c.server_cpu is not None and c.server_switches is not None]
    spent = {
        "client us": sum(c.cpu for c in costs) / count * 1e6,
        "client cs": sum(c.switches[0] + c.switches[1] for c in costs) / count,
        "client ics": sum(c.switches[1] for c in costs) / count,
        "client flt": sum(c.faults for c in costs) / count,
        "full gc us": sum(c.full_collections for c in costs) / count * 1e6,
    }
    if len(server) == len(costs):
        spent["server us"] = sum(c.server_cpu or 0.0 for c in server) / count * 1e6
        spent["server cs"] = sum(sum(c.server_switches or (0, 0)) for c in server) / count
    return (
        in_window / (window_end - forked.started),
        count / forked.seconds,
        spent,
        waits.end(forked.started, window_end) if waits is not None else None,
    )


class _WaitSampler:
    """`--waits`: what this database's client backends are doing, read from pg_stat_activity and pg_locks by a
    process of its own every 10 ms (its CPU competes with the writers': off by default). Summed over the common
    window: the mean number of backends active on the CPU, active waiting on each wait event, idle in a transaction
    (the client is working, or waiting for a CPU, mid-transaction), and waiting for a lock."""

    QUERY = """
        SELECT a.state, a.wait_event_type, a.wait_event,
               EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted)
          FROM pg_stat_activity a
         WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
    """

    def __init__(self, params: dict):
        self._params = params
        self._process: Any = None

    def begin(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._stop, self._samples = context.Event(), context.Queue()
        self._process = context.Process(target=self._sample, daemon=True)
        self._process.start()

    def _sample(self) -> None:
        import psycopg

        taken: list[tuple[float, list[str]]] = []
        with psycopg.connect(**self._params, autocommit=True) as side:
            while not self._stop.is_set():
                at = time.perf_counter()
                seen = []
                for state, wait_type, wait, is_locked in side.execute(self.QUERY):
                    if is_locked:
                        seen.append("lock wait")
                    if state == "active":
                        seen.append(f"{wait_type}:{wait}" if wait_type else "CPU")
                    elif state == "idle in transaction":
                        seen.append("idle in tx")
                taken.append((at, seen))
                time.sleep(max(0.0, 0.01 - (time.perf_counter() - at)))
        self._samples.put(taken)

    def end(self, start: float, end: float) -> str:
        self._stop.set()
        taken = self._samples.get(timeout=60)
        self._process.join()
        inside = [seen for at, seen in taken if start <= at <= end]
        counted = Counter(what for seen in inside for what in seen)
        locked = counted.pop("lock wait", 0)
        per_sample = ", ".join(f"{what} {n / max(1, len(inside)):.2f}" for what, n in counted.most_common(6))
        return (
            f"{len(inside)} samples, {locked} backends seen waiting for a lock; "
            f"backends per sample: {per_sample or 'none active'}"
        )


# The database-free baseline: what one message costs each side (KB touched) out of its own working set (KB).
BASELINE_WORKING_SET_KB = 4096
BASELINE_TOUCHED_KB = 256


def _ping_pong_side(conn, answers, messages: int, serves: bool) -> None:
    """One side of a pair: per message, touch BASELINE_TOUCHED_KB of its own working set in a random order (as an
    interpreter walks its objects), then answer (server) or ask and wait for the answer (client)."""
    import random

    blocks = [bytearray(1024) for _ in range(BASELINE_WORKING_SET_KB)]
    order = list(range(BASELINE_WORKING_SET_KB))
    random.Random(os.getpid()).shuffle(order)
    cpu = time.process_time()
    for n in range(messages):
        if serves:
            conn.recv_bytes()
        start = (n * 97) % (BASELINE_WORKING_SET_KB - BASELINE_TOUCHED_KB)
        for index in order[start : start + BASELINE_TOUCHED_KB]:
            block = blocks[index]
            block[n % 1024] = (block[n % 1024] + 1) & 255
        if serves:
            conn.send_bytes(b"y")
        else:
            conn.send_bytes(b"x")
            conn.recv_bytes()
    answers.put(time.process_time() - cpu)


def _machine_baseline(pairs: int, messages: int) -> tuple[float, float]:
    """(messages per second until the last pair ended, CPU microseconds per message of both sides) for `pairs`
    forked client/server pairs sharing `messages` equally."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # never share a connection with a forked child
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    share = max(1, messages // pairs)
    sides = []
    for _ in range(pairs):
        client, server = context.Pipe()
        sides.append(context.Process(target=_ping_pong_side, args=(client, answers, share, False)))
        sides.append(context.Process(target=_ping_pong_side, args=(server, answers, share, True)))
    started = time.perf_counter()
    for side in sides:
        side.start()
    cpu = sum(answers.get(timeout=900) for _ in sides)
    seconds = time.perf_counter() - started
    for side in sides:
        side.join()
    return share * pairs / seconds, cpu / (share * pairs) * 1e6


def _drop_to_last(rates: dict[int, float]) -> str:
    """How the rate at the most processes compares with the best at fewer: "-16% (281 -> 235)"."""
    counts = sorted(rates)
    best = max(rates[c] for c in counts[:-1])
    last = rates[counts[-1]]
    return f"{(last / best - 1) * 100:+.0f}% ({best:,.0f} -> {last:,.0f})"


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
    spent: dict[tuple[str, int], dict[str, float]] = {}
    waited: list[str] = []
    waits = None
    if args.waits and is_pg:
        waits = _WaitSampler(connection.get_connection_params())
    analyze = AutoAnalyze()
    ok = True
    series_rates: dict[str, dict[int, float]] = {}
    for label, total, make in (
        ("store.append, 1 event", args.appends, append),
        ("POST /api/v1/orders", args.orders, order),
    ):
        rates = {}
        for processes in counts:
            if is_pg:
                analyze.run_due(connection)  # between the timed windows: autovacuum's ANALYZE as the tables grow
            log(f"{label}: {total} from {processes} process(es)")
            rates[processes], overall[(label, processes)], spent[(label, processes)], seen = _in_processes(
                processes, total, make(f"{label.split()[0].replace('.', '').upper()}{processes}"), waits
            )
            if seen is not None:
                waited.append(f"{label}, {processes} process(es): {seen}")
        series_rates[label] = rates
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
            costs = spent[(label, processes)]
            rows.append(
                (
                    f"{label}, {processes} process(es)",
                    f"{rate:,.0f}/s",
                    f"{rate / base:.2f}x",
                    f"{overall[(label, processes)]:,.0f}/s",
                    f"{costs['client us']:,.0f}",
                    f"{costs['server us']:,.0f}" if "server us" in costs else "-",
                    f"{costs['client cs']:.1f}/{costs['client ics']:.1f}",
                    f"{costs['server cs']:.1f}" if "server cs" in costs else "-",
                    f"{costs['client flt']:.1f}/{costs['full gc us']:,.0f}",
                    "; ".join(verdicts),
                )
            )

    baseline: dict[int, tuple[float, float]] = {}
    if args.baseline_messages and len(counts) > 1:  # the machine's scaling: nothing to compare with one count
        for pairs in counts:
            log(f"baseline: {args.baseline_messages} ping-pong messages over {pairs} pair(s), no database")
            baseline[pairs] = _machine_baseline(pairs, args.baseline_messages)
        base_rate = baseline[counts[0]][0]
        for pairs in counts:
            rate, cpu_us = baseline[pairs]
            rows.append(
                (
                    f"baseline, no database, {pairs} pair(s)",
                    f"{rate:,.0f}/s",
                    f"{rate / base_rate:.2f}x",
                    f"{rate:,.0f}/s",
                    f"{cpu_us:,.0f}",
                    "-",
                    "-",
                    "-",
                    "-",
                    "",
                )
            )

    print(f"Parallel writers, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(f"{os.cpu_count()} CPUs; DEBUG off, no after-commit hooks; ratios against 1 process in this run")
    if is_pg:
        print(
            f"ANALYZE of the tables past autovacuum's threshold before each run (AutoAnalyze): {analyze.runs} tables, "
            f"{analyze.seconds:.2f} s, not counted"
        )
    print()
    print("rate: completed per second while every process ran; to last: completed / wall time until the last ended;")
    print("client us / server us: CPU per item of the client processes / of their PostgreSQL backends (from /proc,")
    print("'-' when the server is not local); cs: context switches per item, client all/involuntary, and server;")
    print("faults/gc us: the clients' page faults per item (copy-on-write of the forked parent's pages, mostly) and")
    print("their CPU per item in the cycle collector's full passes (part of client us); baseline: the machine's own")
    print("scaling, pairs of Python processes ping-ponging over a pipe with no database (rate until the last pair")
    print("ended; client us: CPU per message of both sides)")
    print(
        f"{'figure':44}  {'rate':>10}  {'ratio':>6}  {'to last':>10}  {'client us':>9}  {'server us':>9}"
        f"  {'client cs':>9}  {'server cs':>9}  {'faults/gc us':>12}  outcome"
    )
    for name, rate, ratio, to_last, client, server, client_cs, server_cs, faults, verdict in rows:
        print(
            f"{name:44}  {rate:>10}  {ratio:>6}  {to_last:>10}  {client:>9}  {server:>9}  {client_cs:>9}"
            f"  {server_cs:>9}  {faults:>12}  {verdict}"
        )
    if waited:
        print()
        print("What the backends did in each window (--waits; CPU: active, not waiting; idle in tx: between the")
        print("statements of a transaction, the client at work; lock wait: an ungranted pg_locks row):")
        for line in waited:
            print(f"  {line}")
    if len(counts) > 1 and series_rates:
        print()
        drops = [f"{label} {_drop_to_last(rates)}" for label, rates in series_rates.items()]
        if baseline:
            drops.append(f"the database-free baseline {_drop_to_last({c: r for c, (r, _) in baseline.items()})}")
        print(f"At {counts[-1]} processes against the best with fewer: " + "; ".join(drops))
    print()
    print(f"targets met: {'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
