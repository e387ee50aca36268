"""The production way of serving: gunicorn (deploy/gunicorn.conf.py), production settings, WhiteNoise static files,
an access log without personal data, metrics summed over every worker process, and the security headers behind the
HTTPS proxy."""

import gzip
import re
import signal
import time

import pytest


def _scrape_count(server, view: str) -> float:
    status, _headers, body = server.get("/metrics", headers={"Authorization": f"Bearer {server.token}"})
    assert status == 200
    pattern = re.compile(
        r'^backoffice_http_request_duration_seconds_count\{(?=[^}]*method="GET")(?=[^}]*status="200")'
        rf'(?=[^}}]*view="{re.escape(view)}")[^}}]*\}} (\S+)$',
        re.MULTILINE,
    )
    return sum(float(value) for value in pattern.findall(body.decode()))


def test_admin_static_files_are_served_hashed_compressed_and_cached_for_a_year(production_server):
    _status, _headers, page = production_server.get("/admin/login/")
    (stylesheet,) = set(re.findall(r"/static/admin/css/base\.[0-9a-f]{12}\.css", page.decode()))

    status, headers, body = production_server.get(stylesheet, headers={"Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]
    assert b"body" in gzip.decompress(body)


def test_the_api_docs_load_their_hashed_scripts_from_this_server(production_server):
    _status, _headers, page = production_server.get(
        "/api/v1/docs/", headers={"Authorization": f"Token {production_server.token}"}
    )
    scripts = re.findall(
        r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{12}\.js", page.decode()
    )

    assert scripts
    assert production_server.get(scripts[0])[0] == 200


def test_the_access_log_masks_query_values_and_carries_the_request_id(production_server):
    status, headers, _body = production_server.get(
        "/api/v1/customers?q=ana%40example.es&limit=5",
        headers={"Authorization": f"Token {production_server.token}", "X-Request-ID": "probe-7f3a"},
    )
    assert status == 200
    assert headers["X-Request-ID"] == "probe-7f3a"

    deadline = time.monotonic() + 5
    while "probe-7f3a" not in production_server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = production_server.log.read_text()
    (line,) = [entry for entry in log.splitlines() if "request_id=probe-7f3a" in entry]
    assert "/api/v1/customers?q=***&limit=5" in line
    assert "example.es" not in log
    assert "ana%40" not in log


def test_metrics_count_the_requests_of_every_worker_process(production_server):
    before = _scrape_count(production_server, "health")

    for _ in range(20):
        assert production_server.get("/health/")[0] == 200

    assert _scrape_count(production_server, "health") - before == 20


def test_a_graceful_reload_keeps_answering(production_server):
    pids_before = set(re.findall(r"Booting worker with pid: (\d+)", production_server.log.read_text()))

    production_server.process.send_signal(signal.SIGHUP)
    # Generous timeouts: what is asserted is that no request is refused or dropped while workers are replaced; on a
    # loaded machine the new workers take more than 10 s to boot, and a slow answer is still an answer.
    answers = [production_server.get("/health/", timeout=60)[0] for _ in range(30)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        booted = set(re.findall(r"Booting worker with pid: (\d+)", production_server.log.read_text()))
        if len(booted - pids_before) >= 2:
            break
        time.sleep(0.2)

    assert answers == [200] * 30
    assert len(booted - pids_before) >= 2


@pytest.mark.parametrize("path", ["/admin/login/", "/staff/login/"])
def test_staff_pages_behind_the_https_proxy_carry_the_production_security_headers(production_server, path):
    status, headers, _body = production_server.get(path, headers={"X-Forwarded-Proto": "https"})

    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=2592000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=")
    assert "Secure" in cookie
