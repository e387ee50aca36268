"""Logging that keeps personal data out of every line.

Code here logs ids, never names, emails or phones. What it does not write itself is the request line that servers
log (runserver's `django.server`, gunicorn's access log): a search by email puts the email in the query string
(`/api/v1/customers?q=ana@example.es`, `/staff/customers/?q=...`, the admin's `?q=`). Every handler runs this filter,
which masks the value of every query parameter except those known to hold no personal data.
"""

import logging
import re
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
        "next",
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


def _mask_match(match: re.Match) -> str:
    pairs = parse_qsl(match.group(1), keep_blank_values=True)
    if not pairs:
        return match.group(0) if "=" not in match.group(1) else "?" + MASK
    return "?" + "&".join(
        f"{quote(key, safe='')}={quote(value, safe='') if key in SAFE_PARAMETERS else MASK}" for key, value in pairs
    )


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
