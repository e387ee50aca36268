"""`make serve`: the whole product as production runs it, in one terminal.

Runs the release steps (migrate, collectstatic), then three processes with production settings, like the Procfile
next to this file: web (gunicorn, deploy/gunicorn.conf.py), a Celery worker and Celery beat. Their output is
prefixed with their name. Ctrl-C (or SIGTERM) stops all three gracefully; if one of them exits, the others are
stopped too and this exits non-zero, so a supervisor (or an operator) sees it.

    python deploy/serve.py [--bind 127.0.0.1:8000] [--no-release] [--concurrency N]

Needs the production environment: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis),
EVENTSTORE_MASTER_KEY (README, "Production").
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STOP_SECONDS = 35  # a little more than gunicorn's graceful_timeout


def _commands(bind: str, concurrency: int | None) -> dict[str, list[str]]:
    worker = [str(BIN / "celery"), "-A", "backoffice", "worker", "-l", "info", "-n", "worker@%h"]
    if concurrency:
        worker += ["--concurrency", str(concurrency)]
    return {
        "web": [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            bind,
            "backoffice.wsgi",
        ],
        "worker": worker,
        "beat": [
            str(BIN / "celery"),
            "-A",
            "backoffice",
            "--quiet",  # no banner: its output is log lines only (JSON ones with LOG_FORMAT=json)
            "beat",
            "-l",
            "info",
            "--schedule",
            str(ROOT / "var" / "celerybeat-schedule"),
        ],
    }


def _pump(name: str, stream, lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            sys.stdout.write(f"{name:<6} | {line}\n")
            sys.stdout.flush()


def _require_environment(env: dict[str, str]) -> None:
    missing = [
        name for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL") if not env.get(name)
    ]
    if missing:
        sys.exit(f"serve: set {', '.join(missing)} (README, section Production)")
    if not env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        sys.exit("serve: DATABASE_URL must be a PostgreSQL URL in production")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("GUNICORN_BIND", "127.0.0.1:8000"))
    parser.add_argument("--no-release", action="store_true", help="skip migrate and collectstatic")
    parser.add_argument("--concurrency", type=int, default=None, help="Celery worker processes (default: cores)")
    args = parser.parse_args(argv)

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings.production", "PYTHONUNBUFFERED": "1"}
    _require_environment(env)
    (ROOT / "var").mkdir(exist_ok=True)
    if not args.no_release:
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]):
            print(f"serve  | manage.py {' '.join(step)}", flush=True)
            subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True)  # noqa: S603

    lock = threading.Lock()
    children: dict[str, subprocess.Popen] = {}
    for name, command in _commands(args.bind, args.concurrency).items():
        child = subprocess.Popen(  # noqa: S603 - our own executables
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        children[name] = child
        threading.Thread(target=_pump, args=(name, child.stdout, lock), daemon=True).start()
        print(f"serve  | started {name} (pid {child.pid}): {' '.join(command)}", flush=True)

    stopping = threading.Event()

    def _on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    exited = None
    while not stopping.is_set():
        exited = next((name for name, child in children.items() if child.poll() is not None), None)
        if exited:
            print(f"serve  | {exited} exited with {children[exited].returncode}: stopping the others", flush=True)
            break
        time.sleep(0.3)

    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"serve  | {name} did not stop in {STOP_SECONDS}s: killing it", flush=True)
            child.kill()
            child.wait()
    print("serve  | stopped", flush=True)
    return 1 if exited else 0


if __name__ == "__main__":
    sys.exit(main())
