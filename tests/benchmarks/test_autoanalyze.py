"""The benchmarks' stand-in for autovacuum's ANALYZE (`AutoAnalyze`): a table is analyzed once 50 rows + 10% of it
changed since its last analyze, as autovacuum's defaults do, and not before."""

import pytest
from django.db import connection

from benchmarks.support.runs import AutoAnalyze

PROBE = "bench_autoanalyze_probe"


def _rows_planned_for() -> float:
    """What the planner's statistics say the probe table holds (pg_class.reltuples, written by ANALYZE)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [PROBE])
        return cursor.fetchone()[0]


def _insert(rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {PROBE} SELECT generate_series(1, %s)", [rows])  # noqa: S608 - constant name


@pytest.fixture
def probe_table():
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {PROBE} (n integer)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {PROBE}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the counters it reads are those of committed work
def test_a_table_is_analyzed_once_it_grew_past_autovacuums_threshold_and_not_before(probe_table):
    stand_in = AutoAnalyze()
    _insert(500)

    stand_in.run_due(connection)
    assert _rows_planned_for() == 500
    assert stand_in.runs >= 1

    _insert(90)  # below 50 + 10% of 500
    stand_in.run_due(connection)
    assert _rows_planned_for() == 500

    _insert(20)  # 110 since the last analyze: past 50 + 10% of 500
    stand_in.run_due(connection)
    assert _rows_planned_for() == 610
    assert stand_in.seconds > 0
