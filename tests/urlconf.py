"""The project's URL conf walked as tests see it: every route (its pattern as text, prefixes joined) and its view."""

from collections.abc import Callable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver


def url_routes(patterns=None, prefix: str = "") -> Iterator[tuple[str, Callable]]:
    """(route without the leading slash, view callable) for every route under `patterns` (default: the root conf)."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from url_routes(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, entry.callback
