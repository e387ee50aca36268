"""The log lock: appends hold it in shared mode (they never wait for one another), a few rare commands take it in
exclusive mode to have the log to themselves until they commit. See backends/ for each database's way."""

import uuid
from collections.abc import Iterable

from .backends import recorder


def appends_locked_out() -> None:
    """Call inside a transaction: until it ends, no append runs and none is half done. For what must not interleave
    with appends, and is rare: a rebuild of inline projections, an erasure (keys are created by appends), a merge.
    PostgreSQL: an exclusive advisory lock that appends take shared. SQLite: transactions begin IMMEDIATE (settings),
    so the transaction already holds the database's only write lock."""
    recorder().lock_appends_out()


def keys_locked(ids: Iterable[uuid.UUID]) -> None:
    """Call inside a transaction: until it ends, no other transaction holds one of these ids' locks (a person's
    budget of messages while a fan-out batch decides it). Taken in one order, so two callers never deadlock.
    PostgreSQL: an advisory lock per id; SQLite: the transaction already holds the only write lock."""
    recorder().lock_keys(sorted({int.from_bytes(one.bytes[:8], "big", signed=True) for one in ids}))
