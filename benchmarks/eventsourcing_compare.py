"""Our event store side by side with the Python `eventsourcing` library on PostgreSQL, in one run (issue 15).

    .venv/bin/pip install "eventsourcing[postgres]"     # for this script only: not a project dependency
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_compare_bench \
        .venv/bin/python benchmarks/eventsourcing_compare.py

The database named in the URL is DROPPED and recreated (its name must contain "bench"); both stores write to it,
each to its own tables. PostgreSQL only: the comparison is about PostgreSQL recorders.

- **one event per command**: the library loads an aggregate (`repository.get`: its events replayed), triggers one
  event and saves it (`app.save`: one transaction, its optimistic version check); ours reads the stream's version
  (autocommit, as the library's load) and appends one event with that `expected_version` in a transaction of its own
  (validation, personal fields sealed, inline
  projections and after-commit hooks of the real system; hooks off: no broker here). Both spread the commands over
  the same number of aggregates/streams, so each grows to the same length.
- **a batch of 100 per save**: the library saves a new aggregate holding 100 events (its creation and 99 more) in
  one `app.save`; ours appends 100 events to a new stream (`expected_version=0`) in one call.

Both stores start from empty tables and grow to thousands of rows. Before each timed window the tables past
autovacuum's threshold are analyzed, as autovacuum would (benchmarks.support.runs.AutoAnalyze; this server runs
without it), outside the window and for both sides alike: plans cached at 100 rows otherwise scan whole tables at
6,000 (ours: the id look-up of every append; the command ratio read 1.67-1.85x with them, 2.19-2.26x without;
docs/benchmarks.md, session 13). `--no-autoanalyze` leaves the statistics of the warm-up.

Rounds alternate (ours, then the library's) so a noisy machine weighs on both. Each figure is events/s of wall time,
CPU microseconds per event of this process, and of the PostgreSQL backends each side talks to (read from /proc, so
only when the server runs on this machine: ours is Django's connection, theirs the library's pool). On a loaded
machine the wall clock follows the sum of the two CPUs: a side that waits for a core waits longer the more it asks.
Targets: our command rate >= 2x the library's; our batch rate >= 1.5x.
"""

import gc
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import (  # noqa: E402
    AutoAnalyze,
    benchmark_parser,
    log,
    processes_cpu_seconds,
    run_on_fresh_database,
)

TARGET_COMMANDS = 2.0
TARGET_BATCHES = 1.5
INSTALL = (
    'the `eventsourcing` library is not installed: .venv/bin/pip install "eventsourcing[postgres]" (this script only)'
)


def _library():
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError:
        sys.exit(INSTALL)

    class Page(Aggregate):
        @event("Viewed")
        def view(self, url: str, title: str, referrer: str) -> None:
            self.last_url = url

    class Pages(Application):
        pass

    return Page, Pages


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--commands", type=int, default=2000, help="one-event commands per store (2000)")
    parser.add_argument("--aggregates", type=int, default=100, help="aggregates/streams the commands spread over (100)")
    parser.add_argument("--batches", type=int, default=40, help="saves of 100 events per store (40)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the work is split into (4)")
    parser.add_argument(
        "--no-autoanalyze",
        dest="autoanalyze",
        action="store_false",
        help="no stand-in for autovacuum's ANALYZE between the timed windows (see benchmarks.support.runs.AutoAnalyze)",
    )
    args = parser.parse_args()
    Page, Pages = _library()  # before touching the database: a missing library is a clear message
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must be a PostgreSQL URL whose database name contains 'bench' (it is recreated)")
    return run_on_fresh_database(run, args, Page, Pages, url=url)


