"""JSON request bodies, parsed with limits: how deep they nest, and no NUL characters.

Python's json module recurses once per nesting level, so a 2 KB body of a thousand `[` raises RecursionError
(a 500) in the parser, and if it parsed, in every validator that walks it after. No body of this API nests deeper
than a few levels; API_MAX_JSON_DEPTH bounds it with room to spare. U+0000 is refused too: PostgreSQL cannot store it
in text or jsonb, and no channel sends one on purpose.
"""

from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

from backoffice.eventstore.store import nul_character_path


class JSONTooDeep(ValueError):
    pass


def loads_bounded(raw: str | bytes, *, max_depth: int | None = None) -> Any:
    """json.loads() that refuses (ValueError) nesting deeper than `max_depth` before the decoder recurses."""
    limit = max_depth or settings.API_MAX_JSON_DEPTH
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    _check_depth(text, limit)
    try:
        # NaN and Infinity are not JSON: refused, as DRF's own parser does in strict mode.
        return json.loads(text, parse_constant=json.strict_constant)
    except RecursionError:  # belt and braces: a limit set above the interpreter's own
        raise JSONTooDeep(f"nested deeper than {limit} levels") from None


def _check_depth(text: str, limit: int) -> None:
    """One pass over the text counting brackets outside strings: linear, no recursion, no allocation per level."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than the brackets it has
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                raise JSONTooDeep(f"nested deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser with the depth limit and the NUL refusal; errors are 400 problems naming the field."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - body is not {encoding}") from exc
        if not raw:
            raise exceptions.ParseError("JSON parse error - empty body")
        try:
            data = loads_bounded(raw)
        except JSONTooDeep as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        path = nul_character_path(data)
        if path is not None:
            raise exceptions.ValidationError(
                {path or "body": [exceptions.ErrorDetail("contains a NUL character (U+0000)", code="null_character")]}
            )
        return data
