"""What every benchmark script does around its measurements: its command line, a fresh database with Django set up
on it (before Django is imported), progress lines on stderr, percentiles of the samples it takes, and forked
processes that start their timed work together."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PG_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def processes_cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU seconds spent so far by these PostgreSQL backends, or None when they are not processes of
    this machine (the server runs elsewhere: a pid here may be anything, or nothing). A backend that has exited since
    counts nothing."""
    total, found = 0, False
    for pid in pids:
        proc = Path(f"/proc/{pid}")
        try:
            if proc.joinpath("comm").read_text().strip() != "postgres":
                return None
            fields = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        except OSError:
            return None
        total, found = total + int(fields[11]) + int(fields[12]), True
    return total / os.sysconf("SC_CLK_TCK") if found else None


def connection_backend_cpu_seconds(connection) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving this Django connection (its pid from the driver, no
    round trip), or None on SQLite or when the server is not a process of this machine."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    return processes_cpu_seconds([connection.connection.info.backend_pid])


class AutoAnalyze:
    """Stands in for autovacuum's ANALYZE on a PostgreSQL server running without it (this machine's CI config;
    production runs it).

    A benchmark starts from empty tables, which production never does. Planned against the statistics of a nearly
    empty table, a statement keeps its plan while the table grows: psycopg prepares a statement on its fifth run and
    PL/pgSQL caches the plans of its functions, and only a new ANALYZE of the table (its relcache invalidation)
    plans them again. The store's one-trip append planned at 100 rows looks its ids up with a scan of the whole key
    table, and keeps doing so at 6,000 (docs/benchmarks.md, session 13). Autovacuum analyzes a table once
    50 rows + 10% of it (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor) changed since its last analyze;
    `run_due` checks the same counters (pg_stat_user_tables.n_mod_since_analyze against pg_class.reltuples) and
    analyzes the tables past them. The counters are those the backends have flushed (at most a second behind; this
    connection's own are flushed first). `runs` counts the tables analyzed and `seconds` the time of every check, for
    the caller to report or leave out of its figures."""

    DUE = (
        "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "WHERE s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) ORDER BY s.relname"
    )

    def __init__(self) -> None:
        self.runs = 0
        self.seconds = 0.0

    def run_due(self, connection) -> int:
        """ANALYZE every table of the database past autovacuum's threshold; how many it analyzed."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            # This backend's counters reach the shared statistics when it next goes idle: before the next statement.
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute(self.DUE)
            tables = [name for (name,) in cursor.fetchall()]
            for table in tables:
                cursor.execute(f'ANALYZE "{table}"')
        self.runs += len(tables)
        self.seconds += time.perf_counter() - started
        return len(tables)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class ForkedRun(NamedTuple):
    started: float  # time.perf_counter() when the children were let go: CLOCK_MONOTONIC, one clock for every process
    seconds: float  # from then until the last child answered
    answers: list[Any]  # what work() returned, by index


class _StartLine:
    """What a forked child waits on before its timed work: wait() says it is ready, then blocks until the parent
    lets every child go at once."""

    def __init__(self, go: Any, ready: Any):
        self._go, self._ready = go, ready

    def wait(self) -> None:
        self._ready.release()
        self._go.wait()


def run_forked_together(
    work: Callable[[int, Any], Any], processes: int, *, warm_seconds: float = 1.0, timeout: float = 900
) -> ForkedRun:
    """work(index, start) in `processes` forked children, each on its own database connection: a child warms up
    (connects, a first request) and then calls start.wait(); the parent lets them go once every child waits there, and
    no sooner than `warm_seconds` after the fork. Not on a clock alone: on a loaded machine 8 children took up to 4 s
    past a fixed 1.5 s to warm up, so the timed window counted their start-up (connecting, first requests) and ran
    with fewer writers than it reported. A child that fails fails the run here, instead of leaving the parent waiting
    for an answer that never comes."""
    from django.db import connections

    context = multiprocessing.get_context("fork")
    go, ready, done = context.Event(), context.Semaphore(0), context.Queue()
    start = _StartLine(go, ready)
    connections.close_all()  # never share a connection with a forked child

    def child(index: int) -> None:
        try:
            done.put((index, work(index, start), None))
        except BaseException as exc:
            done.put((index, None, repr(exc)))
            raise
        finally:
            connections.close_all()

    children = [context.Process(target=child, args=(index,)) for index in range(processes)]
    forked_at = time.perf_counter()
    for one in children:
        one.start()
    waiting, give_up_at = processes, forked_at + timeout
    while waiting and time.perf_counter() < give_up_at:
        if ready.acquire(timeout=0.1):
            waiting -= 1
        elif not all(one.is_alive() for one in children):
            break  # a child failed before it was ready: its error is in `done`, reported below
    time.sleep(max(0.0, forked_at + warm_seconds - time.perf_counter()))
    started = time.perf_counter()
    go.set()
    finished = sorted(done.get(timeout=timeout) for _ in children)
    seconds = time.perf_counter() - started
    for one in children:
        one.join()
    errors = [error for _, _, error in finished if error]
    if errors:
        raise RuntimeError(f"a child process failed: {errors[0]}")
    assert [index for index, _, _ in finished] == list(range(processes)), finished
    return ForkedRun(started, seconds, [answer for _, answer, _ in finished])


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """The script's command line, with its module docstring (how to run it, what it measures) as the help."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def prepare_database(url: str | None) -> tuple[str, Callable[[], None], str]:
    """A fresh database for this run: (DATABASE_URL, cleanup, description)."""
    if url and url.startswith(PG_SCHEMES):
        import environ
        import psycopg
        from psycopg import sql

        config = environ.Env.db_url_config(url)
        name = config["NAME"]
        if "bench" not in name:
            sys.exit(f"refusing to drop database {name!r}: name a dedicated database containing 'bench'")
        admin = psycopg.connect(
            host=config.get("HOST") or None,
            port=config.get("PORT") or None,
            user=config.get("USER") or None,
            password=config.get("PASSWORD") or None,
            dbname="postgres",
            autocommit=True,
        )
        with admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return url, lambda: None, f"PostgreSQL database {name!r} (dropped and recreated)"
    if url and not url.startswith("sqlite:"):
        sys.exit("DATABASE_URL must be postgres://... or sqlite:... (or unset for a temporary SQLite file)")
    directory = tempfile.mkdtemp(prefix="backoffice-bench-")
    path = Path(directory) / "bench.sqlite3"
    return f"sqlite:///{path}", lambda: shutil.rmtree(directory, ignore_errors=True), f"SQLite file {path}"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings.test"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    assert not settings.DEBUG, "benchmarks must run with DEBUG off (query logging would skew them)"
    call_command("migrate", verbosity=0, interactive=False)
    # Import every view now, so the whole run measures the code as it was at its start.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views