def run(args, description: str, Page, Pages) -> int:  # noqa: N803 - classes
    import environ
    from django.conf import settings
    from django.db import connection

    from backoffice.eventstore import store

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    config = environ.Env.db_url_config(url_of(settings))
    app = Pages(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": config["NAME"],
            "POSTGRES_HOST": config.get("HOST") or "127.0.0.1",
            "POSTGRES_PORT": str(config.get("PORT") or 5432),
            "POSTGRES_USER": config.get("USER") or "postgres",
            "POSTGRES_PASSWORD": config.get("PASSWORD") or "",
            "CREATE_TABLE": "y",
        }
    )
    customer_id = uuid.uuid4()
    data = {"url": "https://shop.example.es/p/1", "title": "Camiseta de algodón orgánico", "referrer": ""}

    def ours_command(n: int) -> None:
        # As the library does: read the state (here the stream's version: nothing to replay, the read models hold
        # the state), then write in a transaction of its own that checks the version read.
        stream = f"cmp-{n % args.aggregates}"
        version = store.stream_version(stream)
        event = store.NewEvent("page.viewed", data, channel="web", customer_id=customer_id)
        store.append(stream, [event], expected_version=version)

    aggregate_ids = []
    for _ in range(args.aggregates):
        page = Page()
        app.save(page)
        aggregate_ids.append(page.id)

    def theirs_command(n: int) -> None:
        page = app.repository.get(aggregate_ids[n % args.aggregates])
        page.view(**data)
        app.save(page)

    def ours_batch(n: int) -> None:
        events = [store.NewEvent("page.viewed", data, channel="web", customer_id=customer_id) for _ in range(100)]
        store.append(f"cmp-batch-{n}-{uuid.uuid4()}", events, expected_version=0)

    def theirs_batch(n: int) -> None:
        page = Page()
        for _ in range(99):
            page.view(**data)
        app.save(page)

    # Warm both (connections, prepared statements, imports).
    for work in (ours_command, theirs_command, ours_batch, theirs_batch):
        work(-1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # What is set up so far (Django, both stores, the library's classes) lives for the whole run: frozen out of the
    # cycle collector, as a long-lived worker would freeze its start-up. Otherwise a full collection walks all of it
    # (tens of ms) and lands in one side's window or the other's by the chance of allocation counts: quiet batch
    # ratios of 0.58x and 1.20x for the same code (docs/benchmarks.md, h17batch).
    gc.collect()
    gc.freeze()

    def backends(key: str) -> list[int]:
        """The backend(s) serving one side: Django's connection for ours, every other one of the database (the
        library's pool) for theirs."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                + ("pid = pg_backend_pid()" if key.startswith("ours") else "pid <> pg_backend_pid()")
            )
            return [pid for (pid,) in cursor.fetchall()]

    # wall seconds, client CPU seconds, events, server CPU seconds (None: not readable here)
    totals: dict[str, list[Any]] = {
        key: [0.0, 0.0, 0, 0.0] for key in ("ours_command", "theirs_command", "ours_batch", "theirs_batch")
    }
    series = [
        ("ours_command", ours_command, args.commands, 1),
        ("theirs_command", theirs_command, args.commands, 1),
        ("ours_batch", ours_batch, args.batches, 100),
        ("theirs_batch", theirs_batch, args.batches, 100),
    ]
    analyze = AutoAnalyze()
    for number in range(args.rounds):
        for key, work, count, per in series:
            share = count // args.rounds
            if args.autoanalyze:
                # Both stores' tables grow from nearly empty; autovacuum would analyze them as they do, which
                # plans cached at 100 rows need (AutoAnalyze). Outside the timed windows, for both sides alike.
                analyze.run_due(connection)
            pids = backends(key)
            server = processes_cpu_seconds(pids)
            wall, cpu = time.perf_counter(), time.process_time()
            for n in range(number * share, (number + 1) * share):
                work(n)
            totals[key][0] += time.perf_counter() - wall
            totals[key][1] += time.process_time() - cpu
            totals[key][2] += share * per
            server_after = processes_cpu_seconds(pids)
            if server is None or server_after is None or totals[key][3] is None:
                totals[key][3] = None
            else:
                totals[key][3] += server_after - server
        log(f"round {number + 1}/{args.rounds} done")

    def rate(key: str) -> float:
        return totals[key][2] / totals[key][0]

    def cpu_us(key: str) -> float:
        return totals[key][1] / totals[key][2] * 1e6

    def server_us(key: str) -> float | None:
        return None if totals[key][3] is None else totals[key][3] / totals[key][2] * 1e6

    def shown(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    def cpu_ratio(kind: str) -> str:
        """The library's CPU per event (client and server) over ours: what the rate ratio tends to on a machine whose
        cores are all busy, where each side's wall clock is its CPU waited for."""
        ours, theirs = server_us(f"ours_{kind}"), server_us(f"theirs_{kind}")
        if ours is None or theirs is None:
            return "n/a"
        return f"{(cpu_us(f'theirs_{kind}') + theirs) / (cpu_us(f'ours_{kind}') + ours):.2f}x"

    load = os.getloadavg()[0]
    lines = [
        f"# eventsourcing_compare.py: {description}; load average {load:.2f}",
        f"# eventsourcing {_version()}; {args.commands} commands over {args.aggregates} aggregates, "
        f"{args.batches} saves of 100 events each, {args.rounds} alternating rounds; "
        + (
            f"{analyze.runs} ANALYZE of tables past autovacuum's threshold between the windows "
            f"({analyze.seconds:.2f} s, not counted)"
            if args.autoanalyze
            else "no ANALYZE between the windows (--no-autoanalyze)"
        ),
        f"{'':34} {'ours ev/s':>10} {'theirs ev/s':>12} {'ratio':>7} {'target':>7}  CPU us/event ours / theirs: "
        "client, server; CPU ratio",
    ]
    verdicts = []
    for label, kind, target in (
        ("one event per command", "command", TARGET_COMMANDS),
        ("a batch of 100 per save", "batch", TARGET_BATCHES),
    ):
        ours, theirs = rate(f"ours_{kind}"), rate(f"theirs_{kind}")
        ratio = ours / theirs
        verdicts.append(ratio >= target)
        lines.append(
            f"{label:34} {ours:10,.0f} {theirs:12,.0f} {ratio:6.2f}x {target:6.1f}x  "
            f"{cpu_us(f'ours_{kind}'):.0f} / {cpu_us(f'theirs_{kind}'):.0f}, "
            f"{shown(server_us(f'ours_{kind}'))} / {shown(server_us(f'theirs_{kind}'))}; {cpu_ratio(kind)}  "
            f"{'met' if ratio >= target else 'NOT met'}"
        )
    print("\n".join(lines))
    app.close()
    log("targets met: " + ("yes" if all(verdicts) else "NO"))
    return 0


def url_of(settings) -> str:
    return os.environ["DATABASE_URL"]


def _version() -> str:
    from importlib.metadata import version

    return version("eventsourcing")


if __name__ == "__main__":
    sys.exit(main())
