"""The append lock: held from before positions are allocated until commit, by every writer of the log and keys."""

from typing import Final

from django.db import connection

# Any constant works; it only has to be the same for every appender. ("EVNT" in ASCII.)
APPEND_LOCK_KEY: Final = 0x45564E54


def take_append_lock() -> None:
    """Call inside a transaction. PostgreSQL: a transaction-scoped advisory lock. SQLite: transactions begin
    IMMEDIATE (settings), so the transaction already holds the database's only write lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
