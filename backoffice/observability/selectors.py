"""The figures /metrics shows, read from the database at scrape time.

Every figure here is a question about rows every process shares, so any gunicorn worker answers it the same way and
nothing has to be merged between processes. The event counts are the one question that grows with the log: they are
counted once and then only for those appended since, the way a catch-up reader reads them (store.count_committed:
below the transaction-id high-water mark, so an event that commits late is counted, never skipped).
"""

import threading

from django.conf import settings

from backoffice.eventstore import projector, store
from backoffice.eventstore.selectors import event_id_at, projection_checkpoints, unresolved_failures_per_projection

_counts_lock = threading.Lock()
# ((transaction_id, position) of the last event counted, its id, {(type, channel): count}) for this process.
_counted: dict = {"key": (0, 0), "event_id": None, "counts": {}}


def events_appended_by_type_and_channel() -> dict[tuple[str, str], int]:
    """How many events of each (type, channel) the log holds ("" for no channel)."""
    with _counts_lock:
        key, event_id, counts = _counted["key"], _counted["event_id"], dict(_counted["counts"])
        # The log was emptied and refilled (tests, a restored backup): count again from the start.
        if key[1] and event_id_at(key[1]) != event_id:
            key, counts = (0, 0), {}
        fresh, newest = store.count_committed(after=key)
        for name, count in fresh.items():
            counts[name] = counts.get(name, 0) + count
        if newest != key:
            event_id = event_id_at(newest[1])
        _counted.update(key=newest, event_id=event_id, counts=counts)
        return counts


def projection_lag() -> dict[str, int]:
    """Events of the log not read yet, per asynchronous projection (after its checkpoint, in commit order)."""
    checkpoints = projection_checkpoints()
    return {
        p.name: projector.events_after(checkpoints.get(p.name, (0, 0)))
        for p in projector.registered_projections(projector.ASYNC)
    }


def unresolved_projection_failures() -> dict[str, int]:
    """Dead letters: events a projection could not apply and nobody has applied again yet, per projection."""
    names = {p.name: 0 for p in projector.registered_projections()}
    return names | unresolved_failures_per_projection()


def pending_dead_letters() -> dict[tuple[str, str], int]:
    """Dead letters set aside by the apps named in OBSERVABILITY_DEAD_LETTER_COUNTS, per (app, origin)."""
    from django.utils.module_loading import import_string

    counts = {}
    for app, path in settings.OBSERVABILITY_DEAD_LETTER_COUNTS.items():
        for origin, count in import_string(path)().items():
            counts[(app, origin)] = count
    return counts


def celery_queue_lengths() -> dict[str, int] | None:
    """Messages waiting in each Celery queue on a Redis broker (a Redis list per queue); None without one."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(route["queue"])
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return {queue: client.llen(queue) for queue in sorted(queues)}
    finally:
        client.close()
