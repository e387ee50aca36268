"""The benchmarks' reading of a PostgreSQL backend's CPU (`processes_cpu_seconds`): a figure only for backends of
this machine, never one made up from processes that are something else."""

import os

import pytest
from django.db import connection

from benchmarks.support.runs import processes_cpu_seconds


def test_a_process_that_is_not_a_postgresql_backend_gives_no_figure():
    assert processes_cpu_seconds([os.getpid()]) is None  # this test's own interpreter


def test_backends_that_are_not_on_this_machine_give_no_figure():
    assert processes_cpu_seconds([2**22 + 7]) is None  # above the kernel's pid limit: no such process here
    assert processes_cpu_seconds([]) is None


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_backend_of_this_machine_gives_the_cpu_it_has_spent():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
        before = processes_cpu_seconds([pid])
        cursor.execute("SELECT count(*) FROM generate_series(1, 3000000)")

    after = processes_cpu_seconds([pid])

    assert before is not None
    assert after is not None
    assert after > before
