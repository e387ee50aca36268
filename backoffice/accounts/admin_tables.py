"""Rows shown as a table on an admin page (an order's lines and history, a case's thread, a message's events, a
customer's consents): one markup for all of them, and moments in local time to the minute."""

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timezone import localtime


def table_html(rows: Iterable[Sequence[object]], *, header: Sequence[object] = ()) -> SafeString:
    """A <table> with a header row when `header` names the columns; each cell escaped (a SafeString cell, such
    as code_html's, is kept as it is)."""
    head = format_html("<tr>{}</tr>", format_html_join("", "<th>{}</th>", ((name,) for name in header)))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table>{}{}</table>", head if header else "", body)


def code_html(value: object) -> SafeString:
    """A cell shown as code (an event's data)."""
    return format_html("<code>{}</code>", value)


def local_minute(moment: datetime) -> str:
    return localtime(moment).strftime("%Y-%m-%d %H:%M")
