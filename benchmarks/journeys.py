"""Journeys: a burst of trigger events entering 100,000 people, a wait step coming due for all of them at once, and the
process manager's lag while events are ingested at 5,000/s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/journeys.py
    .venv/bin/python benchmarks/journeys.py --people 5000          # SQLite in a temporary file (one writer)

Issue 17's targets (PostgreSQL):
- 100,000 people entering a journey in a burst of trigger events: entries and the first step (a send through
  messaging, with consent and the contact-pressure budget) at least 2,000 people/s with 2 workers.
- A due wait step fires within 60 s of its time for 100,000 people at once.
- The process manager keeps up with ingestion at 5,000 events/s without lag growing (the lag is reported).
Baseline measured in the same run: appending the trigger events themselves (append_batches, 1,000 per call), the
least anything reading them costs.

The journey: page.viewed -> send (email) -> wait 60 min -> send (email), goal order.placed. The process manager runs in
one process (one reader of the log, by design) beside the step workers; "workers" counts step workers. Customers,
identifiers and consents are inserted straight into their projections (benchmarks/campaigns.py's seed).

CPU is quoted per person for the reader and workers (their own processes) and for their PostgreSQL backends (read from
/proc when the server runs on this machine), beside the same two figures per trigger appended in the baseline: the
ratios a loaded machine does not move much, unlike the rates. On PostgreSQL a stand-in for autovacuum's ANALYZE runs
beside the benchmark (AutoAnalyzeThread), as it would in production; `--profile DIR` writes a cProfile of each process.
"""

import cProfile
import os
import sys
import threading
import time
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import (  # noqa: E402
    AutoAnalyze,
    benchmark_parser,
    connection_backend_cpu_seconds,
    log,
    run_on_fresh_database,
)

TARGET_ENTRIES_PER_S = 2000
TARGET_FIRE_S = 60
TARGET_INGEST_PER_S = 5000
EMAIL = {"email": {"subject": "Hola", "body": "Tu carrito te espera"}}
DEFINITION = {
    "trigger": {"kind": "event", "event": "page.viewed"},
    "goal": {"event": "order.placed"},
    "reentry": {"mode": "once"},
    "steps": [
        {"id": "hello", "kind": "send", "channel": "email", "variants": EMAIL, "next": "wait"},
        {"id": "wait", "kind": "wait", "minutes": 60, "next": "again"},
        {"id": "again", "kind": "send", "channel": "email", "variants": EMAIL},
    ],
}


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--people", type=int, default=100_000, help="people entering in the burst (100000)")
    parser.add_argument("--workers", type=int, default=2, help="step worker processes (2)")
    parser.add_argument("--ingest-seconds", type=float, default=20, help="how long ingestion runs for the lag (20)")
    parser.add_argument("--ingest-rate", type=int, default=TARGET_INGEST_PER_S, help="events/s ingested (5000)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of each process into this folder")
    parser.add_argument(
        "--no-autoanalyze", dest="autoanalyze", action="store_false", help="no stand-in for autovacuum's ANALYZE"
    )
    return run_on_fresh_database(run, parser.parse_args())


def _quiet_process() -> None:
    """Each process works only at what it is measured for: no after-commit wake-ups, no drain."""
    from django.conf import settings

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    from backoffice.messaging import tasks as messaging_tasks

    messaging_tasks.messages_drain_task.delay = lambda *args: None


def backend_cpu() -> float | None:
    """CPU seconds the PostgreSQL backend of this process's connection has used (None on SQLite or when the server is
    not on this machine)."""
    from django.db import connection

    return connection_backend_cpu_seconds(connection)


def _measured(name: str, work, profile_dir: Path | None, queue) -> None:
    """Run `work` (a loop returning how many items it handled) in this process, then report (items, CPU seconds of
    the process, CPU seconds of its database backend)."""
    from django.db import connections

    connections.close_all()
    _quiet_process()
    db_before = backend_cpu()
    cpu = time.process_time()
    profiler = cProfile.Profile() if profile_dir else None
    if profiler:
        profiler.enable()
    items = work()
    if profiler and profile_dir:
        profiler.disable()
        profile_dir.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(profile_dir / f"{name}-{os.getpid()}.pstats")
    cpu = time.process_time() - cpu
    db_after = backend_cpu()
    queue.put((items, cpu, None if db_before is None or db_after is None else db_after - db_before))


