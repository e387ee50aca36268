"""Request ids and latency, for every request (first in MIDDLEWARE, so redirects and refusals count too).

`X-Request-ID` from the proxy is kept when it looks like an id (letters, digits, `._:-`, up to 128 characters),
otherwise a new one is made: a header is client input, and it is written to every log line of the request.
`X-Correlation-ID` names the business flow a request belongs to (an order's checkout across services); without one
it is the request id. Both are sent back on the response.
"""

import logging
import re
import time
import uuid

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from backoffice.api.problems import CONTENT_TYPE, database_unavailable, database_unavailable_problem, problem_body
from backoffice.logs import correlation_id_var, request_id_var

from .metrics import observe_request

logger = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _id_from(header_value: str | None) -> str | None:
    return header_value if header_value and _ID.match(header_value) else None


def request_ids(request) -> tuple[str, str]:
    """The request's (request id, correlation id), also set for its log lines (cleared by request_finished, or by
    whoever answers without Django's handler)."""
    # META, not request.headers: that mapping renames every META key when first read (about 10 us), and nothing else
    # on the webhooks' fast path (backoffice.wsgi) needs it.
    request_id = _id_from(request.META.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
    correlation_id = _id_from(request.META.get("HTTP_X_CORRELATION_ID")) or request_id
    request_id_var.set(request_id)
    correlation_id_var.set(correlation_id)
    return request_id, correlation_id


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Cleared when the response is closed (request_finished), not here: Django logs a 4xx/5xx after the
        # middleware chain returns, and that line must carry the id too.
        request_id, correlation_id = request.request_id, request.correlation_id = request_ids(request)
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(request, response.status_code, time.perf_counter() - started)
        response["X-Request-ID"] = request_id
        response["X-Correlation-ID"] = correlation_id
        return response

    def process_exception(self, request, exception):
        """A page (admin, staff) whose database is down or read-only answers 503 with Retry-After, never 500. The
        API does the same through its exception handler (problem details)."""
        if not database_unavailable(exception):
            return None
        logger.warning("database unavailable: %s", type(exception).__name__)
        if request.path.startswith("/api/"):
            problem = database_unavailable_problem()
            body = problem_body(503, problem.problem_type, problem.title, str(problem.detail), errors=[])
            response = JsonResponse(body, status=503, content_type=CONTENT_TYPE)
        else:
            response = HttpResponse(
                _("The service is briefly unavailable. Nothing was changed: please try again in a moment."),
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        response["Retry-After"] = "5"
        return response


@receiver(request_finished, dispatch_uid="observability-clear-request-ids")
def _clear_request_ids(**kwargs) -> None:
    request_id_var.set(None)
    correlation_id_var.set(None)
