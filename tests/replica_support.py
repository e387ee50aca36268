"""Helpers of the read-replica tests: a real streaming replica behind the `replica` alias, waiting for it, pausing
it."""

import time
from contextlib import contextmanager

import environ
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from backoffice.replica import REPLICA


def point_replica_alias_at_standby(replica_url: str, *, timeout: float = 60.0) -> None:
    """Point the `replica` test mirror at the test database on the standby (same name, the standby's host, port and
    credentials), once replication has brought it there. It stays a mirror: Django never creates, flushes or
    serializes it."""
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    standby = environ.Env.db_url_config(replica_url)
    replica = connections[REPLICA]
    replica.close()
    replica.settings_dict = {
        **primary,
        **{key: standby[key] for key in ("HOST", "PORT", "USER", "PASSWORD") if key in standby},
        "TEST": {**primary["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            replica.ensure_connection()
            break
        except OperationalError:
            # The standby has not replayed the CREATE DATABASE yet.
            if time.monotonic() > deadline:
                raise
            replica.close()
            time.sleep(0.2)
    wait_for_replica(timeout=timeout)


def replica_is_standby() -> bool:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return bool(cursor.fetchone()[0])


def wait_for_replica(*, timeout: float = 30.0) -> None:
    """Until the replica has replayed everything the primary has written so far (at once on a mirror)."""
    if connections[REPLICA].vendor != "postgresql" or not replica_is_standby():
        return
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while True:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the replica did not replay up to {target} within {timeout}s")
        time.sleep(0.05)


@contextmanager
def replay_paused():
    """The standby keeps receiving WAL but applies none of it: its data stays as it is now (stale on purpose)."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
        # From here the startup process applies no further record (it checks before each one), even while the state
        # still reads "pause requested".
        cursor.execute("SELECT pg_get_wal_replay_pause_state()")
        assert cursor.fetchone()[0] in ("pause requested", "paused")
    try:
        yield
    finally:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute("SELECT pg_wal_replay_resume()")
