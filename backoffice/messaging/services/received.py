"""Status callbacks that arrive one per request (Twilio posts one per message and status, by the hundred at once):
stored as received, applied in batches moments later.

Why: applying a status is a transaction of its own (the messages locked, the ledger claimed, the summary moved, the
event appended): about 2 ms of CPU alone, a tenth of that in a batch of hundreds. The door checks the signature and
the fields, `status_callback_receive` commits one row (ReceivedCallback), and the provider gets its 2xx: an accepted
callback is on disk, so it is never lost.

`received_callbacks_apply` (task messaging.callbacks_apply) applies the rows in batches, one transaction each, taken
with SKIP LOCKED so several workers share a backlog, and deletes them in that transaction: a worker that dies leaves
its rows for the next. Exactly once: the ledger (StatusCallback's digest) dedupes a resend whether it arrives before or
after its first copy was applied; a callback about no message of ours yet is kept for a retry (services.unmatched).

When: after its commit a receipt wakes the task, at most once per MESSAGING_CALLBACK_APPLY_DELAY seconds per process
and with that delay as countdown, so the task starts after every receipt whose wake was skipped has committed; beat
sweeps every few seconds for a wake that was lost (a broker outage). With eager Celery (the embedded default, the
tests) the task runs in the request, so the callback is applied before the 2xx, as a single transaction would.
"""

import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from backoffice.celery import task_send, task_send_in

from ..models import ReceivedCallback
from .status import STATUS_EVENTS, StatusCallbackData, message_statuses_record

logger = logging.getLogger(__name__)

APPLY_TASK = "messaging.callbacks_apply"


def status_callback_receive(*, source: str, callback: StatusCallbackData) -> None:
    """Keep one checked callback for `received_callbacks_apply`. Raises ValueError for an unknown status, before
    anything is written."""
    if callback.status not in STATUS_EVENTS:
        raise ValueError(callback.status)
    values = (source[:40], timezone.now(), callback.sealed())
    if settings.CELERY_TASK_ALWAYS_EAGER:
        with transaction.atomic():
            _insert(values)
            task_send(APPLY_TASK)
        return
    # Outside a caller's transaction the INSERT is one in itself, committed (durably) when it returns: no BEGIN and
    # COMMIT round trips, and the row is there or not. Inside one, it commits with it, and so does the wake.
    _insert(values)
    transaction.on_commit(_wake, robust=True)


# One fixed statement, not the ORM's create(): the callbacks' hot path, where compiling the INSERT was a fifth of the
# door's CPU (benchmarks/providers.py); the same text each time lets psycopg prepare it. The id is not read back.
_INSERT = f"INSERT INTO {ReceivedCallback._meta.db_table} (source, received_at, data_encrypted) VALUES (%s, %s, %s)"  # noqa: S608 - our own table name


def _insert(values: tuple[str, datetime, str]) -> None:
    source, received_at, data_encrypted = values
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, (source, connection.ops.adapt_datetimefield_value(received_at), data_encrypted))


_wake_lock = threading.Lock()
_next_wake = 0.0


def _wake() -> None:
    global _next_wake  # noqa: PLW0603 - one schedule per process, shared by its threads
    delay = settings.MESSAGING_CALLBACK_APPLY_DELAY
    now = time.monotonic()
    with _wake_lock:
        if now < _next_wake:
            return  # a task already due after this commit will see the row
        _next_wake = now + delay
    try:
        task_send_in(delay, APPLY_TASK)
    except Exception:
        with _wake_lock:
            _next_wake = 0.0  # the next receipt tries again; beat sweeps meanwhile
        raise


def received_callbacks_apply(*, batch_size: int | None = None, max_seconds: float | None = None) -> int:
    """Apply the received callbacks, oldest first, until none is left (or `max_seconds`). Returns how many."""
    batch_size = batch_size or settings.MESSAGING_CALLBACK_BATCH
    deadline = time.monotonic() + max_seconds if max_seconds else None
    applied = 0
    while True:
        with transaction.atomic():
            rows = list(ReceivedCallback.objects.select_for_update(skip_locked=True).order_by("id")[:batch_size])
            if not rows:
                return applied
            done = _apply(rows)
            ReceivedCallback.objects.filter(id__in=done).delete()
        applied += len(done)
        if len(rows) < batch_size or len(done) < len(rows) or (deadline and time.monotonic() > deadline):
            return applied


def _apply(rows: list[ReceivedCallback]) -> list[int]:
    """Record the rows' callbacks (one statement set per source); return the ids of the rows applied. A batch that
    fails on something other than the database is applied one row at a time, so one bad row stays alone (logged,
    kept for the next run) and the others go through."""
    by_source: dict[str, list[ReceivedCallback]] = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)
    done: list[int] = []
    for source, group in by_source.items():
        try:
            with transaction.atomic():
                _record(source, group)
            done += [row.id for row in group]
        except DatabaseError:
            raise  # the database failed, not a callback: the whole run stops and is retried
        except Exception:  # noqa: BLE001 - one at a time, so only the culprit stays
            for row in group:
                try:
                    with transaction.atomic():
                        _record(source, [row])
                    done.append(row.id)
                except DatabaseError:
                    raise
                except Exception as exc:  # noqa: BLE001 - kept and logged, without its content (personal)
                    logger.error("received callback %s from %s not applied: %s", row.id, source, type(exc).__name__)
    return done


def _record(source: str, rows: list[ReceivedCallback]) -> None:
    callbacks = [StatusCallbackData.unsealed(row.data_encrypted) for row in rows]
    message_statuses_record(callbacks=callbacks, source=source, keep_unmatched=True)
