"""Test harness.

- `postgres` tests need DATABASE_URL on PostgreSQL; `integration` tests also need CELERY_BROKER_URL (Redis) and start
  a real Celery worker. On the embedded default (SQLite, no broker) they are deselected and the summary says so;
  with REQUIRE_POSTGRES=1 / REQUIRE_BROKER=1 (CI) a missing service is an error, never a skip.
- `streaming_replica` tests need DATABASE_REPLICA_URL (a hot standby of the primary: .ci/run starts one); deselected
  without it, an error with REQUIRE_REPLICA=1. The `replica` alias is a TEST MIRROR of the test database; with a real
  replica, `django_db_setup` points it at the same test database on the replica once the primary has created it.
- The event table refuses DELETE and TRUNCATE. Django empties every table after a transactional test; the harness
  lifts the triggers for exactly that statement and puts them back in the same transaction.
"""

import os
from pathlib import Path

import pytest
from django.db import connection, connections

from backoffice.eventstore import triggers

from .factories import api_client_for, login, staff_user  # noqa: F401 - fixtures
from .openapi import openapi_schema  # noqa: F401 - fixture

_deselected: dict[str, int] = {}


def _is_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://", "pgsql://"))


def _has_broker() -> bool:
    return bool(os.environ.get("CELERY_BROKER_URL"))


def _has_replica() -> bool:
    return bool(os.environ.get("DATABASE_REPLICA_URL"))


def pytest_sessionstart(session):
    """Compile the translations (the project's and each app's), as `make run` does, so the i18n tests see the .po
    files as they are now. Under pytest-xdist the controller compiles them once, before its workers start."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from babel.messages.frontend import CommandLineInterface

    root = Path(__file__).resolve().parents[1]
    for locale_dir in [root / "locale", *root.glob("*/locale"), *root.glob("*/*/locale")]:
        if ".venv" not in locale_dir.parts:
            CommandLineInterface().run(["pybabel", "-q", "compile", "-d", str(locale_dir), "-D", "django"])


def pytest_collection_modifyitems(config, items):
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not _is_postgres():
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but DATABASE_URL is not a PostgreSQL URL")
    if os.environ.get("REQUIRE_BROKER") == "1" and not _has_broker():
        raise pytest.UsageError("REQUIRE_BROKER=1 but CELERY_BROKER_URL is not set")
    if os.environ.get("REQUIRE_REPLICA") == "1" and not (_has_replica() and _is_postgres()):
        raise pytest.UsageError("REQUIRE_REPLICA=1 but DATABASE_REPLICA_URL (and a PostgreSQL DATABASE_URL) is not set")
    keep, drop = [], []
    for item in items:
        needs_pg = item.get_closest_marker("postgres") or item.get_closest_marker("integration")
        needs_broker = item.get_closest_marker("integration")
        needs_replica = item.get_closest_marker("streaming_replica")
        if (
            (needs_pg and not _is_postgres())
            or (needs_broker and not _has_broker())
            or (needs_replica and not (_has_replica() and _is_postgres()))
        ):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        _deselected["count"] = len(drop)


def pytest_sessionfinish(session):
    """Under pytest-xdist each worker collects (and deselects) the whole suite: it tells the controller how many."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["deselected_for_services"] = _deselected.get("count", 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller's side of the above (a pytest-xdist hook): every worker deselected the same tests."""
    count = getattr(node, "workeroutput", {}).get("deselected_for_services", 0)
    _deselected["count"] = max(_deselected.get("count", 0), count)


def pytest_terminal_summary(terminalreporter):
    if _deselected.get("count"):
        terminalreporter.write_line(
            f"{_deselected['count']} PostgreSQL/Redis/replica tests were not run here (no DATABASE_URL=postgres://..., "
            "CELERY_BROKER_URL or DATABASE_REPLICA_URL): .ci/run runs them.",
            yellow=True,
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """With a real streaming replica, the `replica` mirror reads the test database the primary just created, on the
    replica's host and port (never created there: it arrives by replication)."""
    if _has_replica() and _is_postgres():
        from .replica_support import point_replica_alias_at_standby

        with django_db_blocker.unblock():
            point_replica_alias_at_standby(os.environ["DATABASE_REPLICA_URL"])
    yield
    connections["replica"].close()


@pytest.fixture(scope="session", autouse=True)
def _flush_lifts_append_only_triggers():
    """Let Django's post-test flush empty the event table; the triggers are back before the flush commits."""
    ops_class = type(connection.ops)
    original = ops_class.sql_flush

    def sql_flush(self, style, tables, *args, **kwargs):
        statements = original(self, style, tables, *args, **kwargs)
        if triggers.TABLE not in tables:
            return statements
        vendor = self.connection.vendor
        return [*triggers.drop_statements(vendor), *statements, *triggers.create_statements(vendor)]

    ops_class.sql_flush = sql_flush
    yield
    ops_class.sql_flush = original


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache: a figure read back from a previous test's cache could make an
    equality test pass that should fail (the insights scan is cached by checkpoint, throttles count in the cache)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def outbox():
    """What the in-memory messaging backend delivered during the test."""
    from backoffice.messaging.backends.local import MemoryBackend

    MemoryBackend.reset()
    yield MemoryBackend.outbox
    MemoryBackend.reset()


@pytest.fixture
def unreachable_broker(settings):
    """The broker the settings and the Celery app name is one nothing listens on, for this test only."""
    from backoffice.celery import app

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    previous = app.conf.broker_url
    app.conf.broker_url = settings.CELERY_BROKER_URL
    yield
    app.conf.broker_url = previous


@pytest.fixture
def database_cursor_raises(monkeypatch):
    """Call it with an exception type and message: from then on, opening a cursor on the default database raises
    that exception (a database that is down, or one a view must not ask)."""
    from django.db import connection

    def make(error: type[BaseException], message: str) -> None:
        def refuse(*args, **kwargs):
            raise error(message)

        monkeypatch.setattr(connection, "cursor", refuse)

    return make


@pytest.fixture
def replica_routing(settings):
    """Reads may go to the `replica` alias in this test (a mirror of the test database, or a real standby)."""
    from backoffice import replica

    settings.DATABASE_REPLICA_ROUTING = True
    replica.forget_replica_health()
    yield
    replica.forget_replica_health()
