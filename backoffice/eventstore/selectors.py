"""Reads of the log for views and other apps."""

from . import store
from .store import RecordedEvent


def events_after(*, after: int, limit: int) -> list[RecordedEvent]:
    return store.read_all(after=after, limit=limit)
