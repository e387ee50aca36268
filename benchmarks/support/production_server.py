"""A production server for benchmarks and tests: gunicorn (deploy/gunicorn.conf.py), production settings, loopback.

It has a database of its own, migrated by `manage.py migrate` (a SQLite file, or on PostgreSQL a database named after
the test run's), its static files collected the way a release does, and an admin API token. Tasks run in the web
process (no broker), so what a request enqueues is done when it answers.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_loopback_port(first: int = 18400, last: int = 18999) -> int:
    """A free port in the team's range for servers started by hand or by tests (127.0.0.1:18xxx)."""
    start = first + (os.getpid() * 7) % (last - first)
    for offset in range(last - first):
        port = first + (start - first + offset) % (last - first)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 127.0.0.1:18400-18999")


def server_database_name(url: str, purpose: str) -> str:
    """The name of a server's own PostgreSQL database beside `url`'s: one per purpose and per process that starts
    servers. pytest-xdist workers each start their own server in the same CI run, and a name shared between them
    let one worker's DROP ... WITH (FORCE) pull the database from under the other's running server (its /health/
    then answered 503 in the middle of a test)."""
    owner = os.environ.get("PYTEST_XDIST_WORKER") or f"p{os.getpid()}"
    return f"{url.rsplit('/', 1)[1]}_{purpose}_{owner}"[:63]


def _postgres_database(url: str, name: str) -> str:
    """A fresh PostgreSQL database `name` on the server of `url`; its URL."""
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def _drop_postgres_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ProductionServer:
    base_url: str
    token: str
    log: Path
    process: subprocess.Popen
    env: dict

    def get(self, path: str, *, headers: dict | None = None, timeout: float = 10):
        request = urllib.request.Request(self.base_url + path, headers=headers or {})  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )


def production_environment(directory: Path, *, database_url: str | None = None) -> tuple[dict, str | None]:
    """The environment of a production server whose files live in `directory`; and its PostgreSQL URL if any."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "MESSAGING_", "GUNICORN_", "PROMETHEUS_", "PYTEST"))
        and key not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "WEB_CONCURRENCY", "LOG_FORMAT"}
    }
    database = os.environ.get("DATABASE_URL", "")
    pg_url = None
    if database_url:
        database = database_url
    elif database.startswith(("postgres://", "postgresql://")):
        pg_url = _postgres_database(database, server_database_name(database, "gunicorn"))
        database = pg_url
    else:
        database = f"sqlite:///{directory / 'db.sqlite3'}"
    env.update(
        DJANGO_SETTINGS_MODULE="backoffice.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database,
        STATIC_ROOT=str(directory / "static"),
        STATIC_BROTLI="false",
        SECURE_SSL_REDIRECT="false",
        API_THROTTLE_USER="1000000/min",
        MESSAGING_BACKEND="memory",
        PROMETHEUS_MULTIPROC_DIR=str(directory / "metrics"),
        PYTHONUNBUFFERED="1",
    )
    return env, pg_url


def start_production_server(
    directory: Path,
    *,
    workers: int = 2,
    threads: int = 2,
    seed_customers: int = 0,
    database_url: str | None = None,
    extra_env: dict | None = None,
    port: int | None = None,
) -> ProductionServer:
    """`database_url`: a PostgreSQL database to use as it is (benchmarks); by default one of its own (see above)."""
    env, pg_url = production_environment(directory, database_url=database_url)
    env.update(extra_env or {})
    env["_PG_URL"] = pg_url or ""
    for step in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True)  # noqa: S603
    created = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "api_token", "fuzzer", "--create", "--role", "admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    if seed_customers:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "seed_demo", "--customers", str(seed_customers)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
    port = port or free_loopback_port()
    log = directory / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own gunicorn
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "backoffice.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = ProductionServer(f"http://127.0.0.1:{port}", token, log, process, env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{log.read_text()}")
        try:
            if server.get("/health/", timeout=2)[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_production_server(server)
    raise RuntimeError(f"gunicorn did not answer /health/ within 60 s:\n{log.read_text()}")


def stop_production_server(server: ProductionServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    if server.env.get("_PG_URL"):
        _drop_postgres_database(server.env["_PG_URL"])
