"""Load test: the retail mix (benchmarks/support/locustfile_retail.py) through gunicorn on PostgreSQL, with a Celery
worker and beat on Redis, as `make serve` runs them; locust headless. Prints throughput, p50/p95/p99 and errors per
request type, and each type's latency as a multiple of a bare GET /health/ measured in the same run. Without
DATABASE_URL (the suite's tiny run) it uses a SQLite file and runs tasks in the web process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_load_bench .venv/bin/python benchmarks/load.py
    ... benchmarks/load.py --users 50 --duration 180 --customers 2000       # the issue's "few minutes"

The database named in DATABASE_URL is DROPPED and recreated (its name must contain "bench"); Redis database 13 (or
CELERY_BROKER_URL) is flushed. Targets (issue 16): 0 errors, p95 < 100 ms for reads and < 250 ms for writes.
"""

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.support.production_server import start_production_server, stop_production_server  # noqa: E402

BIN = Path(sys.executable).parent
HEALTH = "GET /health/ (baseline)"
LOCUSTFILE = ROOT / "benchmarks" / "support" / "locustfile_retail.py"
WRITES = ("POST",)


def _api(server, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(  # noqa: S310 - loopback
        server.base_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        return json.loads(answer.read())


def _fixtures(server, *, customers: int) -> dict:
    """What the users pick from: products with plenty of stock at a warehouse, customers, open cases."""
    skus = [p["sku"] for p in _api(server, "GET", "/api/v1/products?limit=1000&active=true")["results"]]
    warehouse = _api(server, "GET", "/api/v1/locations?kind=warehouse")["results"][0]["code"]
    for sku in skus:
        _api(server, "POST", "/api/v1/stock/movements",
             {"sku": sku, "location": warehouse, "kind": "received", "quantity": 1_000_000})  # fmt: skip
    people = [c["id"] for c in _api(server, "GET", f"/api/v1/customers?limit={min(customers, 1000)}")["results"]]
    cases = [c["id"] for c in _api(server, "GET", "/api/v1/cases?status=open&limit=200")["results"]]
    for customer in people[: max(0, 50 - len(cases))]:
        opened = {"customer": customer, "channel": "phone", "subject": "Pedido retrasado", "text": "¿Dónde está?"}
        cases.append(_api(server, "POST", "/api/v1/cases", opened)["id"])
    return {"skus": skus, "warehouse": warehouse, "customers": people, "cases": cases}


def _recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


CELERY_COMMANDS = {
    "worker": ["worker", "-l", "warning", "--concurrency", "1", "-n", f"load-{os.getpid()}@%h"],
    "beat": ["beat", "-l", "warning", "--schedule", "{log_dir}/celerybeat-schedule"],
}


def start_celery_process(server, log_dir: Path, name: str) -> subprocess.Popen:
    """`celery worker` or `celery beat` (as `make serve` runs them) with the server's environment; its log appended to
    `log_dir`/NAME.log."""
    command = [part.replace("{log_dir}", str(log_dir)) for part in CELERY_COMMANDS[name]]
    with (log_dir / f"{name}.log").open("a") as out:
        return subprocess.Popen(  # noqa: S603 - our own celery
            [str(BIN / "celery"), "-A", "backoffice", *command], cwd=ROOT, env=server.env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _start_celery(server, log_dir: Path) -> list[subprocess.Popen]:
    return [start_celery_process(server, log_dir, name) for name in CELERY_COMMANDS]


def stop_processes(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def locust_command(server, work: Path, *, users: int, spawn_rate: float, duration: int) -> tuple[list[str], dict]:
    """The headless locust run of the retail mix against `server` (fixtures in `work`/fixtures.json, stats CSVs as
    `work`/load_*.csv), and its environment."""
    env = {**os.environ, "LOAD_TOKEN": server.token, "LOAD_FIXTURES": str(work / "fixtures.json")}
    command = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless",
               "-u", str(users), "-r", str(spawn_rate), "-t", f"{duration}s", "--host",
               server.base_url, "--csv", str(work / "load"), "--only-summary", "--loglevel", "WARNING"]  # fmt: skip
    return command, env


def prepare_fixtures(server, work: Path, *, customers: int) -> dict:
    fixtures = _fixtures(server, customers=customers)
    (work / "fixtures.json").write_text(json.dumps(fixtures))
    return fixtures


def scrape_metrics(server) -> str:
    request = urllib.request.Request(  # noqa: S310
        server.base_url + "/metrics", headers={"Authorization": f"Bearer {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return answer.read().decode()


def gauges(text: str, name: str) -> dict[str, float]:
    found = {}
    for labels, value in re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE):
        found[labels or "-"] = float(value)
    return found


def report(stats_csv: Path, *, users: int, duration: int, database: str) -> tuple[str, int]:
    rows = {row["Name"]: row for row in csv.DictReader(stats_csv.open()) if row["Name"] != "Aggregated"}
    total = next(row for row in csv.DictReader(stats_csv.open()) if row["Name"] == "Aggregated")
    health = rows.get(HEALTH)
    lines = [
        f"locust headless, {users} users, {duration} s, through gunicorn (production settings) on {database}",
        "",
        f"{'request type':34} {'reqs':>7} {'err':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'p50 x health':>12} {'p95 x health':>12} {'target p95':>10}",
    ]
    errors = int(total["Failure Count"])
    for name in sorted(rows, key=lambda n: (n == HEALTH, n)):
        row = rows[name]
        p50, p95, p99 = (float(row[key] or 0) for key in ("50%", "95%", "99%"))
        target = "" if name == HEALTH else ("250" if name.startswith(WRITES) else "100")
        ratio50 = p50 / float(health["50%"]) if health and float(health["50%"] or 0) else float("nan")
        ratio95 = p95 / float(health["95%"]) if health and float(health["95%"] or 0) else float("nan")
        lines.append(
            f"{name:34} {int(row['Request Count']):>7} {int(row['Failure Count']):>5} "
            f"{float(row['Requests/s']):>7.1f} {p50:>7.0f} {p95:>7.0f} {p99:>7.0f} {ratio50:>12.1f} {ratio95:>12.1f} "
            f"{target:>10}"
        )
    lines += [
        "",
        f"total: {int(total['Request Count'])} requests, {errors} errors, {float(total['Requests/s']):.1f} req/s, "
        f"p50 {float(total['50%']):.0f} ms, p95 {float(total['95%']):.0f} ms, p99 {float(total['99%']):.0f} ms",
    ]
    return "\n".join(lines), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", type=int, default=180, help="seconds of load after the ramp-up starts")
    parser.add_argument("--customers", type=int, default=500, help="demo customers seeded first")
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy gunicorn's and Celery's logs here")
    args = parser.parse_args(argv)

    database = os.environ.get("DATABASE_URL", "")
    broker = None
    if database:
        if not database.startswith(("postgres://", "postgresql://")) or "bench" not in database.rsplit("/", 1)[1]:
            sys.exit("set DATABASE_URL to a PostgreSQL database whose name contains 'bench' (it is dropped)")
        broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
        import redis

        redis.Redis.from_url(broker).flushdb()
        _recreate_database(database)
    # Without DATABASE_URL (the suite's tiny run): a SQLite file and tasks in the web process, no worker nor beat.

    with tempfile.TemporaryDirectory(prefix="backoffice-load-") as directory:
        work = Path(directory)
        print(f"seeding {args.customers} demo customers and starting gunicorn...", file=sys.stderr)
        started = time.perf_counter()
        server = start_production_server(
            work, workers=args.web_workers, threads=args.threads, seed_customers=args.customers,
            database_url=database or None,
            extra_env={"MESSAGING_BACKEND": "memory", **({"CELERY_BROKER_URL": broker} if broker else {})},
        )  # fmt: skip
        celery = _start_celery(server, work) if broker else []
        try:
            fixtures = prepare_fixtures(server, work, customers=args.customers)
            print(
                f"ready in {time.perf_counter() - started:.0f} s: {len(fixtures['skus'])} skus, "
                f"{len(fixtures['customers'])} customers, {len(fixtures['cases'])} open cases; load for "
                f"{args.duration} s...",
                file=sys.stderr,
            )
            command, env = locust_command(
                server, work, users=args.users, spawn_rate=args.spawn_rate, duration=args.duration
            )
            locust = subprocess.run(command, cwd=ROOT, env=env, check=False, capture_output=True, text=True)  # noqa: S603
            print(locust.stdout + locust.stderr, file=sys.stderr)
            text, errors = report(
                work / "load_stats.csv",
                users=args.users,
                duration=args.duration,
                database="PostgreSQL, Celery worker + beat on Redis" if database else "SQLite, tasks in process",
            )
            after = scrape_metrics(server)
            time.sleep(10)  # the worker and beat catch up
            settled = scrape_metrics(server)
        finally:
            stop_processes(celery)
            stop_production_server(server)
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in work.glob("*.log"):
                    shutil.copy(log, args.keep_logs / log.name)
    print(text)
    print()
    print("from /metrics right after the load, and 10 s later:")
    for name in ("backoffice_outbox_messages", "backoffice_projection_lag_events", "backoffice_celery_queue_length",
                 "backoffice_projection_failures_unresolved"):  # fmt: skip
        print(f"  {name}: {gauges(after, name) or 0} -> {gauges(settled, name) or 0}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
