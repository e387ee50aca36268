"""Tests: the same settings as production code paths use, with fast hashing and in-memory message backends."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-for-the-check-0123456789")

# pytest-xdist: each worker has a test database of its own (pytest-django suffixes its name) and a Redis database of
# its own for the broker, so one worker's purge, ping or `inspect` never reaches another's Celery worker (kombu scopes
# broadcasts by database as well). The URL the run was given is kept aside, so a process a test starts with this
# environment (its Celery worker) lands on the same database, not one further along.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _xdist_worker and os.environ.get("CELERY_BROKER_URL"):
    _given = os.environ.setdefault("TEST_CELERY_BROKER_URL_GIVEN", os.environ["CELERY_BROKER_URL"])
    _server, _, _db = _given.rpartition("/")
    if not _db.isdigit():  # redis://host:port names database 0
        _server, _db = _given.rstrip("/"), "0"
    os.environ["CELERY_BROKER_URL"] = f"{_server}/{(int(_db) - int(_xdist_worker.removeprefix('gw'))) % 16}"

from .base import *  # noqa: E402,F403
from .base import DATABASES, MESSAGING_BACKENDS, REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In memory unless a channel is named explicitly (the integration tests point a worker at a loopback provider).
MESSAGING_BACKENDS = {
    channel: os.environ.get(f"MESSAGING_BACKEND_{channel.upper()}", "memory") for channel in MESSAGING_BACKENDS
}
MESSAGING_WEBHOOK_SECRETS = {
    channel: os.environ.get(f"MESSAGING_WEBHOOK_SECRET_{channel.upper()}", f"test-webhook-secret-{channel}")
    for channel in MESSAGING_BACKENDS
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"user": "100000/min", "anon": "100000/min"},
}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
LANGUAGE_CODE = "en"
# Tests run tasks in process; the integration tests switch this off for themselves and start a real worker.
CELERY_TASK_ALWAYS_EAGER = True
# Quiet hours depend on the wall clock; tests that exercise them set a window around the moment they run.
MESSAGING_QUIET_HOURS = "off"
# A worker started by an integration test on its own queue sends the tasks it enqueues there too (not to the queue
# another test's worker consumes).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
# The `replica` alias always exists in tests, as a mirror of the test database (Django's TEST MIRROR: nothing is
# created for it). With DATABASE_REPLICA_URL (a real streaming replica, .ci/run's replica stage), tests/conftest.py
# points the mirror at the same test database on the replica's host and port once the primary has created it.
DATABASES["replica"] = {**DATABASES.get("replica", DATABASES["default"]), "TEST": {"MIRROR": "default"}}
# Reads stay on the primary in every test but those that ask for routing (the `replica_routing` fixture): a test in a
# transaction that is rolled back (pytest-django's default) writes what only its own connection can see.
DATABASE_REPLICA_ROUTING = False
