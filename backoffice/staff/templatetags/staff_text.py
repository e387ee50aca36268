"""How the staff pages set long unspaced text (addresses, ids) so a narrow column wraps it where a reader expects."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# After "@" and "_", before "." and "+": where an address or an id reads as two halves.
_BREAKS = re.compile(r"(?<=[@_])|(?=[.+])")


@register.filter
def wrappable(value) -> SafeString:
    """The text escaped, with a line-break opportunity (<wbr>) at each of _BREAKS: a column too narrow for
    "encarnacion.gelabert.noguera@example.net" wraps it as "encarnacion.gelabert" / ".noguera@example.net", where
    the stylesheet's `overflow-wrap: anywhere` alone cut it mid-word ("…noguera@e" / "xample.net")."""
    parts = [part for part in _BREAKS.split("" if value is None else str(value)) if part]
    return mark_safe("<wbr>".join(escape(part) for part in parts))  # noqa: S308 - every part escaped
