"""No personal data in any log line: a search by email or phone puts it in the query string of the request line that
servers log; the filter on every handler masks it (and the API takes the search in a POST body as well)."""

import io
import logging
from urllib.parse import unquote

import pytest

from backoffice.logs import MASK, mask_query_strings

pytestmark = pytest.mark.django_db


def test_query_values_are_masked_but_ids_and_switches_are_kept():
    line = '"GET /api/v1/customers?q=ana%40example.es&cursor=abc123&channel=web HTTP/1.1" 200 512'

    masked = mask_query_strings(line)

    assert "ana" not in masked
    assert "example.es" not in masked
    assert f"q={MASK}" in masked
    assert "cursor=abc123" in masked
    assert "channel=web" in masked
    assert masked.endswith(' HTTP/1.1" 200 512')


def test_the_login_redirect_keeps_the_path_it_returns_to_and_masks_that_paths_query(client):
    """A search opened without a session is sent to the login with the whole search in `next`: the path is what an
    operator reads the line for; the search in it is personal data like any other."""
    redirect = client.get("/staff/customers/", {"q": "ana@example.es", "channel": "web"})
    assert redirect.status_code == 302

    masked = mask_query_strings(f'"GET {redirect["Location"]} HTTP/1.1" 200 2048')

    assert "ana" not in unquote(unquote(masked))
    assert unquote(masked).startswith(f'"GET /staff/login/?next=/staff/customers/?q={MASK}&channel=web ')


@pytest.fixture
def console_output():
    """What the configured console handler (settings.LOGGING) writes, through its own filters."""
    (handler,) = [h for h in logging.getLogger().handlers if h.name == "console"]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_the_servers_request_line_reaches_the_log_with_the_email_masked(console_output):
    # runserver logs each request like this (django.core.servers.basehttp.WSGIRequestHandler.log_message).
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /staff/customers/?q=%2B34600111222 HTTP/1.1", "200", "1042"
    )
    logging.getLogger("django.request").warning("Bad Request: %s", "/api/v1/customers?q=ana@example.es")

    err = console_output.getvalue()
    assert "600111222" not in err
    assert "ana@example.es" not in err
    assert f"/staff/customers/?q={MASK}" in err
    assert f"/api/v1/customers?q={MASK}" in err


def test_the_api_searches_with_the_query_in_a_post_body(api_client_for):
    from customers.services.ingestion import customer_register

    customer_id, _ = customer_register(customer={"email": "ana@example.es"}, channel="web", actor="test")
    client = api_client_for("support")

    found = client.post("/api/v1/customers/search", {"q": "ana@example.es"}, format="json")
    too_short = client.post("/api/v1/customers/search", {"q": "an"}, format="json")
    marketing = api_client_for("marketing").post("/api/v1/customers/search", {"q": "ana@example.es"}, format="json")

    assert found.status_code == 200
    assert [c["id"] for c in found.json()["results"]] == [str(customer_id)]
    assert too_short.status_code == 400
    assert too_short.json()["errors"][0]["field"] == "q"
    assert marketing.status_code == 403
