"""Batched writes of read models for projections: one statement per batch and table, the merge done by the database.

A projection that adds to a counter, keeps a latest time or gathers the channels used would otherwise read the rows a
batch touches, compute the new values and write every column back through the ORM (`bulk_create(update_conflicts=
...)` prepares each field of each object: most of a catch-up's time). Here the projection hands over one tuple per row
and says how each column merges into the stored value (backends.MERGES: add, max, min, union, replace); the
recorder of the database (backends/postgres.py, backends/sqlite.py) writes them in one statement. Values are prepared
by their model fields, as Django prepares them for this database.

Read-then-write is gone, so nothing here depends on being the only writer; the projections' leases still keep one
catch-up per projection, so no batch is applied twice.
"""

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any, ClassVar

import orjson
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DecimalField, Field, JSONField, Model
from django.db.utils import DEFAULT_DB_ALIAS

from .backends import MERGES, Upsert, recorder


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _decimal(value: Any) -> Decimal | None:
    return value if value is None or isinstance(value, Decimal) else Decimal(str(value))


def _prepared(field: "Field[Any, Any]", connection: BaseDatabaseWrapper, value: Any) -> Any:
    return None if value is None else field.get_db_prep_save(value, connection)


def _column(model: type[Model], name: str) -> tuple["Field[Any, Any]", str]:
    """The field and column name of an attribute of `model` (a reverse relation or generic key has no column)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field, field.column


def _column_type(field: "Field[Any, Any]", connection: BaseDatabaseWrapper) -> str:
    db_type = field.db_type(connection)
    if db_type is None:
        raise ValueError(f"{field.model.__name__}.{field.name} has no column type")
    return db_type


def upsert(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    *,
    key: Sequence[str],
    merge: dict[str, str],
    update_only: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Write rows of `model` (one value per name of `fields`, attribute names) in one statement: a row whose `key`
    is stored already has each field of `merge` merged into it as named (`{"count": "add"}`), the rest kept.
    `update_only`: only rows already stored are written (the model has columns without a default this does not
    name)."""
    unknown = set(merge.values()) - set(MERGES)
    if unknown:
        raise ValueError(f"no such merge: {', '.join(sorted(unknown))}")
    connection = connections[using]
    meta = model._meta
    columns = [_column(model, name) for name in fields]
    plan = [field for field, _ in columns]
    quote = connection.ops.quote_name
    column = {name: quote(column_name) for name, (_, column_name) in zip(fields, columns, strict=True)}
    writer = recorder(using)
    # The PostgreSQL driver adapts Python's values itself (str, int, Decimal, date, aware datetime, UUID); SQLite
    # needs Django's preparation of each (UUIDs as hex, times and decimals as text). JSON travels as text on both.
    # A column's values travel as one array, whose type psycopg takes from one of them: a default of 0 among
    # Decimals is made a Decimal too.
    prepare: list[Callable[[Any], Any] | None] = [
        _json_text
        if isinstance(field, JSONField)
        else (_decimal if isinstance(field, DecimalField) else None)
        if writer.takes_python_values
        else partial(_prepared, field, connection)
        for field in plan
    ]
    values = [list(column) for column in zip(*rows, strict=True)]
    if not values:
        return
    for number, how in enumerate(prepare):
        if how is not None:
            values[number] = [how(value) for value in values[number]]
    writer.upsert_rows(
        Upsert(
            table=quote(meta.db_table),
            columns=tuple(
                (column[name], _column_type(field, connection)) for name, field in zip(fields, plan, strict=True)
            ),
            key=tuple(column[name] for name in key),
            merge={column[name]: how for name, how in merge.items()},
            update_only=update_only,
        ),
        values,
    )


def insert(model: type[Model], rows: Sequence[dict[str, Any]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert new rows of `model` ({attribute name: value}) in one statement (PostgreSQL; one executemany inside
    SQLite's library): a row that breaks a unique constraint raises IntegrityError, as an INSERT does. A field no row
    names takes its default; a nullable one without a default is left NULL. What an inline projection that registers
    many rows at once needs: an executemany sent each row to PostgreSQL as a statement of its own (ingestion's
    customers and identifiers, 28,000 statements per 20,000 items)."""
    if not rows:
        return
    named = {name for row in rows for name in row}
    plan = [
        (field.attname, field.get_default)
        for field in model._meta.concrete_fields
        if field.attname in named or (field is not model._meta.auto_field and (field.has_default() or not field.null))
    ]
    names = [name for name, _ in plan]
    filled = (tuple(row[name] if name in row else default() for name, default in plan) for row in rows)
    upsert(model, names, filled, key=(), merge={}, using=using)


class Row:
    """A read model's row as a projection's batch works on it: the model's columns (`COLUMNS`, attribute names) as
    plain slotted attributes, with no model instance per row (building thousands of those was a good part of a
    batch's CPU). Read with `values_list(*COLUMNS)` and `Row(*values)`, written with `upsert(model, COLUMNS, ...)`
    of each row's `values()`. A subclass names its columns in both `COLUMNS` and `__slots__`."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    _column_set: ClassVar[frozenset[str]] = frozenset()
    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._column_set = frozenset(cls.COLUMNS)

    def __init__(self, *values: Any, **named: Any) -> None:
        # Positional values come in COLUMNS order, as values_list reads them. A row built from an event names every
        # column, so it does not depend on the order of the model's fields.
        if named:
            # A keys view compares with a set without building one: a row per order placed, this is a batch's hot path.
            if values or named.keys() != self._column_set:
                raise TypeError(f"{type(self).__name__} takes every column by name: {', '.join(self.COLUMNS)}")
            values = tuple(map(named.__getitem__, self.COLUMNS))
        for name, value in zip(self.COLUMNS, values, strict=True):
            setattr(self, name, value)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.COLUMNS)


def upsert_objects(
    objects: Sequence[Model],
    *,
    key: Sequence[str],
    merge: dict[str, str] | None = None,
    fields: Sequence[str] | None = None,
    update_only: bool = False,
) -> None:
    """upsert() of model instances of one model: `fields` (attribute names; every concrete field but an automatic
    primary key when not given) read from each. Without `merge`, a row already stored is left as it is (what
    bulk_create(ignore_conflicts=True) does, without compiling every value through the ORM)."""
    if not objects:
        return
    model = type(objects[0])
    names = list(fields or (f.attname for f in model._meta.concrete_fields if f is not model._meta.auto_field))
    upsert(
        model,
        names,
        map(attrgetter(*names), objects) if len(names) > 1 else ((getattr(obj, names[0]),) for obj in objects),
        key=key,
        merge=merge or {},
        update_only=update_only,
    )
