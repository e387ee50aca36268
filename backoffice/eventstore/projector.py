"""Projections: read models derived from the log, and the machinery that keeps them up to date.

A projection is a class with a unique `name`, the models it owns, and handlers for event types by name:

    class CustomerDirectory(Projection):
        name = "customers.directory"
        mode = INLINE
        models = (Customer, CustomerIdentifier)

        @handles("customer.registered")
        def registered(self, event): ...

or, to write many events at once, `event_types = (...)` and an overridden `apply(events)`.

INLINE projections run inside the append's transaction, so they are never behind the log. ASYNC projections run
after commit from a catch-up reader that keeps a checkpoint (ProjectionCheckpoint) and reads `position >
checkpoint` in order. Either kind can be rebuilt: its models are emptied and every event is replayed.
Handlers are keyed by type name, so an app reacts to a higher layer's events without importing it.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

from django.db import connection, transaction
from django.db.models import Model

from .locks import take_append_lock
from .models import ProjectionCheckpoint

if TYPE_CHECKING:
    from .store import RecordedEvent

INLINE: Final = "inline"
ASYNC: Final = "async"
ALL_TYPES: Final = "*"

_projections: dict[str, "Projection"] = {}


def handles(*type_names: str) -> Callable:
    """Mark a method as the handler of these event types (`*` for every type)."""

    def mark(method: Callable) -> Callable:
        method._handles = type_names  # type: ignore[attr-defined]
        return method

    return mark


class Projection:
    name: ClassVar[str] = ""
    mode: ClassVar[str] = INLINE
    # The tables this projection alone writes: emptied before a rebuild, children before parents.
    models: ClassVar[tuple[type[Model], ...]] = ()
    # Types handled by an overridden apply() that batches them, rather than by @handles methods.
    event_types: ClassVar[tuple[str, ...]] = ()
    _handlers: ClassVar[dict[str, str]]
    _wanted: ClassVar[frozenset[str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for type_name in getattr(value, "_handles", ()):
                    cls._handlers[type_name] = attr
        cls._wanted = frozenset(cls._handlers) | frozenset(cls.event_types)
        if cls.name:
            if cls.name in _projections and type(_projections[cls.name]).__qualname__ != cls.__qualname__:
                raise ValueError(f"projection {cls.name!r} is declared twice")
            _projections[cls.name] = cls()

    def wants(self, type_name: str) -> bool:
        return type_name in self._wanted or ALL_TYPES in self._wanted

    def apply(self, events: Sequence["RecordedEvent"]) -> None:
        """Apply events in order. Override to batch the writes of many events at once."""
        for event in events:
            attr = self._handlers.get(event.type) or self._handlers.get(ALL_TYPES)
            if attr is not None:
                getattr(self, attr)(event)

    def reset(self) -> None:
        for model in self.models:
            model._base_manager.all().delete()


def projection(name: str) -> Projection:
    return _projections[name]


def registered_projections(mode: str | None = None) -> list[Projection]:
    return [p for p in _projections.values() if mode is None or p.mode == mode]


def apply_inline(events: Sequence["RecordedEvent"]) -> None:
    for proj in registered_projections(INLINE):
        wanted = [event for event in events if proj.wants(event.type)]
        if wanted:
            proj.apply(wanted)


def catch_up(name: str, *, batch_size: int = 2000, max_batches: int | None = None) -> int:
    """Apply the events an asynchronous projection has not seen yet. Returns how many events were read.

    Each batch is applied and its checkpoint moved in one transaction, so a crash loses no event and applies
    none twice. Two workers never run the same projection at once: the checkpoint row is locked, and a worker
    that finds it taken leaves the work to the holder.
    """
    from .store import read_all

    proj = _projections[name]
    ProjectionCheckpoint.objects.get_or_create(name=name)
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            locked = ProjectionCheckpoint.objects.select_for_update(skip_locked=True).filter(name=name)
            checkpoint = locked.first()
            if checkpoint is None:
                return total
            events = read_all(after=checkpoint.position, limit=batch_size)
            if not events:
                return total
            proj.apply([event for event in events if proj.wants(event.type)])
            checkpoint.position = events[-1].position
            checkpoint.save(update_fields=["position", "updated_at"])
        total += len(events)
        batches += 1
    return total


def catch_up_all(**kwargs: Any) -> dict[str, int]:
    return {proj.name: catch_up(proj.name, **kwargs) for proj in registered_projections(ASYNC)}


def rebuild(names: Iterable[str] | None = None, *, batch_size: int = 5000) -> dict[str, int]:
    """Empty the projections' tables and replay the whole log through them. Appends wait meanwhile."""
    from .store import read_all

    chosen = [_projections[n] for n in names] if names else registered_projections()
    replayed: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        take_append_lock()
        for proj in chosen:
            proj.reset()
        position = 0
        while True:
            events = read_all(after=position, limit=batch_size)
            if not events:
                break
            for proj in chosen:
                wanted = [event for event in events if proj.wants(event.type)]
                if wanted:
                    proj.apply(wanted)
                    replayed[proj.name] += len(wanted)
            position = events[-1].position
        for proj in chosen:
            ProjectionCheckpoint.objects.update_or_create(name=proj.name, defaults={"position": position})
    return {proj.name: replayed[proj.name] for proj in chosen}


def lag(name: str) -> int:
    """How many positions the projection is behind the head of the log."""
    checkpoint = ProjectionCheckpoint.objects.filter(name=name).values_list("position", flat=True).first() or 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(position), 0) FROM eventstore_event")
        return cursor.fetchone()[0] - checkpoint
