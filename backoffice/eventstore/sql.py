"""Statements on the hot paths of every layer, bound by the server (PostgreSQL only).

Django's PostgreSQL cursors bind on the client: every parameter, and every element of an array parameter, is quoted
into the statement text in Python, and a statement whose text changes with the batch (a VALUES or IN list) is split
and quoted whole each time. A batch written or read with array parameters (`= ANY(%s)`, `unnest(%s::uuid[], ...)`)
keeps one statement text, which the driver prepares once. Write the placeholders `%b`: values go in binary, which
for an array of 500 elements is several times cheaper than its text form (no quoting of each element).
"""

from typing import TYPE_CHECKING, Any

import psycopg
from django.db import connection
from django.db.models import Lookup

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Field


def execute_pg(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run one statement in the connection's current transaction; its rows (read in binary), if it returns any.
    Database errors are Django's (IntegrityError...), as from a Django cursor."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall() if cursor.description else []


def copy_rows(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into a table (PostgreSQL): several times cheaper than an INSERT of the same rows built by the ORM."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in columns)
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


class AnyOf(Lookup):
    """`field__any=[...]`: `field = ANY(%s)` with the list as one array parameter on PostgreSQL, `IN (...)` elsewhere.

    For a batch of hundreds of ids: an IN list is one parameter per id, a statement text that changes with the batch
    size (split and converted by the driver every time, never prepared), and each id prepared by Django's In lookup;
    the array is one parameter and one statement text. Registered on UUIDField, CharField (order ids) and ForeignKey
    (EventStoreConfig.ready). The database's spelling is chosen by Django's compiler (`as_postgresql` on PostgreSQL,
    `as_sql` on any other), not by a test of the vendor here."""

    lookup_name = "any"
    prepare_rhs = False

    def _values(self, connection: "BaseDatabaseWrapper") -> "tuple[Field[Any, Any], list[Any]]":
        field: Field[Any, Any] = self.lhs.output_field
        return field, [field.get_db_prep_value(value, connection) for value in dict.fromkeys(self.rhs)]

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _field, values = self._values(connection)
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def as_postgresql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field, values = self._values(connection)
        return f"{lhs} = ANY(%s::{field.db_type(connection)}[])", [*lhs_params, values]
