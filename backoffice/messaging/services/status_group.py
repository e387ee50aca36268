"""Group commit of status callbacks that arrive at the same time in one process (a provider posts many at once, one
per request, to every thread of every web worker).

Each callback alone is a transaction, and every transaction that appends holds the event store's append lock through
its commit: on a disk where a commit takes 4 ms, that caps a process at ~250 callbacks/s whatever the threads. Here
the requests waiting meanwhile are recorded together: the first thread to arrive leads, records every callback
queued by then in one transaction (`message_statuses_record`), hands each thread its own result, and passes the lead
to the next waiting thread. No request is answered before its callback is committed, nothing waits on a timer, and
a batch that fails is retried one callback at a time, so one bad callback fails only its own request.
"""

import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from .status import StatusCallbackData, StatusResult, UnknownMessage, message_statuses_record


@dataclass
class _Slot:
    callback: StatusCallbackData
    source: str
    done: threading.Event = field(default_factory=threading.Event)
    outcome: StatusResult | UnknownMessage | None = None
    error: BaseException | None = None
    leads: bool = False


class _Group:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._leading = False

    def record(self, callback: StatusCallbackData, source: str) -> StatusResult:
        slot = _Slot(callback, source)
        with self._lock:
            self._pending.append(slot)
            slot.leads = not self._leading
            self._leading = True
        if not slot.leads:
            slot.done.wait()
        if slot.leads and slot.outcome is None and slot.error is None:
            self._lead()
        if slot.error is not None:
            raise slot.error
        if isinstance(slot.outcome, UnknownMessage):
            raise slot.outcome
        if slot.outcome is None:  # _record gives every slot of its batch an outcome or an error
            raise RuntimeError("a grouped status callback was left without an outcome")
        return slot.outcome

    def _lead(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        _record(batch)
        with self._lock:
            if self._pending:
                successor = self._pending[0]
                successor.leads = True
            else:
                successor = None
                self._leading = False
        for slot in batch:
            slot.done.set()
        if successor is not None:
            successor.done.set()  # it wakes as the leader of what queued meanwhile


def _record(batch: list[_Slot]) -> None:
    by_source: dict[str, list[_Slot]] = {}
    for slot in batch:
        by_source.setdefault(slot.source, []).append(slot)
    for source, slots in by_source.items():
        try:
            results = message_statuses_record(callbacks=[s.callback for s in slots], source=source, keep_unmatched=True)
        except DatabaseError as exc:
            # The database failed (a lock timeout, a lost connection), not a callback: retrying each would wait as
            # long again per callback. Every request of the batch fails (5xx) and the provider retries it.
            for slot in slots:
                slot.error = exc
            continue
        except Exception:  # noqa: BLE001 - one at a time, so only the culprit's request fails
            for slot in slots:
                try:
                    (slot.outcome,) = message_statuses_record(
                        callbacks=[slot.callback], source=source, keep_unmatched=True
                    )
                except Exception as exc:  # noqa: BLE001 - handed to that request's thread, raised there
                    slot.error = exc
            continue
        for slot, result in zip(slots, results, strict=True):
            slot.outcome = result


_group = _Group()


def message_status_record_grouped(*, source: str, **fields: Any) -> StatusResult:
    """`message_status_record`, committed together with the other callbacks this process is receiving now. For the
    provider doors only: a callback about no message of ours is kept for a retry (services.unmatched)."""
    return _group.record(StatusCallbackData(**fields), source)
