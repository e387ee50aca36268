"""The log lock: appends hold it in shared mode (they never wait for one another), a few rare commands take it in
exclusive mode to have the log to themselves until they commit. See backends/ for each database's way."""

from .backends import recorder


def appends_locked_out() -> None:
    """Call inside a transaction: until it ends, no append runs and none is half done. For what must not interleave
    with appends, and is rare: a rebuild of inline projections, an erasure (keys are created by appends), a merge.
    PostgreSQL: an exclusive advisory lock that appends take shared. SQLite: transactions begin IMMEDIATE (settings),
    so the transaction already holds the database's only write lock."""
    recorder().lock_appends_out()
