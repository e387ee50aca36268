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
"""

import sys
import threading
import time
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, log, run_on_fresh_database  # noqa: E402

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
    return run_on_fresh_database(run, parser.parse_args())


def _quiet_process() -> None:
    """Each process works only at what it is measured for: no after-commit wake-ups, no drain."""
    from django.conf import settings

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    from backoffice.messaging import tasks as messaging_tasks

    messaging_tasks.messages_drain_task.delay = lambda *args: None


def step_worker(now_offset_s: float, stop, queue) -> None:
    from django.db import connections
    from django.utils import timezone

    connections.close_all()
    _quiet_process()
    from campaigns.services import journey_runs_advance

    taken, cpu = 0, time.process_time()
    while True:
        done = journey_runs_advance(now=timezone.now() + timedelta(seconds=now_offset_s))
        taken += done
        if not done:
            if stop.is_set():
                break
            time.sleep(0.05)
    queue.put((taken, time.process_time() - cpu))


def consumer(stop, queue) -> None:
    from django.db import connections

    connections.close_all()
    _quiet_process()
    from campaigns.services import journeys_consume

    read, cpu = 0, time.process_time()
    while True:
        count, _ = journeys_consume()
        read += count
        if not count:
            if stop.is_set():
                break
            time.sleep(0.05)
    queue.put((read, time.process_time() - cpu))


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
    """The CPU seconds the processes spent (each reports (items, cpu seconds)): the figure a loaded machine does
    not depress, unlike people/s."""
    return sum(cpu for _, cpu in results)


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

    # --- Burst: entries and the first step ----------------------------------------------------------------------
    log(f"appending {len(people)} trigger events (the baseline)")
    append_s = _triggers(people)
    baseline_rate = len(people) / append_s
    log(f"entries and first step with 1 reader and {workers} step workers")
    stop = get_context("fork").Event()
    started = time.perf_counter()
    readers, reader_queue = _start(consumer, 1, stop)
    steppers, stepper_queue = _start(step_worker, workers, 0, stop)
    total = len(people)
    while JourneyRun.objects.filter(journey=journey, step="wait").count() < total:
        time.sleep(0.2)
        if time.perf_counter() - started > 3600:
            break
    burst_s = time.perf_counter() - started
    burst_cpu = _cpu(_finish(readers, reader_queue, stop)) + _cpu(_finish(steppers, stepper_queue, stop))
    at_wait = JourneyRun.objects.filter(journey=journey, step="wait").count()
    entry_rate = at_wait / burst_s

    # --- A wait due for everybody at once -----------------------------------------------------------------------
    log(f"the wait comes due for {at_wait} people at once")
    stop = get_context("fork").Event()
    started = time.perf_counter()
    steppers, stepper_queue = _start(step_worker, workers, 3601, stop)
    while JourneyRun.objects.filter(journey=journey, status="done").count() < at_wait:
        time.sleep(0.2)
        if time.perf_counter() - started > 3600:
            break
    fire_s = time.perf_counter() - started
    fire_cpu = _cpu(_finish(steppers, stepper_queue, stop))
    fired = JourneyRun.objects.filter(journey=journey, status="done").count()

    # --- Lag while ingesting --------------------------------------------------------------------------------------
    log(f"ingesting {args.ingest_rate} events/s for {args.ingest_seconds:.0f} s with the reader running")
    stop = get_context("fork").Event()
    readers, reader_queue = _start(consumer, 1, stop)
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
    lag_cpu = _cpu(_finish(readers, reader_queue, stop))
    third = max(len(samples) // 3, 1)
    first_avg = sum(samples[:third]) / third if samples else 0
    last_avg = sum(samples[-third:]) / third if samples else 0
    lines = [
        f"Journey benchmarks on {description}",
        f"people: {total}, step workers: {workers} (plus 1 reader of the log)",
        "",
        "Burst of trigger events: entries and the first step (a send through messaging)",
        f"  baseline: appending the triggers  {baseline_rate:8.0f} events/s ({append_s:.1f} s)",
        f"  entered and first step done      {entry_rate:8.0f} people/s ({at_wait} in {burst_s:.1f} s; "
        f"{entry_rate / baseline_rate:.2f}x baseline; target >= {TARGET_ENTRIES_PER_S}: "
        f"{'OK' if entry_rate >= TARGET_ENTRIES_PER_S else 'MISSED'})",
        f"  CPU of the reader and the step workers  {burst_cpu / max(at_wait, 1) * 1000:.2f} ms per person "
        "(the database's own CPU not included)",
        "",
        "A wait step due for everybody at once",
        f"  fired                            {fired} people in {fire_s:.1f} s ({fired / fire_s:.0f} people/s; "
        f"target <= {TARGET_FIRE_S} s for 100,000, so >= {100_000 / TARGET_FIRE_S:.0f} people/s: "
        f"{'OK' if fired / fire_s >= 100_000 / TARGET_FIRE_S else 'MISSED'}"
        f"{'' if total >= 100_000 else ', measured at a smaller size'})",
        f"  CPU of the step workers          {fire_cpu / max(fired, 1) * 1000:.2f} ms per person",
        "",
        f"Process manager lag while ingesting trigger events (asked {args.ingest_rate} events/s; everyone is in the "
        "journey already, so each is read, checked against the person's runs and the re-entry rule)",
        f"  ingested                         {ingested / ingest_s:8.0f} events/s for {ingest_s:.1f} s",
        f"  lag (positions behind the head)  first third avg {first_avg:.0f}, last third avg {last_avg:.0f}, "
        f"max {max(samples, default=0)}, at the end {end_lag}",
        f"  caught up after ingestion in     {catch_up_s:.1f} s "
        f"({'not growing' if last_avg <= max(first_avg * 1.5, args.ingest_rate) else 'GROWING'})",
        f"  CPU of the reader                {lag_cpu / max(ingested, 1) * 1000:.3f} ms per event ingested",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
