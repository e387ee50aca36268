"""Read throughput of the customer 360 selector from 2 processes: on the primary only, and split between the primary
and a streaming read replica (one process on each), in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench \\
    DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:5433/backoffice_bench .venv/bin/python benchmarks/replica.py
    .venv/bin/python benchmarks/replica.py --customers 50     # no replica: the "replica" is the primary itself

The replica URL's host and port are used with the primary's database name (a standby holds every database of its
primary). Without DATABASE_REPLICA_URL the replica alias falls back to the primary and the split is only a check that
the script runs. Baseline: both processes reading the primary. On one machine the primary and the replica share its
cores: the split shows what a second server would take off the primary, the ratio what it gains here.
"""

import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, log, run_forked_together, run_on_fresh_database  # noqa: E402

PROCESSES = 2


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--customers", type=int, default=2_000, help="customers to read (2000)")
    parser.add_argument("--events", type=int, default=20, help="events per customer (20)")
    parser.add_argument("--reads", type=int, default=2_000, help="360 reads per process and mode (2000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each mode, best one kept (3)")
    return run_on_fresh_database(run, parser.parse_args(), before_setup=_point_replica_at)


def _point_replica_at(url: str) -> None:
    replica_url = os.environ.get("DATABASE_REPLICA_URL", "")
    if replica_url and url.startswith("postgres"):
        # The same database on the standby: its host, port and credentials, the primary's database name.
        os.environ["DATABASE_REPLICA_URL"] = urlunsplit(urlsplit(replica_url)._replace(path=urlsplit(url).path))
    else:
        os.environ.pop("DATABASE_REPLICA_URL", None)


def _seed(args) -> list[uuid.UUID]:
    from django.conf import settings

    from customers import services

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    start = datetime.now(UTC) - timedelta(days=200)
    kinds = (
        ("page.viewed", "web", {"url": "https://tienda.example.es/es/p/1", "title": "Camiseta | Tienda"}),
        ("product.viewed", "app", {"sku": "SKU-001"}),
        ("search.performed", "web", {"query": "zapatillas running talla 38", "results_count": 12}),
        ("store.visited", "store", {"location": "VLC-01"}),
    )
    items = []
    for n in range(args.customers * args.events):
        type_, channel, data = kinds[n % len(kinds)]
        items.append(
            {
                "id": str(uuid.uuid4()),
                "type": type_,
                "channel": channel,
                "occurred_at": (start + timedelta(minutes=n)).isoformat(),
                "customer": {"email": f"cliente{n % args.customers}@example.es"},
                "data": data,
            }
        )
    ids = set()
    for offset in range(0, len(items), 500):
        for result in services.interactions_ingest(raw_items=items[offset : offset + 500], actor="bench"):
            ids.add(result.customer_id)
    return sorted(ids, key=str)


def _wait_for_replica(timeout: float = 120.0) -> str:
    """Until the standby has replayed the seed (at once when there is none)."""
    from django.db import connections

    replica = connections["replica"]
    if replica.vendor != "postgresql":
        return "none (SQLite: the replica alias is the primary)"
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        in_recovery, port = cursor.fetchone()
    if not in_recovery:
        return f"none (the replica alias is the primary, port {port})"
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    with replica.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return f"streaming standby on port {port}"
            if time.monotonic() > deadline:
                sys.exit("the replica did not catch up with the seed")
            time.sleep(0.1)


def _reader(on_replica: bool, customer_ids: list[uuid.UUID], reads: int, seed: int, start) -> None:
    """One process: `reads` 360 views of random customers, on the replica (a read scope) or on the primary."""
    from contextlib import nullcontext

    from backoffice import replica
    from customers.selectors import customer_360

    chooser = random.Random(seed)
    scope = replica.reads_from_replica() if on_replica else nullcontext()
    with scope:
        expected = "replica" if on_replica else "default"
        if replica.read_alias() != expected:
            raise SystemExit(f"reads would go to {replica.read_alias()!r}, not {expected!r}")
        customer_360(customer_id=customer_ids[0])  # connect before the start line
        start.wait()
        for _ in range(reads):
            customer_360(customer_id=chooser.choice(customer_ids))


def _round(placement: tuple[bool, ...], customer_ids, reads: int) -> float:
    """Reads per second of all processes together, from the first start to the last finish."""
    forked = run_forked_together(
        lambda n, start: _reader(placement[n], customer_ids, reads, n, start), len(placement), warm_seconds=0.5
    )
    return len(placement) * reads / forked.seconds


def run(args, description: str) -> int:
    from django.conf import settings

    settings.DATABASE_REPLICA_ROUTING = True
    log(f"seeding {args.customers} customers x {args.events} events on the primary")
    customer_ids = _seed(args)
    standby = _wait_for_replica()
    modes = {
        "primary only (2 processes on the primary)": (False,) * PROCESSES,
        "split (1 process on the primary, 1 on the replica)": (False, True),
        "replica only (2 processes on the replica)": (True,) * PROCESSES,
    }
    best: dict[str, float] = {}
    for round_number in range(args.repeat):
        for name, placement in modes.items():
            rate = _round(placement, customer_ids, args.reads)
            best[name] = max(best.get(name, 0.0), rate)
            log(f"round {round_number + 1}: {name}: {rate:,.0f} reads/s")

    baseline = best["primary only (2 processes on the primary)"]
    print(f"# benchmarks/replica.py on {description}; replica: {standby}")
    print(f"# {len(customer_ids)} customers x {args.events} events; {args.reads} reads of customer_360 per process")
    print(f"# {os.cpu_count()} cores; best of {args.repeat} rounds")
    for name, rate in best.items():
        print(f"{name:55} {rate:10,.0f} reads/s  ratio {rate / baseline:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