def _until_stopped(step, stop) -> int:
    """Call `step` (returning how many items it handled) until it finds nothing once `stop` is set; the total."""
    total = 0
    while True:
        done = step()
        total += done
        if not done:
            if stop.is_set():
                return total
            time.sleep(0.05)


def step_worker(now_offset_s: float, stop, profile_dir, queue) -> None:
    def work() -> int:
        from django.utils import timezone

        from campaigns.services import journey_runs_advance

        return _until_stopped(lambda: journey_runs_advance(now=timezone.now() + timedelta(seconds=now_offset_s)), stop)

    _measured("steps", work, profile_dir, queue)


def consumer(stop, profile_dir, queue) -> None:
    def work() -> int:
        from campaigns.services import journeys_consume

        return _until_stopped(lambda: journeys_consume()[0], stop)

    _measured("reader", work, profile_dir, queue)


class AutoAnalyzeThread(threading.Thread):
    """The stand-in for autovacuum's ANALYZE (benchmarks.support.runs.AutoAnalyze) every `interval` seconds, on a
    thread of its own (autovacuum's naptime is 60 s; a burst lasts less). The benchmark starts from empty tables,
    analyzed once after the seed; the burst then writes 100,000 events and 100,000 runs into tables the planner still
    takes for empty or small. Like autovacuum it runs beside the work, so its time is inside the measured time
    (counted honestly); its count and seconds are reported per section.
    """

    def __init__(self, interval: float = 5.0):
        super().__init__(daemon=True)
        self.interval = interval
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.stand_in = AutoAnalyze()
        self.taken = (0, 0.0)

    def run(self) -> None:
        from django.db import connection, connections

        try:
            while not self.halt.wait(self.interval):
                with self.lock:
                    self.stand_in.run_due(connection)
        finally:
            connections.close_all()

    def take(self) -> tuple[int, float]:
        """ANALYZEs run and their seconds since the last call."""
        with self.lock:
            now = (self.stand_in.runs, self.stand_in.seconds)
            taken, self.taken = (now[0] - self.taken[0], now[1] - self.taken[1]), now
        return taken

    def stop(self) -> None:
        self.halt.set()
        self.join()


def _start(target, count, *args):
    from django.db import connections

    connections.close_all()
    context = get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=target, args=(*args, queue)) for _ in range(count)]
    for process in processes:
        process.start()
    return processes, queue


def _finish(processes, queue, stop) -> list:
    stop.set()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    return results


def _cpu(results: list) -> float:
    """The CPU seconds the processes spent (each reports (items, cpu seconds, backend cpu seconds)): the figure a
    loaded machine does not depress, unlike people/s."""
    return sum(cpu for _, cpu, _ in results)


def _db_cpu(results: list) -> float | None:
    """The CPU seconds their PostgreSQL backends spent (None when it could not be read)."""
    if any(db is None for _, _, db in results):
        return None
    return sum(db for _, _, db in results)


def _per(seconds: float | None, items: int, digits: int = 2) -> str:
    return "n/a" if seconds is None else f"{seconds / max(items, 1) * 1000:.{digits}f} ms"


def _ratio(value: float | None, base: float | None) -> str:
    return "n/a" if value is None or not base else f"{value / base:.1f}x"


def _triggers(people: list, batch: int = 1000) -> float:
    """Append one page.viewed per person, 1,000 per call. Returns the seconds it took."""
    from backoffice.eventstore import store

    started = time.perf_counter()
    for offset in range(0, len(people), batch):
        store.append_batches(
            [
                store.StreamAppend(
                    f"customer-{cid}",
                    [store.NewEvent("page.viewed", {"url": "https://shop.example/p"}, customer_id=cid, channel="web")],
                )
                for cid in people[offset : offset + batch]
            ]
        )
    return time.perf_counter() - started


