"""Request ids and latency, for every request (first in MIDDLEWARE, so redirects and refusals count too).

`X-Request-ID` from the proxy is kept when it looks like an id (letters, digits, `._:-`, up to 128 characters),
otherwise a new one is made: a header is client input, and it is written to every log line of the request.
`X-Correlation-ID` names the business flow a request belongs to (an order's checkout across services); without one
it is the request id. Both are sent back on the response.
"""

import re
import time
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver

from backoffice.logs import correlation_id_var, request_id_var

from .metrics import observe_request

_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _id_from(header_value: str | None) -> str | None:
    return header_value if header_value and _ID.match(header_value) else None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = _id_from(request.headers.get("X-Request-ID")) or uuid.uuid4().hex
        correlation_id = _id_from(request.headers.get("X-Correlation-ID")) or request_id
        request.request_id, request.correlation_id = request_id, correlation_id
        # Cleared when the response is closed (request_finished), not here: Django logs a 4xx/5xx after the
        # middleware chain returns, and that line must carry the id too.
        request_id_var.set(request_id)
        correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response.status_code, time.perf_counter() - started)
        response["X-Request-ID"] = request_id
        response["X-Correlation-ID"] = correlation_id
        return response


@receiver(request_finished, dispatch_uid="observability-clear-request-ids")
def _clear_request_ids(**kwargs) -> None:
    request_id_var.set(None)
    correlation_id_var.set(None)
