"""Racing calls against each other, as two workers or two requests would."""

import threading
from collections.abc import Callable

from django.db import connection


def at_once(*calls: Callable[[], object], timeout: float = 120) -> list:
    """Run each call on a thread of its own (and so on a database connection of its own), all released together;
    what each returned, or the exception it raised, in the order of `calls`."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            connection.ensure_connection()  # connected before the release: the calls meet at their first query
            barrier.wait(timeout=timeout)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the caller inspects what each call got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
