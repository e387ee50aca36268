"""Reads on a streaming replica, writes and read-your-writes on the primary (`DATABASE_REPLICA_URL`).

Without `DATABASE_REPLICA_URL` nothing here routes anything: every query goes to `default`, as before.

With it, the `replica` alias is a hot standby fed by PostgreSQL's streaming replication, and:
- A read goes to the replica only inside a *read scope*: a GET/HEAD/OPTIONS request (`ReadReplicaMiddleware`), or
  code that says it only reads (`reads_from_replica()`: a report task, a management command). Everywhere else, Celery
  tasks, management commands, migrations, the shell, reads stay on the primary: the scope's default is "primary".
- Only the domain's read models and the log go to the replica (`REPLICA_APPS`); users, sessions, tokens, roles and
  login throttling are always read on the primary, so a login, a new token or a changed role holds at once.
- A request reads its own writes: once it has written (any ORM write, or any statement other than a read through
  Django's cursor on the primary) every later read of the request goes to the primary; so does every read inside
  `transaction.atomic()` (a service's reads are its writes' preconditions), and every read of a POST/PUT/PATCH/DELETE.
- A short pin after a write: a request that wrote (or any accepted unsafe request) pins its caller to the primary for
  `DATABASE_REPLICA_PIN_SECONDS`, by a cookie (browsers and cookie-keeping clients, across processes) and a cache key
  derived from its Authorization header or session cookie (token clients that drop cookies; across processes when the
  cache is shared, `CACHE_URL=redis://...`). So a POST followed by a GET sees the POST's write, whatever the lag.
- A lagging or unreachable replica is left alone: each process checks the replica's replay lag at most every
  `DATABASE_REPLICA_CHECK_SECONDS`; past `DATABASE_REPLICA_MAX_LAG_SECONDS`, or on a connection error, reads go to the
  primary until the next check says it is back.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

REPLICA = "replica"
# The apps whose tables may be read on the replica: read models and the log. Not auth, sessions, tokens, accounts
# (roles), axes (login throttling), admin (its log), contenttypes: who someone is and may do is read on the primary.
REPLICA_APPS = frozenset(
    {"eventstore", "messaging", "customers", "orders", "campaigns", "insights", "integrations", "staff"}
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PIN_COOKIE = "primary_reads_until"
# Statements that change nothing: anything else run on the primary during a read scope counts as a write.
_READ_STATEMENTS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "SET", "SHOW", "EXPLAIN")


@dataclass
class ReadScope:
    """What the current request (or block of code) may read where."""

    may_use_replica: bool
    has_written: bool = False


_scope: ContextVar[ReadScope | None] = ContextVar("replica_read_scope", default=None)


def routing_is_on() -> bool:
    return bool(getattr(settings, "DATABASE_REPLICA_ROUTING", False))


def read_alias() -> str:
    """The database alias a read made now should use: `replica` or `default`."""
    scope = _scope.get()
    if scope is None or not scope.may_use_replica or scope.has_written or not routing_is_on():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    if not _health.is_usable():
        return DEFAULT_DB_ALIAS
    return REPLICA


def read_connection() -> BaseDatabaseWrapper:
    """The connection for a raw-SQL read (the ORM asks the router instead): the replica in a read scope, else the
    primary. Never use it for a statement that writes."""
    return connections[read_alias()]


_write_not_read_back: ContextVar[bool] = ContextVar("replica_write_not_read_back", default=False)


def note_write() -> None:
    """The current scope has written: from now on it reads on the primary (and its caller is pinned there)."""
    scope = _scope.get()
    if scope is not None and not _write_not_read_back.get():
        scope.has_written = True


@contextmanager
def write_not_read_back() -> Iterator[None]:
    """A write nobody reads back in the request or just after (the audit row of a read of personal data): it goes
    to the primary like any write, but moves neither the request's later reads nor its caller to the primary, or
    every 360 view, which records who looked, would pin its reader to the primary."""
    token = _write_not_read_back.set(True)
    try:
        yield
    finally:
        _write_not_read_back.reset(token)


@contextmanager
def reads_from_replica() -> Iterator[ReadScope]:
    """Run a block that only reads with its reads on the replica (when there is one); a write inside it still goes
    to the primary, and the block's later reads follow it there."""
    scope = ReadScope(may_use_replica=True)
    token = _scope.set(scope)
    try:
        with connections[DEFAULT_DB_ALIAS].execute_wrapper(_watch_primary_statements):
            yield scope
    finally:
        _scope.reset(token)


