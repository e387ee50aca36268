"""Statements on the hot paths of every layer, bound by the server (PostgreSQL only).

Django's PostgreSQL cursors bind on the client: every parameter, and every element of an array parameter, is quoted
into the statement text in Python, and a statement whose text changes with the batch (a VALUES or IN list) is split
and quoted whole each time. A batch written or read with array parameters (`= ANY(%s)`, `unnest(%s::uuid[], ...)`)
keeps one statement text, which the driver prepares once. Write the placeholders `%b`: values go in binary, which
for an array of 500 elements is several times cheaper than its text form (no quoting of each element).
"""

from typing import Any

import psycopg
from django.db import connection


def execute_pg(sql: str, params: list[Any], *, using=None) -> list[tuple]:
    """Run one statement in the connection's current transaction (the primary's unless `using` names another: a read
    on `backoffice.replica.read_connection()`); its rows (read in binary), if it returns any. Database errors are
    Django's (IntegrityError...), as from a Django cursor."""
    using = using or connection
    using.ensure_connection()
    with using.wrap_database_errors, psycopg.Cursor(using.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall() if cursor.description else []


def copy_rows(table: str, columns: list[str], rows: list[tuple]) -> None:
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


def rows_by_key(
    table: str,
    key: str,
    columns: list[str],
    keys: list[Any],
    *,
    key_type: str = "uuid",
    where: str = "",
    params=(),
    using=None,
) -> list[tuple]:
    """(key, *columns) of the rows whose `key` is one of `keys` (and `where`, with its `params`), by one index probe
    per key. `key IN (...)` over a batch of 500 keys is read with a scan of the whole table whenever the planner
    prices 500 probes above one scan (customers), or believes the table small (statistics from before a campaign
    filled the outbox and the log): a cost per batch that grows with the table. A subquery per key, kept apart from
    the outer query (OFFSET 0), can only be answered by the key's index."""
    quote = connection.ops.quote_name
    names = ", ".join(f"t.{quote(name)}" for name in columns)
    condition = f" AND ({where})" if where else ""
    sql = (
        f"SELECT k.key, {names} FROM unnest(%b::{key_type}[]) AS k(key) CROSS JOIN LATERAL "  # noqa: S608 - names
        f"(SELECT {names} FROM {quote(table)} AS t WHERE t.{quote(key)} = k.key{condition} OFFSET 0) AS t"
    )
    return execute_pg(sql, [list(dict.fromkeys(keys)), *params], using=using)
