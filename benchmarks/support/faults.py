"""Throwaway servers for the fault tests (tests/integration) and benchmarks/faults.py: a PostgreSQL cluster and a Redis
of their own, on their own ports, that a test may restart or stop. The shared PostgreSQL (5432) and Redis (6379) are
never touched.

PostgreSQL: the machine's binaries (PG_BIN, default /usr/lib/postgresql/15/bin); initdb into a temporary directory
as the `postgres` user when running as root (initdb refuses root), else as the current user."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class ThrowawayPostgres:
    def __init__(self, port: int = 5434):
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="bo-faults-pg-"))
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/bo_faults"

    def _run(self, *command: str) -> str:
        done = subprocess.run(_as_postgres(list(command)), capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> "ThrowawayPostgres":
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.pg_ctl("start")
        self.psql("CREATE DATABASE bo_faults", database="postgres")
        return self

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            action,
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(self.dir / "server.log"),
            *extra,
        )

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def psql(self, sql: str, database: str = "bo_faults") -> str:
        done = subprocess.run(  # noqa: S603
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def stop(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class ThrowawayRedis:
    def __init__(self, port: int = 6380):
        self.port, self.process = port, None
        self.dir = Path(tempfile.mkdtemp(prefix="bo-faults-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "ThrowawayRedis":
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(  # noqa: S603
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port).ping():
                    return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the throwaway redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """gunicorn serving the project on 127.0.0.1:`port` with the given environment."""

    def __init__(self, env: dict, port: int, log_path: Path):
        self.env, self.port, self.log_path, self.process = env, port, log_path, None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--timeout",
                    "60",
                    "backoffice.wsgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()}")
            try:
                requests.get(f"{self.url}/health/", timeout=10)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def send_until_accepted(session, method: str, url: str, body: dict, *, deadline: float, seen: list) -> int:
    """What a well-behaved client does: the same request (same ids) again on a connection error or a 503, until it is
    accepted. Every answer that is not 2xx is kept in `seen` (status or exception class)."""
    while True:
        try:
            response = session.request(method, url, json=body, timeout=30)
        except requests.RequestException as exc:
            seen.append(type(exc).__name__)
        else:
            if response.status_code in (200, 201):
                return response.status_code
            seen.append(response.status_code)
            if response.status_code != 503:
                raise AssertionError(f"{method} {url} answered {response.status_code}: {response.text[:500]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{method} {url} never accepted; answers: {seen[-5:]}")
        time.sleep(0.2)
