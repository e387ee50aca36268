"""`manage.py check --deploy` passes with the environment the operator copies (deploy/systemd/backoffice.env.example,
its two secrets filled in as its comments say), and the Procfile runs the same processes as the systemd units."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "systemd" / "backoffice.env.example"


def documented_environment() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    values["SECRET_KEY"] = values["SECRET_KEY"] or secrets.token_urlsafe(50)
    values["EVENTSTORE_MASTER_KEY"] = values["EVENTSTORE_MASTER_KEY"] or base64.b64encode(os.urandom(32)).decode()
    return values


def test_check_deploy_passes_with_the_documented_environment():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECURE_"))}

    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **documented_environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_https_redirect_and_hsts():
    env = {**os.environ, **documented_environment(), "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0"}

    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "security.W008" in result.stderr
    assert "security.W004" in result.stderr


def test_the_procfile_and_the_systemd_units_run_the_same_processes():
    procfile = dict(
        line.split(": ", 1)
        for line in (ROOT / "deploy" / "Procfile").read_text().splitlines()
        if ":" in line and not line.startswith("#")
    )
    units = {
        name: (ROOT / "deploy" / "systemd" / f"backoffice-{name}.service").read_text()
        for name in ("web", "worker", "beat")
    }

    assert "gunicorn -c deploy/gunicorn.conf.py backoffice.wsgi" in procfile["web"]
    assert "gunicorn -c deploy/gunicorn.conf.py backoffice.wsgi" in units["web"]
    assert "celery -A backoffice worker" in procfile["worker"]
    assert "celery -A backoffice worker" in units["worker"]
    assert "celery -A backoffice --quiet beat" in procfile["beat"]
    assert "celery -A backoffice --quiet beat" in units["beat"]
