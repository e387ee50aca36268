"""Faults under load (issue 16, the long version of tests/integration's fault tests): the retail mix of
benchmarks/load.py through gunicorn (production settings) with a Celery worker and beat, on a PostgreSQL cluster
(127.0.0.1:5434) and a Redis (127.0.0.1:6380) of this script's own, while each fault is injected in turn:

  (a) PostgreSQL restarted (`pg_ctl restart -m fast`)
  (b) Redis stopped for --redis-down seconds (a minute by default)
  (c) the Celery worker SIGKILLed while it catches the async projections up and drains the outbox
  (d) the database refusing writes: read-only (`default_transaction_read_only`, as a standby) for --read-only
      seconds, then down (`pg_ctl stop`) for --pg-down seconds

Besides locust's users (which do not retry), a few clients do what a well-behaved integration does: every request
with its own id, sent again after a connection error or a 503 until it is accepted. At the end it prints requests and
errors by status (a 500 is a failure), whether every client event, order and case reply is stored exactly once, that
no message was sent twice, and how long the worker took to catch up after the load. A supervisor starts an exited
worker or beat again, as deploy/systemd's Restart=always does.

    .venv/bin/python benchmarks/faults.py                        # about 7 minutes
    .venv/bin/python benchmarks/faults.py --phase 15 --redis-down 20 --users 10 --customers 100   # a short run

Needs the PostgreSQL binaries (PG_BIN, default /usr/lib/postgresql/15/bin) and redis-server; as root the cluster runs
as the `postgres` user. The shared PostgreSQL (5432) and Redis (6379) are never touched.
"""

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import (  # noqa: E402
    CELERY_COMMANDS,
    gauges,
    locust_command,
    prepare_fixtures,
    scrape_metrics,
    start_celery_process,
    stop_processes,
)
from benchmarks.support.faults import ThrowawayPostgres, ThrowawayRedis, send_until_accepted  # noqa: E402
from benchmarks.support.production_server import start_production_server, stop_production_server  # noqa: E402

RETRYING_CLIENTS = 3