def run(args, description: str) -> int:
    import random

    from django.db import connection

    from benchmarks.campaigns import seed
    from campaigns import services
    from campaigns.journeys.models import JourneyRun
    from customers.models import Customer

    _quiet_process()
    is_pg = connection.vendor == "postgresql"
    workers = args.workers if is_pg else 1
    rng = random.Random(args.seed)
    log(f"seeding {args.people} customers into {description}")
    seed(args.people, rng)
    if is_pg:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    people = list(Customer.objects.values_list("id", flat=True))
    journey = services.journey_save(
        journey_id=None, values={"name": "bench", "definition": DEFINITION, "holdout_share": "0"}, actor="bench"
    )
    services.journey_publish(journey_id=journey.id, actor="bench")
    services.journeys_consume()  # the cursor reads past the seed and the journey's own events
    analyzer = AutoAnalyzeThread() if is_pg and args.autoanalyze else None
    if analyzer:
        analyzer.start()

    def analyzed() -> str:
        if analyzer is None:
            return "no stand-in for autovacuum" if is_pg else "SQLite"
        count, seconds = analyzer.take()
        return f"autovacuum stand-in: {count} ANALYZE in {seconds:.1f} s, inside the time"

    # --- Burst: entries and the first step ----------------------------------------------------------------------
    log(f"appending {len(people)} trigger events (the baseline)")
    if analyzer:
        analyzer.take()
    db_before, cpu_before = backend_cpu(), time.process_time()
    append_s = _triggers(people)
    append_cpu, append_db = time.process_time() - cpu_before, backend_cpu()
    append_db = None if append_db is None or db_before is None else append_db - db_before
    append_analyzed = analyzed()
    baseline_rate = len(people) / append_s
    log(f"entries and first step with 1 reader and {workers} step workers")
    stop = get_context("fork").Event()
    started = time.perf_counter()
    readers, reader_queue = _start(consumer, 1, stop, args.profile)
    steppers, stepper_queue = _start(step_worker, workers, 0, stop, args.profile)
    total = len(people)
    while JourneyRun.objects.filter(journey=journey, step="wait").count() < total:
        time.sleep(0.2)
        if time.perf_counter() - started > 3600:
            break
    burst_s = time.perf_counter() - started
    burst_results = _finish(readers, reader_queue, stop) + _finish(steppers, stepper_queue, stop)
    burst_cpu, burst_db = _cpu(burst_results), _db_cpu(burst_results)
    burst_analyzed = analyzed()
    at_wait = JourneyRun.objects.filter(journey=journey, step="wait").count()
    entry_rate = at_wait / burst_s

    # --- A wait due for everybody at once -----------------------------------------------------------------------
    log(f"the wait comes due for {at_wait} people at once")
    stop = get_context("fork").Event()
    started = time.perf_counter()
    steppers, stepper_queue = _start(step_worker, workers, 3601, stop, None)
    while JourneyRun.objects.filter(journey=journey, status="done").count() < at_wait:
        time.sleep(0.2)
        if time.perf_counter() - started > 3600:
            break
    fire_s = time.perf_counter() - started
    fire_results = _finish(steppers, stepper_queue, stop)
    fire_cpu, fire_db = _cpu(fire_results), _db_cpu(fire_results)
    fire_analyzed = analyzed()
    fired = JourneyRun.objects.filter(journey=journey, status="done").count()

    # --- Lag while ingesting --------------------------------------------------------------------------------------
    log(f"ingesting {args.ingest_rate} events/s for {args.ingest_seconds:.0f} s with the reader running")
    stop = get_context("fork").Event()
    readers, reader_queue = _start(consumer, 1, stop, None)
    samples: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        from django.db import connections

        while not sampling.is_set():
            samples.append(services.journeys_lag())
            time.sleep(1)
        connections.close_all()

    sampler = threading.Thread(target=sample)
    sampler.start()
    ingested, started = 0, time.perf_counter()
    from backoffice.eventstore import store

    chunk = max(args.ingest_rate // 10, 1)
    while time.perf_counter() - started < args.ingest_seconds:
        tick = time.perf_counter()
        store.append_batches(
            [
                store.StreamAppend(
                    f"customer-{cid}",
                    [store.NewEvent("page.viewed", {"url": "https://shop.example/"}, customer_id=cid, channel="web")],
                )
                for cid in rng.sample(people, min(chunk, len(people)))
            ]
        )
        ingested += chunk
        time.sleep(max(0.1 - (time.perf_counter() - tick), 0))
    ingest_s = time.perf_counter() - started
    end_lag = services.journeys_lag()
    catch_started = time.perf_counter()
    while services.journeys_lag() > 0 and time.perf_counter() - catch_started < 600:
        time.sleep(0.1)
    catch_up_s = time.perf_counter() - catch_started
    sampling.set()
    sampler.join()
    lag_results = _finish(readers, reader_queue, stop)
    lag_cpu, lag_db = _cpu(lag_results), _db_cpu(lag_results)
    lag_analyzed = analyzed()
    if analyzer:
        analyzer.stop()
    third = max(len(samples) // 3, 1)
    first_avg = sum(samples[:third]) / third if samples else 0
    last_avg = sum(samples[-third:]) / third if samples else 0
    lines = [
        f"Journey benchmarks on {description}",
        f"people: {total}, step workers: {workers} (plus 1 reader of the log)",
        "",
        "Burst of trigger events: entries and the first step (a send through messaging)",
        f"  baseline: appending the triggers  {baseline_rate:8.0f} events/s ({append_s:.1f} s; {append_analyzed})",
        f"    CPU per trigger appended         {_per(append_cpu, total, 3)} benchmark, "
        f"{_per(append_db, total, 3)} its PostgreSQL backend",
        f"  entered and first step done      {entry_rate:8.0f} people/s ({at_wait} in {burst_s:.1f} s; "
        f"{entry_rate / baseline_rate:.2f}x baseline; target >= {TARGET_ENTRIES_PER_S}: "
        f"{'OK' if entry_rate >= TARGET_ENTRIES_PER_S else 'MISSED'})",
        f"    {burst_analyzed}",
        f"  CPU per person: reader and step workers {_per(burst_cpu, at_wait)} "
        f"({_ratio(burst_cpu * total, append_cpu * at_wait)} a trigger's append), "
        f"their PostgreSQL backends {_per(burst_db, at_wait)} "
        f"({_ratio(None if burst_db is None else burst_db * total, (append_db or 0) * at_wait)} a trigger's)",
        "",
        "A wait step due for everybody at once",
        f"  fired                            {fired} people in {fire_s:.1f} s ({fired / fire_s:.0f} people/s; "
        f"target <= {TARGET_FIRE_S} s for 100,000, so >= {100_000 / TARGET_FIRE_S:.0f} people/s: "
        f"{'OK' if fired / fire_s >= 100_000 / TARGET_FIRE_S else 'MISSED'}"
        f"{'' if total >= 100_000 else ', measured at a smaller size'})",
        f"    {fire_analyzed}",
        f"  CPU per person: step workers {_per(fire_cpu, fired)}, their PostgreSQL backends {_per(fire_db, fired)}",
        "",
        f"Process manager lag while ingesting trigger events (asked {args.ingest_rate} events/s; everyone is in the "
        "journey already, so each is read, checked against the person's runs and the re-entry rule)",
        f"  ingested                         {ingested / ingest_s:8.0f} events/s for {ingest_s:.1f} s",
        f"  lag (positions behind the head)  first third avg {first_avg:.0f}, last third avg {last_avg:.0f}, "
        f"max {max(samples, default=0)}, at the end {end_lag}",
        f"  caught up after ingestion in     {catch_up_s:.1f} s "
        f"({'not growing' if last_avg <= max(first_avg * 1.5, args.ingest_rate) else 'GROWING'})",
        f"  CPU of the reader                {_per(lag_cpu, ingested, 3)} per event ingested, its PostgreSQL "
        f"backend {_per(lag_db, ingested, 3)} ({lag_analyzed})",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
