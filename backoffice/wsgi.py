"""The WSGI application: Django's handler, a lean one for machines' signed requests, and a fast path for Twilio's
status callbacks.

Provider webhooks, shop webhooks and the tracking API are called by machines that sign each request or present a key
(Twilio, Meta, the ESPs through anymail, Shopify, WooCommerce, the Segment-spec SDKs): they have no session, no login,
no second factor, no CSRF token, no language to negotiate and no page to frame. Their paths (MACHINE_PATH_PREFIXES)
go through the same Django with only MACHINE_MIDDLEWARE (request id and logs, security headers, replica routing):
a third of a small request's CPU was the rest of the stack. Everything else goes through settings.MIDDLEWARE.

Twilio posts one status callback per request, by the hundred at once (issue 13's target: 1,000/s). With
TWILIO_STATUS_FAST_PATH on, a POST to its URL is first offered to `twilio_status_fast`, called here without Django's
handler (no URL resolving, no middleware chain, no request signals and so no per-request connection health check):
the same signature, account and field checks and the same receipt as the view, answered 204 with the request id and
the security headers MACHINE_MIDDLEWARE would add. Anything else (not a form, too large, a bad signature, another
account, a missing field, an error before the receipt is committed) goes through Django's handler as if the fast
path were not there, the body given back to it whole, and gets the view's answer.
"""

import io
import os
import time

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.urls import resolve
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.production")
web = get_wsgi_application()  # sets Django up

from backoffice.celery import tasks_prepare  # noqa: E402
from backoffice.logs import correlation_id_var, request_id_var  # noqa: E402
from backoffice.messaging.providers.twilio import twilio_status_fast  # noqa: E402 - needs Django set up
from backoffice.messaging.services.received import APPLY_TASK  # noqa: E402
from backoffice.observability.metrics import observe_request  # noqa: E402
from backoffice.observability.middleware import request_ids  # noqa: E402
from backoffice.process import start_up_done  # noqa: E402


class MachineHandler(WSGIHandler):
    """Django's WSGI handler whose middleware chain is settings.MACHINE_MIDDLEWARE (in settings.MIDDLEWARE's order)."""

    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = [name for name in full if name in settings.MACHINE_MIDDLEWARE]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


machine = MachineHandler()
# Every receipt of a status callback wakes this task: its first send, done here, is not paid by a request.
tasks_prepare(APPLY_TASK)
_prefixes = tuple(settings.MACHINE_PATH_PREFIXES)
TWILIO_STATUS_PATH = "/api/v1/providers/twilio/status"
_twilio_status_match = resolve(TWILIO_STATUS_PATH)  # labels the fast path's requests in the metrics as the view's
# The machine chain's middleware that only add response headers, applied to the fast path's answers too.
_HEADER_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_header_middleware = [
    import_string(name)(lambda request: None)
    for name in settings.MIDDLEWARE
    if name in _HEADER_MIDDLEWARE and name in settings.MACHINE_MIDDLEWARE
]


def _twilio_status(environ, start_response):
    """The fast path (module docstring): the answer's body, or None to go through Django's handler."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if environ.get("REQUEST_METHOD") != "POST" or not 0 < length <= settings.MESSAGING_PROVIDER_MAX_BODY:
        return None
    started = time.perf_counter()
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    request = WSGIRequest(environ)
    try:
        request.resolver_match = _twilio_status_match
        request.request_id, request.correlation_id = request_ids(request)
        response = twilio_status_fast(request)
    except Exception:  # noqa: BLE001 - Django's handler meets the same error and answers it (and logs it)
        response = None
    if response is None:
        request_id_var.set(None)
        correlation_id_var.set(None)
        environ["wsgi.input"] = io.BytesIO(body)
        _connection_housekeeping()
        return None
    try:
        for middleware in _header_middleware:
            response = middleware.process_response(request, response)
        response["X-Request-ID"], response["X-Correlation-ID"] = request.request_id, request.correlation_id
        observe_request(request, response.status_code, time.perf_counter() - started)
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [response.content]
    finally:
        request_id_var.set(None)
        correlation_id_var.set(None)
        _connection_housekeeping()


def _connection_housekeeping() -> None:
    """What Django's request signals would do for this thread's connection, when there is something to do: close it
    after an error if it is unusable, or when older than CONN_MAX_AGE. (The per-request health check is left out: a
    broken connection fails the receipt, which then goes through Django's handler, whose signals replace it.) Never
    inside a transaction the caller holds open (a test's: Django's test client disconnects those signals for it)."""
    if connection.connection is None or connection.in_atomic_block:
        return
    if connection.errors_occurred or (connection.close_at is not None and time.monotonic() >= connection.close_at):
        connection.close_if_unusable_or_obsolete()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == TWILIO_STATUS_PATH and settings.TWILIO_STATUS_FAST_PATH:
        answer = _twilio_status(environ, start_response)
        if answer is not None:
            return answer
    handler = machine if path.startswith(_prefixes) else web
    return handler(environ, start_response)


# Last, once the module has built everything a worker keeps (gunicorn loads it in each worker: preload_app is off).
start_up_done()