def _watch_primary_statements(execute, sql, params, many, context):
    if not isinstance(sql, str) or not sql.lstrip()[:9].upper().startswith(_READ_STATEMENTS):
        note_write()
    return execute(sql, params, many, context)


class PrimaryReplicaRouter:
    """Django's database router: reads to `read_alias()`, writes and migrations to the primary only."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label not in REPLICA_APPS:
            return DEFAULT_DB_ALIAS
        return read_alias()

    def db_for_write(self, model, **hints):
        note_write()
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica replays the primary's schema: nothing is ever created or migrated on it.
        return db != REPLICA


# --- The pin after a write.


def _identity_key(request) -> str | None:
    """A cache key for whoever sent the request: its credentials (Authorization header, else session cookie), never
    stored as they are (an HMAC with the secret key)."""
    credential = request.headers.get("Authorization") or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not credential:
        return None
    return "replica:pin:" + salted_hmac("replica-pin", credential).hexdigest()[:32]


def _pin_seconds() -> int:
    return int(getattr(settings, "DATABASE_REPLICA_PIN_SECONDS", 5))


def _is_pinned(request, identity_key: str | None) -> bool:
    now = time.time()
    raw = request.COOKIES.get(PIN_COOKIE, "")
    # A cookie is client input: an expiry further ahead than one pin is not believed (it would only force the
    # client's own reads to the primary, but for no longer than a pin).
    if raw.isdigit() and now < int(raw) <= now + _pin_seconds() + 1:
        return True
    return bool(identity_key and cache.get(identity_key))


def _pin(request, response, identity_key: str | None) -> None:
    seconds = _pin_seconds()
    if seconds <= 0:
        return
    if identity_key:
        cache.set(identity_key, 1, seconds)
    response.set_cookie(
        PIN_COOKIE,
        str(int(time.time()) + seconds),
        max_age=seconds,
        httponly=True,
        samesite="Lax",
        secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
    )


class ReadReplicaMiddleware:
    """Opens a read scope per request: safe methods may read on the replica unless the caller is pinned to the
    primary by a recent write; a request that writes reads the primary from then on, and pins its caller."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not routing_is_on():
            return self.get_response(request)
        identity_key = _identity_key(request)
        is_safe = request.method in SAFE_METHODS
        scope = ReadScope(may_use_replica=is_safe and not _is_pinned(request, identity_key))
        token = _scope.set(scope)
        try:
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(_watch_primary_statements):
                response = self.get_response(request)
        finally:
            _scope.reset(token)
        if scope.has_written or (not is_safe and response.status_code < 400):
            _pin(request, response, identity_key)
        return response


# --- The replica's health, per process.


class _Health:
    def __init__(self):
        self.checked_at = float("-inf")
        self.usable = True
        self.lock = threading.Lock()

    def is_usable(self) -> bool:
        every = float(getattr(settings, "DATABASE_REPLICA_CHECK_SECONDS", 2))
        now = time.monotonic()
        if now - self.checked_at < every or not self.lock.acquire(blocking=False):
            return self.usable
        try:
            self.usable = replica_lag_seconds() <= float(getattr(settings, "DATABASE_REPLICA_MAX_LAG_SECONDS", 30))
        except DatabaseError as error:
            if self.usable:
                logger.warning("read replica unusable, reads go to the primary: %s", type(error).__name__)
            self.usable = False
            connections[REPLICA].close()
        finally:
            self.checked_at = now
            self.lock.release()
        return self.usable

    def forget(self) -> None:
        self.checked_at, self.usable = float("-inf"), True


_health = _Health()


def forget_replica_health() -> None:
    """Check the replica again at the next read (after a settings change, in tests)."""
    _health.forget()


def replica_lag_seconds() -> float:
    """How far the replica's data is behind the primary, in seconds: 0 when it has replayed everything it received,
    else the age of the last transaction it replayed. A test mirror (SQLite, or no standby) is never behind."""
    connection = connections[REPLICA]
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
            "THEN 0 ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
        )
        return float(cursor.fetchone()[0])


# --- Celery: a task runs on the primary, also when run eagerly inside a request's read scope.

_task_tokens: dict[str, Token] = {}


def task_starts(task_id=None, **kwargs) -> None:
    if task_id is not None:
        _task_tokens[task_id] = _scope.set(None)


def task_ends(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None) if task_id is not None else None
    if token is not None:
        try:
            _scope.reset(token)
        except ValueError:  # set in another context (a worker thread pool): nothing of ours to restore there
            pass
