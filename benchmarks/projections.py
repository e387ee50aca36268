"""Projections at read speed (issue 15, part 6): catch-up and rebuild of the read models, next to a bare read of
the log in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_projections_bench .venv/bin/python benchmarks/projections.py
    .venv/bin/python benchmarks/projections.py --events 50000        # SQLite in a temporary file
    DATABASE_URL=... .venv/bin/python benchmarks/projections.py --events 2000000 --rebuild-only   # the issue's size

The log is the insights benchmark's (benchmarks/insights.py `make_events`, scaled to --events; 2,000,000 is the
issue's figure): customers registered and merged, orders placed, refunded and cancelled, campaign messages sent,
delivered, read and clicked, stock counts, and page and product views, carts, consents, reviews and shares, in time
order; service cases are left out (their events there are not complete enough for customers.cases). Rows are
written straight into the event table, then every figure is measured on the same log:

  read        the whole log through the catch-up's own read (projector._read_batch), pages of --batch: the bare
              read every catch-up and rebuild must do, and the baseline of every ratio
  rebuild     projector.rebuild() of every projection (inline and asynchronous), pages of --rebuild-batch
  catch-up    each asynchronous projection (and customers.commerce, which may run either way) from checkpoint 0
              on its own tables emptied, then all of them together (catch_up_all: one read shared by all)

Issue 15's target (PostgreSQL, 2 cores): catch-up of the asynchronous projections together >= 25,000 events/s.
`--rebuild-only` measures the bare read and the rebuild alone: at 2,000,000 events the six catch-ups would take
most of an hour on a shared machine, and the rebuild replays every projection anyway.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.insights import make_events, write_events  # noqa: E402
from benchmarks.support.runs import (  # noqa: E402
    benchmark_parser,
    log,
    prepare_database,
    setup_django,
)

TARGET_CATCH_UP = 25_000
FULL_SIZE = 2_000_000
BOTH_WAYS = ("customers.commerce",)  # inline today, asynchronous-capable: measured as a catch-up too


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events in the log (200000; the issue: 2000000)")
    parser.add_argument("--batch", type=int, help="events per catch-up batch (settings.EVENTSTORE_CATCH_UP_BATCH)")
    parser.add_argument("--rebuild-batch", type=int, help="events per rebuild batch (projector.REBUILD_BATCH)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rebuild-only", action="store_true", help="the bare read and the rebuild, no catch-ups")
    parser.add_argument(
        "--reuse-log",
        action="store_true",
        help="PostgreSQL: keep the database and the log an earlier run wrote (writing 2,000,000 events takes minutes)",
    )
    args = parser.parse_args()
    if args.reuse_log:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith("postgres") or "bench" not in url.rsplit("/", 1)[-1]:
            sys.exit("--reuse-log needs DATABASE_URL naming a PostgreSQL database containing 'bench'")
        url, cleanup, description = url, lambda: None, f"PostgreSQL database {url.rsplit('/', 1)[-1]!r} (log reused)"
    else:
        url, cleanup, description = prepare_database(os.environ.get("DATABASE_URL"))
    try:
        setup_django(url)
        return run(args, description)
    finally:
        cleanup()


def settle() -> None:
    """Every timed section starts from fresh planner statistics and no pending checkpoint."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CHECKPOINT")
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def reset(names: list[str]) -> None:
    """Empty these projections' tables and put their checkpoints back at the start of the log."""
    from django.db import transaction

    from backoffice.eventstore import projector
    from backoffice.eventstore.models import ProjectionCheckpoint, ProjectionFailure

    with transaction.atomic():
        for name in names:
            projector.projection(name).reset()
            start = {"position": 0}
            if any(f.name == "transaction_id" for f in ProjectionCheckpoint._meta.fields):
                start["transaction_id"] = 0  # a commit-order checkpoint (not in code from before issue 15)
            ProjectionCheckpoint.objects.update_or_create(name=name, defaults=start)
        ProjectionFailure.objects.filter(projection__in=names).delete()
    settle()


def timed(label: str, work) -> tuple[float, object]:
    log(label)
    started = time.perf_counter()
    outcome = work()
    seconds = time.perf_counter() - started
    log(f"  {seconds:.2f} s")
    return seconds, outcome


