import pytest

from benchmarks.support.production_server import start_production_server, stop_production_server


@pytest.fixture(scope="session")
def production_server(tmp_path_factory):
    """gunicorn with production settings on loopback, one for the session (see tests/servers.py)."""
    server = start_production_server(tmp_path_factory.mktemp("production"))
    yield server
    stop_production_server(server)
