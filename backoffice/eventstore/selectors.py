"""Reads of the log for views and other apps."""

from . import store
from .store import RecordedEvent


def events_after(*, after: int, limit: int) -> list[RecordedEvent]:
    return store.read_all(after=after, limit=limit)


def events_committed_after(*, cursor: tuple[int, int], limit: int) -> list[RecordedEvent]:
    """The log in commit-safe order after `cursor` = (transaction_id, position) of the last event read: a client
    following it never misses an event that commits late under parallel writers (store.read_committed)."""
    return store.read_committed(after=cursor, limit=limit)
