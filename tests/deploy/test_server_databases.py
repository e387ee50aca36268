"""Servers started by tests each own their PostgreSQL database: two pytest-xdist workers that start a production
server in the same run must not share one, or one worker's DROP ... WITH (FORCE) pulls it from under the other."""

from benchmarks.support.production_server import server_database_name

URL = "postgres://postgres@127.0.0.1:5432/backoffice_ci"


def test_each_pytest_worker_gets_a_database_of_its_own(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = server_database_name(URL, "gunicorn")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = server_database_name(URL, "gunicorn")

    assert first != second
    assert first.startswith("backoffice_ci_gunicorn")


def test_outside_xdist_the_process_owns_it_and_the_name_fits_postgresql(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

    name = server_database_name(URL.replace("backoffice_ci", "b" * 70), "serve")

    assert len(name) <= 63
    assert server_database_name(URL, "serve") != server_database_name(URL, "gunicorn")
