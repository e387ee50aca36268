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
