"""Secure defaults: without DEBUG the process refuses to start on a missing or weak secret key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PRINT_DEBUG = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(settings_module: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _PRINT_DEBUG],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("secret", [None, "short", "dev-only-insecure-key-never-used-when-debug-is-off"])
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {"SECRET_KEY": secret} if secret else {}

    result = _start("backoffice.settings.production", **env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_ignores_debug_from_the_environment():
    result = _start("backoffice.settings.production", SECRET_KEY="x" * 50, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_local_development_starts_with_debug_and_no_secret():
    result = _start("backoffice.settings.local")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


_PRINT_DATABASES = (
    "import django; django.setup(); from django.conf import settings; "
    "print(sorted(settings.DATABASES), settings.DATABASE_REPLICA_ROUTING, "
    "settings.DATABASES.get('replica', {}).get('PORT'), settings.DATABASES.get('replica', {}).get('CONN_MAX_AGE'))"
)


def _databases(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_REPLICA_URL"}}
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", _PRINT_DATABASES],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "backoffice.settings.local", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_replica_url_adds_a_replica_alias_that_reads_are_routed_to():
    result = _databases(
        DATABASE_URL="postgres://app@127.0.0.1:5432/backoffice",
        DATABASE_REPLICA_URL="postgres://app@127.0.0.1:5433/backoffice",
        CONN_MAX_AGE="30",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['default', 'replica'] True 5433 30"


def test_without_database_replica_url_there_is_one_database():
    result = _databases(DATABASE_URL="postgres://app@127.0.0.1:5432/backoffice")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['default'] False None None"


def test_a_replica_of_another_database_engine_is_refused_at_start():
    result = _databases(DATABASE_REPLICA_URL="postgres://app@127.0.0.1:5433/backoffice")  # the default is SQLite

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL must be a replica of DATABASE_URL" in result.stderr