class Supervisor(threading.Thread):
    """Starts worker and beat, and again whenever one has exited (systemd's Restart=always)."""

    def __init__(self, server, work: Path):
        super().__init__(daemon=True)
        self.server, self.work = server, work
        self.processes = {name: start_celery_process(server, work, name) for name in CELERY_COMMANDS}
        self.restarts: Counter = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            for name, process in list(self.processes.items()):
                if process.poll() is not None:
                    self.restarts[name] += 1
                    self.processes[name] = start_celery_process(self.server, self.work, name)

    def kill_worker(self) -> None:
        os.kill(self.processes["worker"].pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping.set()
        self.join()
        stop_processes(self.processes.values())


class RetryingClient(threading.Thread):
    """Interactions, and every 4th an order, every 10th a case reply by SMS: each with its own id, retried until
    accepted. Keeps the ids it was told were accepted."""

    def __init__(self, number: int, server, fixtures: dict, case_id: str, stopping: threading.Event):
        super().__init__(daemon=True)
        self.number, self.case_id, self.fixtures, self.stopping = number, case_id, fixtures, stopping
        self.api = f"{server.base_url}/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {server.token}"
        self.events: list[str] = []
        self.orders: list[str] = []
        self.replies: list[str] = []
        self.answers: list = []
        self.failure: BaseException | None = None

    def _send(self, path: str, body: dict) -> None:
        deadline = time.monotonic() + 600
        send_until_accepted(self.session, "POST", f"{self.api}{path}", body, deadline=deadline, seen=self.answers)

    def run(self) -> None:
        n = 0
        try:
            while not self.stopping.is_set():
                event_id = str(uuid.uuid4())
                self._send("/events", {
                    "id": event_id, "type": "product.viewed", "channel": "app",
                    "occurred_at": "2026-11-20T10:00:00+01:00",
                    "customer": {"email": f"reintento{self.number}@example.es"},
                    "data": {"sku": self.fixtures["skus"][n % len(self.fixtures["skus"])]},
                })  # fmt: skip
                self.events.append(event_id)
                if n % 4 == 0:
                    order_id = f"FAULT-{self.number}-{n}-{uuid.uuid4().hex[:8]}"
                    self._send("/orders", {
                        "id": order_id, "customer": {"email": f"reintento{self.number}@example.es"}, "channel": "web",
                        "lines": [{"sku": self.fixtures["skus"][0], "quantity": 1}],
                        "fulfilment": {"method": "ship"},
                    })  # fmt: skip
                    self.orders.append(order_id)
                if n % 10 == 0:
                    reply_id = str(uuid.uuid4())
                    body = {"id": reply_id, "channel": "sms", "text": f"Respuesta {n}"}
                    self._send(f"/cases/{self.case_id}/messages", body)
                    self.replies.append(reply_id)
                n += 1
                time.sleep(0.1)
        except BaseException as exc:  # noqa: BLE001 - reported at the end
            self.failure = exc


def _errors_by_status(failures_csv: Path) -> tuple[Counter, Counter]:
    """locust's failures, by HTTP status (or the exception's class when there was no answer), and by request type
    and status."""
    by_status: Counter = Counter()
    by_type: Counter = Counter()
    if not failures_csv.exists():
        return by_status, by_type
    for row in csv.DictReader(failures_csv.open()):
        status = re.search(r"\b([1-5]\d\d)\b", row["Error"])
        key = status.group(1) if status else row["Error"].split("(", 1)[0].strip()
        by_status[key] += int(row["Occurrences"])
        by_type[f"{row['Name']}: {key}"] += int(row["Occurrences"])
    return by_status, by_type


def _caught_up(server) -> tuple[bool, str]:
    try:
        text = scrape_metrics(server)
    except OSError as exc:
        return False, type(exc).__name__
    lag = gauges(text, "backoffice_projection_lag_events")
    due = gauges(text, "backoffice_outbox_oldest_due_age_seconds").get("-", 0.0)
    return (not any(lag.values()) and due == 0.0), f"lag {lag}, oldest due {due:.0f} s"


def _is_caught_up(server) -> bool:
    return _caught_up(server)[0]


def _outbox_drained(server) -> bool:
    try:
        text = scrape_metrics(server)
    except OSError:
        return False
    return gauges(text, "backoffice_outbox_oldest_due_age_seconds").get("-", 1.0) == 0.0


def _wait(check, server, timeout: float) -> float | None:
    """Seconds until `check(server)` held, or None when it did not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check(server):
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def _stored_once(postgres: ThrowawayPostgres, table: str, column: str, ids: list[str]) -> tuple[int, int]:
    """(rows holding one of `ids`, distinct ids among them)."""
    if not ids:
        return 0, 0
    wanted = ",".join(f"'{i}'" for i in ids)
    found = postgres.psql(f"SELECT count(*), count(DISTINCT {column}) FROM {table} WHERE {column}::text IN ({wanted})")
    rows, distinct = found.split("|")
    return int(rows), int(distinct)


def main(argv: list[str] | None = None) -> int:  # noqa: C901, PLR0915 - one scenario, told in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--phase", type=int, default=45, help="seconds of load before, between and after faults")
    parser.add_argument("--redis-down", type=int, default=60)
    parser.add_argument("--read-only", type=int, default=20)
    parser.add_argument("--pg-down", type=int, default=15)
    parser.add_argument("--port", type=int, default=None, help="gunicorn's loopback port (default: a free one)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)

    postgres = ThrowawayPostgres(port=5434).start()
    redis = ThrowawayRedis(port=6380).start()
    timeline: list[str] = []
    t0 = time.monotonic()

    def note(what: str) -> None:
        timeline.append(f"  {time.monotonic() - t0:6.0f} s  {what}")
        print(timeline[-1], file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="backoffice-faults-") as directory:
        work = Path(directory)
        server = supervisor = locust = None
        clients: list[RetryingClient] = []
        stopping = threading.Event()
        try:
            server = start_production_server(
                work, workers=args.web_workers, threads=args.threads, seed_customers=args.customers,
                database_url=postgres.url, port=args.port,
                extra_env={"CELERY_BROKER_URL": redis.url, "MESSAGING_BACKEND": "memory",
                           "MESSAGING_QUIET_HOURS": "off"},
            )  # fmt: skip
            supervisor = Supervisor(server, work)
            supervisor.start()
            fixtures = prepare_fixtures(server, work, customers=args.customers)
            session = requests.Session()
            session.headers["Authorization"] = f"Token {server.token}"
            cases = []
            for number in range(RETRYING_CLIENTS):
                opened = {"customer": {"phone": f"+3461000{number:04d}", "email": f"reintento{number}@example.es"},
                          "channel": "sms", "subject": "Pedido"}  # fmt: skip
                answer = session.post(f"{server.base_url}/api/v1/cases", json=opened, timeout=60)
                answer.raise_for_status()
                cases.append(answer.json()["id"])
            total = args.phase * 5 + args.redis_down + args.read_only + args.pg_down + 30
            command, env = locust_command(server, work, users=args.users, spawn_rate=args.spawn_rate, duration=total)
            locust = subprocess.Popen(  # noqa: S603 - our own locust
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            clients = [RetryingClient(n, server, fixtures, cases[n], stopping) for n in range(RETRYING_CLIENTS)]
            for client in clients:
                client.start()
            note(f"load started: {args.users} locust users and {RETRYING_CLIENTS} retrying clients")

            time.sleep(args.phase)
            note("(a) PostgreSQL restart")
            postgres.restart()
            note("(a) PostgreSQL back")

            time.sleep(args.phase)
            note(f"(b) Redis stopped for {args.redis_down} s")
            redis.stop()
            time.sleep(args.redis_down)
            redis.start()
            back = time.monotonic()
            note("(b) Redis back")
            drained = _wait(_outbox_drained, server, timeout=args.phase * 4)
            note(f"(b) outbox drained {f'{drained:.0f} s' if drained is not None else 'NOT'} after Redis came back")
            time.sleep(max(0.0, args.phase - (time.monotonic() - back)))
            note("(c) Celery worker SIGKILLed (the supervisor starts another)")
            supervisor.kill_worker()

            time.sleep(args.phase)
            note(f"(d) database read-only for {args.read_only} s")
            postgres.psql("ALTER SYSTEM SET default_transaction_read_only = on")
            postgres.psql("SELECT pg_reload_conf()")
            time.sleep(args.read_only)
            postgres.psql("ALTER SYSTEM RESET default_transaction_read_only")
            postgres.psql("SELECT pg_reload_conf()")
            note(f"(d) read-write again; PostgreSQL stopped for {args.pg_down} s")
            postgres.pg_ctl("stop", "-m", "fast")
            time.sleep(args.pg_down)
            postgres.pg_ctl("start")
            note("(d) PostgreSQL back")

            time.sleep(args.phase)
            stopping.set()
            for client in clients:
                client.join(timeout=600)
            locust.wait(timeout=total + 120)
            note("load over")
            catch_up = _wait(_is_caught_up, server, timeout=600)
            note(f"caught up: {_caught_up(server)[1]}")
        finally:
            stopping.set()
            if locust and locust.poll() is None:
                locust.terminate()
                locust.wait(timeout=30)
            if supervisor:
                supervisor.stop()
            if server:
                stop_production_server(server)
            redis.cleanup()
            events = [i for c in clients for i in c.events]
            orders = [i for c in clients for i in c.orders]
            replies = [i for c in clients for i in c.replies]
            try:
                stored_events = _stored_once(postgres, "eventstore_event", "id", events)
                stored_orders = _stored_once(postgres, "orders_order", "id", orders)
                stored_replies = _stored_once(postgres, "eventstore_event", "id", replies)
                keys = [f"case-reply-{i}" for i in replies]
                outbox = _stored_once(postgres, "messaging_outboundmessage", "idempotency_key", keys)
                sent = postgres.psql("SELECT count(*) FROM messaging_outboundmessage WHERE status = 'sent'")
                doubled = postgres.psql(
                    "SELECT count(*) FROM (SELECT data->>'message_id' FROM eventstore_event "
                    "WHERE type = 'message.sent' GROUP BY 1 HAVING count(*) > 1) AS twice"
                )
                messages_sent = postgres.psql("SELECT count(*) FROM eventstore_event WHERE type = 'message.sent'")
            finally:
                postgres.stop()

        requests_made = 0
        stats = work / "load_stats.csv"
        if stats.exists():
            rows = csv.DictReader(stats.open())
            requests_made = next(int(row["Request Count"]) for row in rows if row["Name"] == "Aggregated")
        errors, errors_by_type = _errors_by_status(work / "load_failures.csv")

    answers = Counter(str(a) for c in clients for a in c.answers)
    failures = [f"client {c.number}: {c.failure!r}" for c in clients if c.failure]
    print("timeline:")
    print("\n".join(timeline))
    print()
    print(f"locust: {requests_made} requests, errors by status: {dict(errors) or 'none'}")
    for name, count in sorted(errors_by_type.items()):
        print(f"  {name}: {count}")
    print(f"retrying clients: answers retried {dict(answers) or 'none'}; failures: {failures or 'none'}")
    print(f"  events accepted {len(events)}: stored {stored_events[0]} rows, {stored_events[1]} distinct")
    print(f"  orders accepted {len(orders)}: stored {stored_orders[0]} rows, {stored_orders[1]} distinct")
    print(f"  case replies accepted {len(replies)}: stored {stored_replies[0]}, outbox rows {outbox[0]}")
    print(f"messages: {messages_sent} message.sent events, {sent} outbox rows sent, sent twice: {doubled}")
    print(f"Celery processes started again by the supervisor: {dict(supervisor.restarts) if supervisor else '-'}")
    print(f"outbox drained after Redis came back: {f'{drained:.0f} s' if drained is not None else 'NOT'}")
    print(f"catch-up after the load: {f'{catch_up:.0f} s' if catch_up is not None else 'NOT within 600 s'}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    ok = (
        "500" not in errors
        and 500 not in [a for c in clients for a in c.answers]
        and not failures
        and stored_events == (len(events), len(events))
        and stored_orders == (len(orders), len(orders))
        and stored_replies == (len(replies), len(replies))
        and outbox == (len(replies), len(replies))
        and doubled == "0"
        and catch_up is not None
        and drained is not None
    )
    print("RESULT:", "nothing lost, nothing doubled, no 500" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
