"""Prometheus metrics.

Two kinds, for two reasons:
- **Request latency per view** is only known inside the process that served the request. It is a prometheus_client
  Histogram; under gunicorn (several worker processes) it runs in prometheus_client's multiprocess mode
  (`PROMETHEUS_MULTIPROC_DIR`, set by deploy/gunicorn.conf.py): each worker writes its samples to a memory-mapped
  file and a scrape sums them, whichever worker answers it. Without that variable (runserver, tests) it is kept in
  this process.
- **Everything about the business** (events appended per type and channel, messages sent and failed, the outbox,
  projection lag, dead letters, Celery queues) is read from the database (and Redis) at scrape time by
  `DatabaseCollector`. Those figures are facts of the shared state, so they are right whatever process, worker or
  Celery task wrote them, survive restarts, and need no cross-process bookkeeping. Counters that only grow (events,
  and messages sent or failed, which are `message.sent` / `message.failed` events) are counted from the append-only
  log, incrementally.
"""

import os
import time

from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from backoffice.eventstore.partitioning import partition_months_ahead
from backoffice.messaging import selectors as messaging_selectors
from backoffice.messaging.events import MessageFailed, MessageSent

from . import selectors

_LOCAL = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "backoffice_http_request_duration_seconds",
    "Time to answer an HTTP request, per view (URL name), method and status code.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=_LOCAL,
)


def observe_request(request, status_code: int, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    view = (match.view_name or match.route) if match else "unresolved"
    REQUEST_LATENCY.labels(view=view or "unresolved", method=request.method, status=str(status_code)).observe(seconds)


def is_multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class DatabaseCollector:
    """The business figures, read at scrape time (see the module docstring for why)."""

    def collect(self):
        counts = selectors.events_appended_by_type_and_channel()
        events = CounterMetricFamily(
            "backoffice_events_appended", "Events in the log, per type and channel.", labels=["type", "channel"]
        )
        messages = CounterMetricFamily(
            "backoffice_messages",
            "Outbound messages sent or failed (terminally), per channel.",
            labels=["channel", "outcome"],
        )
        for (type_name, channel), count in sorted(counts.items()):
            events.add_metric([type_name, channel], count)
            if type_name in (MessageSent.type_name, MessageFailed.type_name):
                messages.add_metric([channel, type_name.removeprefix("message.")], count)
        yield events
        yield messages

        depth = GaugeMetricFamily(
            "backoffice_outbox_messages",
            "Outbound messages not sent yet, per channel and status.",
            labels=["channel", "status"],
        )
        for (channel, status), count in sorted(messaging_selectors.outbox_depth_by_channel_and_status().items()):
            depth.add_metric([channel, status], count)
        yield depth
        oldest = messaging_selectors.outbox_oldest_due()
        yield GaugeMetricFamily(
            "backoffice_outbox_oldest_due_age_seconds",
            "How long the oldest message that is due has been waiting to be sent (0 when none is due).",
            value=max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0,
        )

        received, received_oldest = messaging_selectors.received_callbacks_backlog()
        yield GaugeMetricFamily(
            "backoffice_received_callbacks",
            "Provider status callbacks received and answered, not applied yet (the task messaging.callbacks_apply).",
            value=received,
        )
        yield GaugeMetricFamily(
            "backoffice_received_callbacks_oldest_age_seconds",
            "How long the oldest received callback has waited to be applied (0 when none waits).",
            value=max(0.0, time.time() - received_oldest.timestamp()) if received_oldest else 0.0,
        )

        ahead = partition_months_ahead()
        if ahead is not None:
            yield GaugeMetricFamily(
                "backoffice_eventstore_partition_months_ahead",
                "Months from this one whose partition of the log exists (0: appends are refused; beat keeps it at "
                "EVENTSTORE_PARTITIONS_AHEAD + 1).",
                value=ahead,
            )

        lag = GaugeMetricFamily(
            "backoffice_projection_lag_events",
            "Positions an asynchronous projection is behind the head of the log.",
            labels=["projection"],
        )
        for name, behind in sorted(selectors.projection_lag().items()):
            lag.add_metric([name], behind)
        yield lag

        dead = GaugeMetricFamily(
            "backoffice_projection_failures_unresolved",
            "Dead letters: events a projection could not apply, not applied again yet.",
            labels=["projection"],
        )
        for name, count in sorted(selectors.unresolved_projection_failures().items()):
            dead.add_metric([name], count)
        yield dead
        pending = GaugeMetricFamily(
            "backoffice_dead_letters_pending",
            "Dead letters: deliveries set aside (valid but not applicable yet) and not replayed, per app and origin.",
            labels=["app", "origin"],
        )
        for (app, origin), count in sorted(selectors.pending_dead_letters().items()):
            pending.add_metric([app, origin], count)
        yield pending

        queues = GaugeMetricFamily(
            "backoffice_celery_queue_length", "Tasks waiting in a Celery queue on the broker.", labels=["queue"]
        )
        broker_up = GaugeMetricFamily("backoffice_broker_up", "1 when the broker answered this scrape.")
        try:
            lengths = selectors.celery_queue_lengths()
        except Exception:  # noqa: BLE001 - a broker down is a figure of its own, not a failed scrape
            lengths, up = {}, 0
        else:
            up = 1
        if lengths is not None:
            for queue, length in lengths.items():
                queues.add_metric([queue], length)
            broker_up.add_metric([], up)
            yield queues
            yield broker_up


class _LocalCollector:
    def collect(self):
        yield from _LOCAL.collect()


def render() -> bytes:
    """The exposition text of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    if is_multiprocess():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_LocalCollector())
    registry.register(DatabaseCollector())
    return generate_latest(registry)