def run_on_fresh_database(
    run: Callable[..., int],
    args: argparse.Namespace,
    *extra: Any,
    url: str | None = None,
    before_setup: Callable[[str], None] | None = None,
) -> int:
    """run(args, description, *extra) on a fresh database (DATABASE_URL's, or a temporary SQLite file) migrated by
    Django, which it removes afterwards. before_setup(url) runs first, for settings that depend on the database."""
    url, cleanup, description = prepare_database(os.environ.get("DATABASE_URL") if url is None else url)
    try:
        if before_setup is not None:
            before_setup(url)
        setup_django(url)
        return run(args, description, *extra)
    finally:
        cleanup()


def code_version() -> str:
    """The commit, and the files of the measured paths that differ from it (others may be editing them)."""
    import subprocess

    if os.environ.get("BENCHMARK_CODE_VERSION"):
        return os.environ["BENCHMARK_CODE_VERSION"]
    git = shutil.which("git")
    if git is None:
        return "unknown (no git)"
    try:
        head = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(  # noqa: S603 - fixed arguments
            [git, "status", "--porcelain", "--", "backoffice", "customers", "orders"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    paths = sorted(line[3:] for line in changed if line.strip() and line[3:].endswith(".py"))
    return f"{head}" + (f" + uncommitted changes in {', '.join(paths)}" if paths else "")
