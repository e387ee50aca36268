"""Logging that keeps personal data out of every line.

Code here logs ids, never names, emails or phones. What it does not write itself is the request line that servers
log (runserver's `django.server`, gunicorn's access log): a search by email puts the email in the query string
(`/api/v1/customers?q=ana@example.es`, `/staff/customers/?q=...`, the admin's `?q=`). Every handler runs this filter,
which masks the value of every query parameter except those known to hold no personal data.
"""

import json
import logging
import re
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

# Parameters whose values are ids, codes, times or switches: kept, since they are what an operator reads a log for.
SAFE_PARAMETERS = frozenset(
    {
        "after",
        "all",
        "as_of",
        "campaign",
        "channel",
        "churn_days",
        "cursor",
        "format",
        "from",
        "granted",
        "kind",
        "language",
        "limit",
        "location",
        "o",
        "p",
        "page",
        "purpose",
        "segment",
        "sku",
        "status",
        "to",
        "type",
    }
)
MASK = "***"
# A query string inside a logged line: from "?" to the next blank or quote (a request line is "GET /p?x=1 HTTP/1.1").
_QUERY = re.compile(r"\?([^\s\"'<>]*)")


def mask_query_strings(text: str) -> str:
    """The text with every query parameter's value masked but the safe ones."""
    if "?" not in text:
        return text
    return _QUERY.sub(_mask_match, text)


# Parameters whose value is a path of ours with a query string of its own (the login's `next`): the path is kept, its
# query masked like any other (a search redirected to the login carries the email it searched for).
PATH_PARAMETERS = frozenset({"next"})


def _mask_match(match: re.Match) -> str:
    return "?" + _masked_query(match.group(1))


def _masked_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query if "=" not in query else MASK
    # The mask's asterisks are left as they are, so a line reads "q=***" (an asterisk is never personal data).
    return "&".join(f"{quote(key, safe='')}={quote(_masked_value(key, value), safe='*')}" for key, value in pairs)


def _masked_value(key: str, value: str) -> str:
    if key in SAFE_PARAMETERS:
        return value
    if key in PATH_PARAMETERS:
        path, mark, query = value.partition("?")
        return path + mark + _masked_query(query) if mark else path
    return MASK


class MaskPersonalData(logging.Filter):
    """Rewrites the record's message with query values masked (the arguments are merged in first, so a request line
    passed as an argument is masked too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record: logging's own error path reports it
        masked = mask_query_strings(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


# --- Request context and JSON lines (LOG_FORMAT=json)
# Set by backoffice.observability.middleware for the time of a request; read by every log record made meanwhile.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id_var: ContextVar[str | None] = ContextVar("correlation_id", default=None)
# Set by backoffice.celery for the time of a task in a worker (and its correlation id: the request's that enqueued it,
# else the task id), so a task's lines can be grepped like a request's.
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)


class RequestContext(logging.Filter):
    """Puts the current request id and correlation id on the record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.correlation_id = correlation_id_var.get()
        record.task_id = task_id_var.get()
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (already masked by MaskPersonalData), request and
    correlation ids, and for an exception its class and where it was raised.

    An exception's message is left out on purpose: a database error quotes the row it refused ("Key (email)=(ana@...)
    already exists"), so only the class and the frames (file, line, function) are written.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "correlation_id": getattr(record, "correlation_id", None) or correlation_id_var.get(),
        }
        task_id = getattr(record, "task_id", None) or task_id_var.get()
        if task_id:
            entry["task_id"] = task_id
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            entry["exc_type"] = f"{exc_type.__module__}.{exc_type.__qualname__}"
            entry["exc_frames"] = [
                f"{frame.filename}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(tb)[-10:]
            ]
        return json.dumps(entry, ensure_ascii=False, default=str)
