"""Projections: read models derived from the log, and the machinery that keeps them up to date.

A projection is a class with a unique `name`, the models it owns, and handlers for event types, named by their
EventData classes:

    class CustomerDirectory(Projection):
        name = "customers.directory"
        mode = INLINE
        models = (Customer, CustomerIdentifier)

        @handles(CustomerRegistered)
        def registered(self, event): ...

or, to write many events at once, `event_types = (...)` and an overridden `apply(events)`. A class cannot be
misspelt; a type name string is there for the events of a higher layer, which an app reacts to without importing
them (customers' projection of orders), and for ALL_TYPES: `manage.py check` (so CI) refuses a string no EventData
declares (check_event_types).

INLINE projections run inside the append's transaction, so they are never behind the log, and an event they
cannot apply is refused with the append: only those that commands read back or that guard an invariant are inline.
ASYNC projections run after commit from a catch-up reader that keeps a checkpoint (ProjectionCheckpoint: the
(transaction_id, position) of the last event applied) and reads on from it with store.read_committed, which never
returns an event before one that is still to commit (appends run in parallel on PostgreSQL: see
backends/postgres.py). Either kind can be rebuilt: its models
are emptied and every event is replayed. Handlers are keyed by type name once the class is declared.

An event an asynchronous projection (or a rebuild) cannot apply is set aside as a ProjectionFailure and the reader
goes on: one bad event must never stop a read model for everybody. Its writes are rolled back to a savepoint, the
failure is visible in the admin, and `failure_retry` applies it again once the cause is fixed.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.db import DatabaseError, transaction
from django.db.models import F, Model
from django.utils import timezone

from backoffice.process import collector_paused

from .locks import appends_locked_out
from .models import ProjectionCheckpoint, ProjectionFailure
from .schema import EventData, is_known_type

if TYPE_CHECKING:
    from .store import RecordedEvent

INLINE: Final = "inline"
ASYNC: Final = "async"
ALL_TYPES: Final = "*"

_projections: dict[str, "Projection"] = {}
logger = logging.getLogger(__name__)
# Events per rebuild batch, and per catch-up batch unless EVENTSTORE_CATCH_UP_BATCH (settings) says otherwise: each
# batch costs a few statements per projection and table whatever its size, so large batches spread them thin (10,000:
# 25% less CPU per event than 2,000 in benchmarks/projections.py); a catch-up batch is one transaction holding its
# projections' leases for about a second.
REBUILD_BATCH: Final = 10_000
# The longest error text kept with a failure: the class and message are what staff need, not a novel.
_ERROR_CHARS: Final = 2000


# An event type as a projection names it: its EventData class, or its type name (a higher layer's event, ALL_TYPES).
EventType = type[EventData] | str
Handler = TypeVar("Handler", bound=Callable[..., Any])


def type_names(*types: EventType) -> tuple[str, ...]:
    """The type names of these event types (a class's declared `type_name`; a string as it is)."""
    names = []
    for event_type in types:
        if isinstance(event_type, str):
            names.append(event_type)
        elif event_type.__dict__.get("type_name"):
            names.append(event_type.type_name)
        else:
            raise TypeError(f"{event_type.__qualname__} declares no type_name: it is not an event type")
    return tuple(names)


def handles(*types: EventType) -> Callable[[Handler], Handler]:
    """Mark a method as the handler of these event types (ALL_TYPES for every type)."""
    names = type_names(*types)

    def mark(method: Handler) -> Handler:
        method._handles = names  # type: ignore[attr-defined]  # read back by Projection.__init_subclass__
        return method

    return mark


class Projection:
    name: ClassVar[str] = ""
    mode: ClassVar[str] = INLINE
    # The tables this projection alone writes: emptied before a rebuild, children before parents.
    models: ClassVar[tuple[type[Model], ...]] = ()
    # Tables of other projections whose rows this one writes columns of (counters on the customers' rows): when the
    # owner's rows are emptied and written again, this projection is rebuilt with it, or its columns stay blank.
    writes: ClassVar[tuple[type[Model], ...]] = ()
    # Types handled by an overridden apply() that batches them, rather than by @handles methods.
    event_types: ClassVar[tuple[EventType, ...]] = ()
    _handlers: ClassVar[dict[str, str]]
    _wanted: ClassVar[frozenset[str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for type_name in getattr(value, "_handles", ()):
                    cls._handlers[type_name] = attr
        cls._wanted = frozenset(cls._handlers) | frozenset(type_names(*cls.event_types))
        if cls.name:
            if cls.name in _projections and type(_projections[cls.name]).__qualname__ != cls.__qualname__:
                raise ValueError(f"projection {cls.name!r} is declared twice")
            _projections[cls.name] = cls()

    def wants(self, type_name: str) -> bool:
        return type_name in self._wanted or ALL_TYPES in self._wanted

    @classmethod
    def unknown_types(cls) -> list[str]:
        """The type names this projection handles that no EventData declares (a typo, or an event type removed)."""
        return sorted(name for name in cls._wanted if name != ALL_TYPES and not is_known_type(name))

    def apply(self, events: Sequence["RecordedEvent"]) -> None:
        """Apply events in order. Override to batch the writes of many events at once."""
        for event in events:
            attr = self._handlers.get(event.type) or self._handlers.get(ALL_TYPES)
            if attr is not None:
                getattr(self, attr)(event)

    def reset(self) -> None:
        for model in self.models:
            model._base_manager.all().delete()

    def retry(self, event: "RecordedEvent", passed: Sequence["RecordedEvent"]) -> None:
        """Apply an event that failed, out of order (failure_retry). `passed`: the later events of its stream this
        projection has read since, in order, for a projection whose handling of them depended on this one (an order
        cancelled before its placement was applied); the others upsert by key or add, and apply the event alone."""
        self.apply([event])


def projection(name: str) -> Projection:
    return _projections[name]


def check_event_types(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check (registered by the app): every type a projection handles is declared by an EventData class, so
    a misspelt type name fails `manage.py check` instead of leaving a read model silently behind."""
    return [
        Error(
            f"projection {proj.name} handles event types no EventData declares: {', '.join(proj.unknown_types())}",
            hint="Name the event by its EventData class, or fix the type name.",
            obj=type(proj),
            id="eventstore.E001",
        )
        for proj in _projections.values()
        if proj.unknown_types()
    ]


def registered_projections(mode: str | None = None) -> list[Projection]:
    return [p for p in _projections.values() if mode is None or p.mode == mode]


def lanes() -> list[list[str]]:
    """The asynchronous projections grouped as settings.EVENTSTORE_PROJECTION_LANES says: each lane is caught up
    by one task with one shared read of the log, and lanes run in parallel on several workers. Projections no lane
    names form one more lane (all of them when the setting is empty: one read for everything)."""
    from django.conf import settings

    names = [proj.name for proj in registered_projections(ASYNC)]
    configured = [
        [name for name in lane if name in names] for lane in getattr(settings, "EVENTSTORE_PROJECTION_LANES", [])
    ]
    configured = [lane for lane in configured if lane]
    named = {name for lane in configured for name in lane}
    rest = [name for name in names if name not in named]
    return [*configured, rest] if rest else configured


def apply_inline(events: Sequence["RecordedEvent"]) -> None:
    # Asked per type, not per event: a batch of 100 events of one type asks each projection once.
    types = {event.type for event in events}
    for proj in registered_projections(INLINE):
        wanted_types = {type_name for type_name in types if proj.wants(type_name)}
        if wanted_types:
            proj.apply(events if wanted_types == types else [event for event in events if event.type in wanted_types])


def inline_wants_any(types: Iterable[str]) -> bool:
    """Whether an inline projection handles any of these event types: an append of none of them writes nothing
    besides the events, so it may commit on its own (store.append_batches)."""
    types = set(types)
    return any(proj.wants(type_name) for proj in registered_projections(INLINE) for type_name in types)


def catch_up(name: str, *, batch_size: int | None = None, max_batches: int | None = None) -> int:
    """Apply the events an asynchronous projection has not seen yet. Returns how many events were read.

    Each batch is applied and its checkpoint moved in one transaction, so a crash loses no event and applies
    none twice. Two workers never run the same projection at once: the checkpoint row is locked, and a worker
    that finds it taken leaves the work to the holder.
    """
    batch_size = batch_size or settings.EVENTSTORE_CATCH_UP_BATCH
    return _catch_up_together([name], batch_size=batch_size, max_batches=max_batches)[name]


def catch_up_all(
    names: Iterable[str] | None = None, *, batch_size: int | None = None, max_batches: int | None = None
) -> dict[str, int]:
    """Every asynchronous projection (or those named), sharing one read of the log: each batch is read and decoded
    once and handed to every projection that wants some of it, and every checkpoint moves in that batch's
    transaction. Returns how many events each projection read.

    The checkpoint rows are the leases: each batch locks the free ones (`skip_locked`), so several workers may run
    this at once, each on the projections no other holds, and none applies an event twice. A run that cannot go on
    together (a database error outside any event) goes on one projection at a time, so one that cannot read at all
    is logged and left for the next run, never in the way of the others."""
    batch_size = batch_size or settings.EVENTSTORE_CATCH_UP_BATCH
    chosen = [proj.name for proj in registered_projections(ASYNC)] if names is None else list(names)
    # A task may name a projection this process does not have (sent by a newer release, or by a process with a
    # projection of its own): the others of its lane still catch up, instead of the whole task failing.
    unknown = [name for name in chosen if name not in _projections]
    if unknown:
        logger.warning("no such projection here, left out of the catch-up: %s", ", ".join(unknown))
        chosen = [name for name in chosen if name in _projections]
    done = dict.fromkeys(chosen, 0)
    try:
        _catch_up_together(chosen, batch_size=batch_size, max_batches=max_batches, done=done)
    except DatabaseError as exc:
        logger.warning("projections %s could not catch up together: %s", ", ".join(chosen), type(exc).__name__)
        for name in chosen:
            try:
                _catch_up_together([name], batch_size=batch_size, max_batches=max_batches, done=done)
            except DatabaseError as exc:
                logger.error("projection %s could not catch up: %s", name, type(exc).__name__)
    return done


def _read_batch(after: tuple[int, int], limit: int) -> list["RecordedEvent"]:
    """The one read of the log behind every catch-up: the events a reader at checkpoint `after` (transaction id,
    position) has not seen, in the store's commit order, so one committed late by a parallel writer is never
    skipped (store.read_committed)."""
    from .store import read_committed

    return read_committed(after=after, limit=limit)


def _catch_up_together(
    names: Sequence[str], *, batch_size: int, max_batches: int | None, done: dict[str, int] | None = None
) -> dict[str, int]:
    done = done if done is not None else dict.fromkeys(names, 0)
    chosen = {name: _projections[name] for name in names}
    if not chosen:
        return done
    ProjectionCheckpoint.objects.bulk_create(
        [ProjectionCheckpoint(name=name) for name in chosen], ignore_conflicts=True
    )
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic(), collector_paused():
            # The leases: rows another worker holds are skipped, and stay its own until its batch commits.
            held = list(
                ProjectionCheckpoint.objects.select_for_update(skip_locked=True)
                .filter(name__in=list(chosen))
                .order_by("name")
            )
            if not held:
                return done
            events = _read_batch(min(_mark(checkpoint) for checkpoint in held), batch_size)
            if not events:
                return done
            end, now, moved = (events[-1].transaction_id, events[-1].position), timezone.now(), []
            start = (events[0].transaction_id, events[0].position)
            types = {event.type for event in events}
            for checkpoint in held:
                mark = _mark(checkpoint)
                if mark >= end:
                    continue  # ahead of this batch (it caught up alone): nothing here is new to it
                proj = chosen[checkpoint.name]
                unseen = (
                    events
                    if mark < start
                    else [event for event in events if (event.transaction_id, event.position) > mark]
                )
                # Filtered by type before anything is applied: a projection sees only the events it handles.
                wanted = {type_name for type_name in types if proj.wants(type_name)}
                apply_isolated(proj, unseen if wanted == types else [e for e in unseen if e.type in wanted])
                done[checkpoint.name] += len(unseen)
                (checkpoint.transaction_id, checkpoint.position), checkpoint.updated_at = end, now
                moved.append(checkpoint)
            ProjectionCheckpoint.objects.bulk_update(moved, ["transaction_id", "position", "updated_at"])
        batches += 1
    return done


def _mark(checkpoint: ProjectionCheckpoint) -> tuple[int, int]:
    return (checkpoint.transaction_id, checkpoint.position)


def apply_isolated(proj: Projection, events: Sequence["RecordedEvent"]) -> int:
    """Apply events to a projection inside the caller's transaction; an event that fails is recorded as a
    ProjectionFailure and skipped, with every write it made rolled back. Returns how many failed.

    The batch is tried whole first (the batched writes are the fast path); only when it fails is it applied again
    one event at a time, each in a savepoint of its own, to find the bad ones.
    """
    if not events:
        return 0
    try:
        with transaction.atomic():
            proj.apply(events)
    except Exception:  # any handler bug is contained: found and recorded below, event by event
        logger.warning("projection %s: a batch of %d events failed, applying them one by one", proj.name, len(events))
    else:
        return 0
    failed = 0
    for event in events:
        try:
            with transaction.atomic():
                proj.apply([event])
        except Exception as exc:  # recorded as a failure with its class and message
            failed += 1
            _record_failure(proj.name, event, exc)
    return failed


def _record_failure(name: str, event: "RecordedEvent", exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    # Ids and names only: the event's data and the message may hold personal fields, the log must not.
    logger.error("projection %s failed on event #%s (%s): %s", name, event.position, event.type, type(exc).__name__)
    updated = ProjectionFailure.objects.filter(projection=name, position=event.position).update(
        error=error, attempts=F("attempts") + 1, resolved_at=None, last_attempt_at=timezone.now()
    )
    if not updated:
        ProjectionFailure.objects.create(
            projection=name,
            position=event.position,
            event_id=event.id,
            event_type=event.type,
            stream=event.stream,
            error=error,
        )


def failure_retry(*, failure_id: int) -> bool:
    """Apply a failed event to its projection again (after the cause was fixed). True when it went through, and the
    failure is marked resolved; False when it failed again (the failure keeps the new error and one more attempt).

    The event is applied out of order, after the events the projection read since: right for most projections here,
    whose handlers upsert by key or add to counters; one whose handling of its stream's later events depended on it
    gets those too (Projection.retry). `rebuild_projections NAME` replays the whole history in order. The
    projection's checkpoint row is held meanwhile, as a catch-up holds it: no catch-up applies it at the same time.
    """
    from .store import read_positions, read_stream

    with transaction.atomic():
        failure = ProjectionFailure.objects.select_for_update().get(pk=failure_id)
        if failure.resolved_at is not None:
            return True
        proj = _projections[failure.projection]
        ProjectionCheckpoint.objects.get_or_create(name=proj.name)
        checkpoint = ProjectionCheckpoint.objects.select_for_update().get(name=proj.name)
        read_to = (checkpoint.transaction_id, checkpoint.position)
        event = next(iter(read_positions([failure.position])))
        # Set aside on their own (a failure each): retried on their own, not here as well.
        pending = set(
            ProjectionFailure.objects.filter(projection=proj.name, resolved_at__isnull=True).values_list(
                "position", flat=True
            )
        )
        passed = [
            later
            for later in read_stream(event.stream, after_version=event.version)
            if proj.wants(later.type)
            and (later.transaction_id, later.position) <= read_to
            and later.position not in pending
        ]
        try:
            with transaction.atomic():
                proj.retry(event, passed)
        except Exception as exc:  # recorded as a failure with its class and message
            _record_failure(proj.name, event, exc)
            return False
        failure.resolved_at = timezone.now()
        failure.save(update_fields=["resolved_at", "last_attempt_at"])
        # The projection's tables changed without its checkpoint moving: its stamp says so to what caches by it.
        checkpoint.save(update_fields=["updated_at"])
        return True


def rebuild(
    names: Iterable[str] | None = None,
    *,
    batch_size: int = REBUILD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Empty the projections' tables and replay the log through them, in one transaction.

    Inline projections are written by every append: while they are rebuilt no append runs (appends_locked_out), and
    with none half done the whole log is visible, read in position order. Asynchronous projections are written only
    by their catch-up reader: their checkpoint rows stay locked (a catch-up meanwhile leaves them alone), appends go
    on, and the replay reads what read_committed offers, up to the transaction-id high-water mark; the checkpoint
    keeps where it stopped, and the next catch-up applies what committed since.

    `progress(done, total)` is called after every batch: events read so far, of about how many in all (the log's
    events once per pass: one pass for the inline projections, one for the asynchronous ones)."""
    from .store import count_committed, read_all, read_committed

    # A name given twice is one projection: replayed twice, its counters would double.
    chosen = _with_sharers([_projections[n] for n in dict.fromkeys(names)] if names else registered_projections())
    inline = [proj for proj in chosen if proj.mode == INLINE]
    asynchronous = [proj for proj in chosen if proj.mode != INLINE]
    replayed: dict[str, int] = defaultdict(int)

    def replay(projections: list[Projection], events: Sequence["RecordedEvent"]) -> None:
        with collector_paused():
            for proj in projections:
                wanted = [event for event in events if proj.wants(event.type)]
                if wanted:
                    apply_isolated(proj, wanted)
                    replayed[proj.name] += len(wanted)

    with transaction.atomic():
        if inline:
            appends_locked_out()
        # Every asynchronous projection's lease, not only the chosen ones': no catch-up writes read models (some
        # share tables with those being emptied, e.g. customers) until the rebuild commits.
        async_names = sorted(proj.name for proj in registered_projections(ASYNC))
        ProjectionCheckpoint.objects.bulk_create(
            [ProjectionCheckpoint(name=name) for name in async_names], ignore_conflicts=True
        )
        held = list(ProjectionCheckpoint.objects.select_for_update().filter(name__in=async_names).order_by("name"))
        checkpoints = [checkpoint for checkpoint in held if checkpoint.name in {proj.name for proj in asynchronous}]
        for proj in chosen:
            proj.reset()
        ProjectionFailure.objects.filter(projection__in=[proj.name for proj in chosen]).delete()
        total = sum(count_committed()[0].values()) * (bool(inline) + bool(asynchronous)) if progress else 0
        done = 0
        position = 0
        while inline:
            events = read_all(after=position, limit=batch_size)
            if not events:
                break
            replay(inline, events)
            position = events[-1].position
            done += len(events)
            if progress:
                progress(done, max(total, done))
        last = (0, 0)
        while asynchronous:
            events = read_committed(after=last, limit=batch_size)
            if not events:
                break
            replay(asynchronous, events)
            last = (events[-1].transaction_id, events[-1].position)
            done += len(events)
            if progress:
                progress(done, max(total, done))
        for checkpoint in checkpoints:
            checkpoint.transaction_id, checkpoint.position = last
            checkpoint.save(update_fields=["transaction_id", "position", "updated_at"])
    return {proj.name: replayed[proj.name] for proj in chosen}


def _with_sharers(chosen: list[Projection]) -> list[Projection]:
    """The projections to rebuild, and every projection that writes columns of a table one of them empties (and so
    on): emptied and written again by its owner, the table would otherwise lose their columns for good, since their
    checkpoints stay where they are."""
    chosen = list(chosen)
    while True:
        emptied = {model for proj in chosen for model in proj.models}
        sharers = [proj for proj in registered_projections() if proj not in chosen and emptied & set(proj.writes)]
        if not sharers:
            return chosen
        chosen += sharers


# Past this many events behind, the admin says "more than" (the count itself is exact).
LAG_COUNT_LIMIT: Final = 100_000


def lag(name: str) -> int:
    """How many events of the log the projection has not read yet: those after its checkpoint in the store's commit
    order (a position-only count would call a projection behind when a lower position committed last)."""
    checkpoint = ProjectionCheckpoint.objects.filter(name=name).values_list("transaction_id", "position").first()
    return events_after(checkpoint or (0, 0))


def events_after(checkpoint: tuple[int, int]) -> int:
    """How many committed events sort after this checkpoint (transaction id, position)."""
    from .store import count_committed

    counts, _ = count_committed(after=checkpoint)
    return sum(counts.values())
