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
  lanes       all of them again, split into lanes (--lanes, as EVENTSTORE_PROJECTION_LANES says), one worker process
              per lane each running catch_up_all on its lane at once, as the Celery workers do: the wall time from
              the start until the last lane has caught up, and the CPU of every worker counted

Issue 15's target (PostgreSQL, 2 cores): catch-up of the asynchronous projections together >= 25,000 events/s.
`--rebuild-only` measures the bare read and the rebuild alone: at 2,000,000 events the six catch-ups would take
most of an hour on a shared machine, and the rebuild replays every projection anyway. `--together-only` (with
`--reuse-log`, whose read models an earlier run built) measures the bare read, catch_up_all and the lanes alone: the
figures to compare two versions of the code back to back on one log.
"""

import contextlib
import multiprocessing
import os
import resource
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
# The heaviest projection in a lane of its own, every other one in a second lane: two workers of about equal work.
DEFAULT_LANES = "insights.rollups"


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events in the log (200000; the issue: 2000000)")
    parser.add_argument("--batch", type=int, help="events per catch-up batch (settings.EVENTSTORE_CATCH_UP_BATCH)")
    parser.add_argument("--rebuild-batch", type=int, help="events per rebuild batch (projector.REBUILD_BATCH)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--lanes",
        default=DEFAULT_LANES,
        help=f"lanes of the parallel catch-up, as EVENTSTORE_PROJECTION_LANES ({DEFAULT_LANES!r}; the rest one more)",
    )
    parser.add_argument("--rebuild-only", action="store_true", help="the bare read and the rebuild, no catch-ups")
    parser.add_argument(
        "--together-only",
        action="store_true",
        help="with --reuse-log: the bare read, catch_up_all and the lanes (no rebuild, no catch-up alone)",
    )
    parser.add_argument(
        "--reuse-log",
        action="store_true",
        help="PostgreSQL: keep the database and the log an earlier run wrote (writing 2,000,000 events takes minutes)",
    )
    args = parser.parse_args()
    if args.together_only and not args.reuse_log:
        sys.exit("--together-only needs --reuse-log: the inline read models of an earlier run's rebuild")
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


def cpu_seconds() -> float:
    """CPU time of this process and of the worker processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, work) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process and its workers, what `work` returned)."""
    log(label)
    started, cpu = time.perf_counter(), cpu_seconds()
    outcome = work()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    log(f"  {seconds:.2f} s, {cpu:.2f} s CPU (this process and its workers)")
    return seconds, cpu, outcome


def split_lanes(text: str, names: list[str]) -> list[list[str]]:
    """Lanes as EVENTSTORE_PROJECTION_LANES spells them; projections no lane names form one more lane."""
    lanes = [[n.strip() for n in lane.split(",") if n.strip() in names] for lane in text.split(";")]
    lanes = [lane for lane in lanes if lane]
    rest = [name for name in names if not any(name in lane for lane in lanes)]
    return [*lanes, rest] if rest else lanes


def catch_up_lane(lane: list[str], batch: int, results) -> None:
    """One worker: its own connection (a forked child must not share its parent's), catch_up_all on its lane."""
    from django.db import connections

    from backoffice.eventstore import projector

    connections.close_all()
    results.put(projector.catch_up_all(lane, batch_size=batch))
    connections.close_all()


def catch_up_in_lanes(lanes: list[list[str]], batch: int) -> dict[str, int]:
    """Every lane on a worker process of its own, all started at once; returns when the last one is done."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    connections.close_all()  # forked children open their own connections
    workers = [context.Process(target=catch_up_lane, args=(lane, batch, results)) for lane in lanes]
    for worker in workers:
        worker.start()
    done: dict[str, int] = {}
    for _ in workers:
        done.update(results.get())
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise SystemExit(f"a lane's worker failed (exit code {worker.exitcode})")
    return done


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

    # The read with the cycle collector paused per page as the catch-ups pause it per batch: with it running, the
    # baseline paid for full passes the catch-ups no longer pay, and a catch-up alone came out faster than its read.
    # (named _collector_paused before the drain shared it)
    collector_paused = getattr(projector, "collector_paused", None) or getattr(
        projector, "_collector_paused", contextlib.nullcontext
    )

    def bare_read() -> int:
        after, read = (0, 0), 0  # the catch-up's checkpoint: (transaction id, position)
        while True:
            with collector_paused():
                page = read_batch(after, args.batch)
            if not page:
                return read
            read += len(page)
            after = (page[-1].transaction_id, page[-1].position)

    rows = []
    read_seconds, cpu, read = timed(f"bare read, pages of {args.batch}", bare_read)
    rows.append(("bare read (projector._read_batch)", read, read_seconds, cpu, ""))

    everything = [proj.name for proj in projector.registered_projections()]
    started, reported = time.perf_counter(), [0]

    def progress(done: int, total: int) -> None:
        # A long rebuild (2,000,000 events) says how far it is: a run cut short still shows its rate.
        if done - reported[0] >= total // 10:
            reported[0] = done
            elapsed = time.perf_counter() - started
            log(f"  rebuild: {done:,} of {total:,} reads (inline pass, then async), {elapsed:,.0f} s")

    if not args.together_only:
        rebuild_seconds, cpu, _ = timed(
            "rebuild of every projection", lambda: projector.rebuild(batch_size=args.rebuild_batch, progress=progress)
        )
        rows.append((f"rebuild, {len(everything)} projections", size, rebuild_seconds, cpu, ""))
    failures = {name: ProjectionFailure.objects.filter(projection=name).count() for name in everything}
    settle()

    if args.rebuild_only:
        report(args, description, size, rows, read / read_seconds, failures, ProjectionFailure.objects.count())
        return 0
    catching = [proj.name for proj in projector.registered_projections(projector.ASYNC)]
    catching += [name for name in BOTH_WAYS if name not in catching]
    for name in [] if args.together_only else catching:
        reset([name])
        mode = projector.projection(name).mode
        seconds, cpu, done = timed(
            f"catch-up of {name} ({mode})", lambda n=name: projector.catch_up(n, batch_size=args.batch)
        )
        rows.append((f"catch-up {name}" + ("" if mode == projector.ASYNC else f" ({mode})"), done, seconds, cpu, ""))
    reset(catching)
    together_seconds, cpu, done = timed("catch-up of all together", lambda: catch_up_together(catching))
    together = sum(done.values()) // len(done)
    rate = together / together_seconds
    rows.append(
        (
            f"catch_up_all, {len(catching)} together",
            together,
            together_seconds,
            cpu,
            "MET" if rate >= TARGET_CATCH_UP else "NO",
        )
    )
    if len(lanes := split_lanes(args.lanes, catching)) > 1:
        reset(catching)
        lanes_seconds, cpu, done = timed(
            f"catch-up in {len(lanes)} lanes at once: {' | '.join(', '.join(lane) for lane in lanes)}",
            lambda: catch_up_in_lanes(lanes, args.batch),
        )
        together = min(done.values())
        rate = together / lanes_seconds
        rows.append(
            (
                f"catch_up_all, {len(lanes)} lanes on {len(lanes)} workers",
                together,
                lanes_seconds,
                cpu,
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
    print(f"{'measure':<44} {'events':>10} {'seconds':>8} {'events/s':>10} {'vs read':>8} {'CPU us/ev':>9}  target")
    for name, events, seconds, cpu, met in rows:
        rate = events / seconds if seconds else float("inf")
        target = f">= {TARGET_CATCH_UP:,}/s {met}" if met else ""
        print(
            f"{name:<44} {events:>10,} {seconds:>8.2f} {rate:>10,.0f} {rate / read_rate:>7.2f}x "
            f"{1e6 * cpu / events:>9.1f}  {target}"
        )
    print("CPU: this process and its lane workers, not PostgreSQL's")
    print()
    print(f"events each projection could not apply during the rebuild: {failures}; after the catch-ups: {failed}")


if __name__ == "__main__":
    sys.exit(main())
