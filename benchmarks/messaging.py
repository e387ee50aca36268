"""The outbound pipeline into the in-memory backend: queue messages (message_send, in transactions of 500 as a
campaign fan-out does), then drain them as one worker process does (messages_drain: take a batch, check consent,
address, channel settings and quiet hours in the customer's zone, send, record `message.sent`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/messaging.py
    .venv/bin/python benchmarks/messaging.py --messages 10000          # SQLite in a temporary file

Issue 4's target: at least 1,000 messages/s per worker process with the consent and quiet-hour checks. Baseline
measured in the same run: the same drain with a recipient policy that checks nothing (fixed address, always
allowed, no quiet hours), so the ratio is what the checks cost.
"""

import gc
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.runs import benchmark_parser, code_version, log, run_on_fresh_database  # noqa: E402

ZONES = (
    "Europe/Madrid",
    "Atlantic/Canary",
    "Europe/London",
    "America/Mexico_City",
    "America/Bogota",
    "America/Argentina/Buenos_Aires",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/Los_Angeles",
)


class NoChecks:
    """A recipient policy that checks nothing: the baseline."""

    def recipients(self, queries, *, at):
        from backoffice.messaging.policy import Recipient

        return [Recipient(address="+34600000000", is_allowed=True, time_zone="UTC") for _ in queries]


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="messages per timed run (10000)")
    parser.add_argument("--customers", type=int, default=2_000, help="recipients (2000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternating (3)")
    parser.add_argument("--batch", type=int, default=0, help="drain batch size (default MESSAGING_DRAIN_BATCH)")
    return run_on_fresh_database(run, parser.parse_args())