def run(args, description: str) -> int:
    from django.conf import settings
    from django.db import connection

    from backoffice.eventstore import projector, store
    from backoffice.eventstore.models import Event, ProjectionFailure

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    vendor = connection.vendor
    # Code from before issue 15's batch sizes has no constants: its defaults were 2,000 and 5,000.
    args.batch = args.batch or getattr(settings, "EVENTSTORE_CATCH_UP_BATCH", 2000)
    args.rebuild_batch = args.rebuild_batch or getattr(projector, "REBUILD_BATCH", 5000)
    if not args.reuse_log:
        log(f"making about {args.events:,} events")
        events, customers, _, _ = make_events(args.events / FULL_SIZE, args.seed)
        events = [event for event in events if not event[1].startswith("case.")]
        log(f"writing {len(events):,} events")
        write_events(events, customers, vendor)
        del events
    size = Event.objects.count()
    settle()

    # Code from before the shared read (to measure it with this script): the store's read, one catch-up after another.
    read_batch = getattr(projector, "_read_batch", None) or (
        lambda after, limit: store.read_all(after=after[1], limit=limit)
    )

    def catch_up_together(names: list[str]) -> dict[str, int]:
        if hasattr(projector, "_read_batch"):
            return projector.catch_up_all(names, batch_size=args.batch)
        return {name: projector.catch_up(name, batch_size=args.batch) for name in names}

    def bare_read() -> int:
        after, read = (0, 0), 0  # the catch-up's checkpoint: (transaction id, position)
        while page := read_batch(after, args.batch):
            read += len(page)
            after = (page[-1].transaction_id, page[-1].position)
        return read

    rows = []
    read_seconds, read = timed(f"bare read, pages of {args.batch}", bare_read)
    rows.append(("bare read (projector._read_batch)", read, read_seconds, ""))

    everything = [proj.name for proj in projector.registered_projections()]
    started, reported = time.perf_counter(), [0]

    def progress(done: int, total: int) -> None:
        # A long rebuild (2,000,000 events) says how far it is: a run cut short still shows its rate.
        if done - reported[0] >= total // 10:
            reported[0] = done
            elapsed = time.perf_counter() - started
            log(f"  rebuild: {done:,} of {total:,} reads (inline pass, then async), {elapsed:,.0f} s")

    rebuild_seconds, _ = timed(
        "rebuild of every projection", lambda: projector.rebuild(batch_size=args.rebuild_batch, progress=progress)
    )
    rows.append((f"rebuild, {len(everything)} projections", size, rebuild_seconds, ""))
    failures = {name: ProjectionFailure.objects.filter(projection=name).count() for name in everything}
    settle()

    if args.rebuild_only:
        report(args, description, size, rows, read / read_seconds, failures, ProjectionFailure.objects.count())
        return 0
    catching = [proj.name for proj in projector.registered_projections(projector.ASYNC)]
    catching += [name for name in BOTH_WAYS if name not in catching]
    for name in catching:
        reset([name])
        mode = projector.projection(name).mode
        seconds, done = timed(
            f"catch-up of {name} ({mode})", lambda n=name: projector.catch_up(n, batch_size=args.batch)
        )
        rows.append((f"catch-up {name}" + ("" if mode == projector.ASYNC else f" ({mode})"), done, seconds, ""))
    reset(catching)
    together_seconds, done = timed("catch-up of all together", lambda: catch_up_together(catching))
    together = sum(done.values()) // len(done)
    rate = together / together_seconds
    rows.append(
        (
            f"catch_up_all, {len(catching)} together",
            together,
            together_seconds,
            "MET" if rate >= TARGET_CATCH_UP else "NO",
        )
    )
    failed = ProjectionFailure.objects.count()
    report(args, description, size, rows, read / read_seconds, failures, failed)
    return 0


def report(args, description, size, rows, read_rate, failures, failed) -> None:
    print(f"Projections benchmark: {description}")
    print(
        f"log: {size:,} events (--events {args.events}); catch-up batches of {args.batch}, rebuild {args.rebuild_batch}"
    )
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"{'measure':<52} {'events':>10} {'seconds':>8} {'events/s':>10} {'vs read':>8}  target")
    for name, events, seconds, met in rows:
        rate = events / seconds if seconds else float("inf")
        target = f">= {TARGET_CATCH_UP:,}/s {met}" if met else ""
        print(f"{name:<52} {events:>10,} {seconds:>8.2f} {rate:>10,.0f} {rate / read_rate:>7.2f}x  {target}")
    print()
    print(f"events each projection could not apply during the rebuild: {failures}; after the catch-ups: {failed}")


if __name__ == "__main__":
    sys.exit(main())
