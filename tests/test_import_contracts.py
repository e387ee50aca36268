"""The import-linter contracts (run by `make lint`) cover every app: a new app's models are not importable by the
others until it has its own contract, and this test fails when one is missing."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _model_modules() -> set[str]:
    found = set()
    for top in ("backoffice", "customers", "orders", "campaigns"):
        for path in (ROOT / top).rglob("models.py"):
            if ".venv" in path.parts or "migrations" in path.parts:
                continue
            found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def test_every_apps_models_are_forbidden_to_the_other_apps():
    forbidden = {module for c in _contracts() if c["type"] == "forbidden" for module in c["forbidden_modules"]}
    assert _model_modules() - forbidden == set()


def test_the_models_contracts_ignore_nothing():
    ignored = [i for c in _contracts() if c["type"] == "forbidden" for i in c.get("ignore_imports", [])]
    assert ignored == []


def test_services_may_not_import_tasks():
    (contract,) = [c for c in _contracts() if "tasks" in " ".join(c.get("forbidden_modules", []))]
    assert "backoffice.*.services" in contract["source_modules"]
    assert "backoffice.*.tasks" in contract["forbidden_modules"]