def run(args, description: str) -> int:
    import os

    from django.conf import settings
    from django.db import connection, transaction

    from backoffice.celery import app as celery_app
    from backoffice.messaging.backends.local import MemoryBackend
    from backoffice.messaging.models import OutboundMessage, Status
    from backoffice.messaging.services import MessageRequest, message_send, messages_drain, messages_send
    from customers import services as customer_services
    from customers.models import Customer
    from customers.services.ingestion import customer_register

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    if args.batch:
        settings.MESSAGING_DRAIN_BATCH = args.batch
    # Wake-ups are published to an in-memory broker nobody consumes: the publish is paid, the drain is timed alone.
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "memory://"
    settings.MESSAGING_BACKENDS = dict.fromkeys(settings.MESSAGING_BACKENDS, "memory")
    settings.MESSAGING_QUIET_HOURS = "21:00-09:00"
    now = datetime.now(UTC)
    # Customers where it is daytime now: every check runs, and every message passes them (a deferred or suppressed
    # message would be cheaper than a sent one and flatter the figure).
    awake = [z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 20] or ["UTC"]

    log(f"registering {args.customers} customers with consent for SMS marketing, zones {', '.join(awake)}")
    customers = []
    for n in range(args.customers):
        customer_id, _ = customer_register(
            customer={"email": f"cliente{n}@example.es", "phone": f"+3461{n:07d}"}, channel="web", actor="bench"
        )
        customer_services.consent_record(
            customer_id=customer_id,
            channel="sms",
            purpose="marketing",
            is_granted=True,
            source_channel="web",
            actor="bench",
        )
        customers.append(customer_id)
    for index, customer_id in enumerate(customers):
        Customer.objects.filter(id=customer_id).update(time_zone=awake[index % len(awake)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def text(n: int) -> dict:
        return {"text": f"Rebajas de invierno: 20% en abrigos con el código FRIO{n % 100}"}

    def enqueue_one_by_one(count: int) -> float:
        started = time.perf_counter()
        for offset in range(0, count, 500):
            with transaction.atomic():
                for n in range(offset, min(count, offset + 500)):
                    message_send(
                        customer_id=customers[n % len(customers)],
                        channel="sms",
                        purpose="marketing",
                        content=text(n),
                        idempotency_key=f"bench-{uuid.uuid4()}",
                        actor="bench",
                        campaign_id="c-bench",
                    )
        return time.perf_counter() - started

    def enqueue_batched(count: int) -> float:
        started = time.perf_counter()
        for offset in range(0, count, 500):
            batch = [
                MessageRequest(
                    customers[n % len(customers)], "sms", "marketing", text(n), f"bench-{uuid.uuid4()}", "c-bench"
                )
                for n in range(offset, min(count, offset + 500))
            ]
            messages_send(messages=batch, actor="bench")
        return time.perf_counter() - started

    cpu_rates: list[float] = []

    def drain(count: int) -> float:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = messages_drain(max_seconds=3600)
        elapsed = time.perf_counter() - started
        cpu_rates.append(count / (time.process_time() - cpu_started))
        assert result.sent == count, vars(result)
        return elapsed

    def settle() -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
            else:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        gc.collect()

    load_before = os.getloadavg()
    log("warm-up")
    enqueue_one_by_one(500)
    enqueue_batched(500)
    drain(1000)
    policies = {"checks": settings.MESSAGING_RECIPIENT_POLICY, "no checks": "benchmarks.messaging.NoChecks"}
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in policies}
    for round_ in range(args.rounds):
        for name, path in policies.items():
            settings.MESSAGING_RECIPIENT_POLICY = path
            settings.MESSAGING_QUIET_HOURS = "21:00-09:00" if name == "checks" else "off"
            MemoryBackend.reset()
            settle()
            log(f"round {round_ + 1}: {name}: queue {args.messages} one by one, then {args.messages} in batches")
            one_by_one = enqueue_one_by_one(args.messages)
            batched = enqueue_batched(args.messages)
            settle()
            log(f"round {round_ + 1}: {name}: drain {2 * args.messages}")
            drained = drain(2 * args.messages)
            assert len(MemoryBackend.outbox) == 2 * args.messages
            figures[name].append((args.messages / one_by_one, args.messages / batched, 2 * args.messages / drained))
    assert not OutboundMessage.objects.exclude(status=Status.SENT).exists()
    load_after = os.getloadavg()

    print(f"Outbound messaging pipeline, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(f"code: {code_version()}")
    print(
        f"2 x {args.messages:,} SMS per run to {args.customers:,} customers (consent granted, zones where it is day: "
        f"{len(awake)}); in-memory backend; drain batches of {settings.MESSAGING_DRAIN_BATCH}; "
        f"{args.rounds} alternating rounds per variant, median (min-max)"
    )
    # A load above the core count means other processes competed for the CPU: the figures are low then.
    busy = max(load_before[0], load_after[0]) > (os.cpu_count() or 1)
    print(
        f"machine: {os.cpu_count()} cores shared with the database server; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.1f}' for x in load_before)} at the start, {', '.join(f'{x:.1f}' for x in load_after)} "
        "at the end"
        + (" (above the core count: other processes competed for the CPU, the figures are low)" if busy else "")
    )
    print()
    print(f"{'figure':52}  {'checks':>22}  {'no checks':>22}  ratio  target  met")

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):7,.0f} ({min(values):,.0f}-{max(values):,.0f})"

    rows = (
        ("queue: message_send one by one, 500 per transaction", 0, None),
        ("queue: messages_send, batches of 500 (msg/s)", 1, None),
        ("drain: one worker process, sent (msg/s)", 2, 1000),
    )
    for label, index, target in rows:
        with_checks = [f[index] for f in figures["checks"]]
        without = [f[index] for f in figures["no checks"]]
        ratio = statistics.median(with_checks) / statistics.median(without)
        met = "-" if target is None else ("yes" if statistics.median(with_checks) >= target else "NO")
        print(f"{label:52}  {cell(with_checks):>22}  {cell(without):>22}  {ratio:5.2f}  {target or '-':>6}  {met}")
    one = [1 / (1 / q + 1 / d) for q, _, d in figures["checks"]]
    batched = [1 / (1 / b + 1 / d) for _, b, d in figures["checks"]]
    print()
    print("queue + drain in one process, with checks (msg/s):")
    for label, values in (
        ("  message_send one by one, then drained", one),
        ("  messages_send batches, then drained", batched),
    ):
        met = "yes" if statistics.median(values) >= 1000 else "NO"
        print(f"{label:52}  {cell(values):>22}  {'':22}  {'':5}  {1000:>6}  {met}")
    print()
    # cpu_rates: the warm-up drain, then checks, no checks, checks, ...
    print(
        f"drain per CPU-second of this process (the Python side alone, database time excluded), with checks: "
        f"{statistics.median(cpu_rates[1::2]):,.0f} msg/s, without: {statistics.median(cpu_rates[2::2]):,.0f} msg/s"
    )
    print()
    print("ratio: with checks / without; the checks are consent (the ledger), address (identifiers), the customer's")
    print("time zone and quiet hours, and the channel's settings, answered per drain batch in a few queries.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
