"""HTTP/1.1 keep-alive connections to providers, one per sending thread and host, over http.client.

The provider backends send one small request per message, thousands a second from one drain worker. Through
`requests` each cost ~0.6 ms of CPU before any byte left (preparing the request, merging environment settings,
hooks, the pool), more than the whole drain spends deciding and recording a message. Here a request is the
http.client call and nothing else. Anything unusual (files, proxies) stays with `requests`: see KeepAliveSession.
"""

import http.client
import re
import select
import ssl
import threading
import urllib.parse
from functools import lru_cache

import certifi
import requests
from requests.structures import CaseInsensitiveDict


class KeepAlivePool:
    """Connections per (thread, scheme, host). Thread-safe by construction: a thread only touches its own."""

    def __init__(self):
        self._local = threading.local()

    def request(
        self, method: str, url: str, *, body: bytes | None, headers: dict, timeout: float | None
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """(status, body, headers). Raises OSError (TimeoutError, ConnectionError...) or http.client.HTTPException;
        the connection is dropped then, never reused half-read."""
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.netloc)
        request = _request_bytes(method, path, parts.netloc.rpartition("@")[2], body, headers)
        connection = self._connection(key, timeout)
        try:
            if connection.sock is None:
                connection.connect()  # TCP, and TLS for https
            # The request line, headers and body in one write: http.client writes the head and the body apart, two
            # segments the provider is woken for (and a third of a loopback request's CPU on our side).
            connection.sock.sendall(request)
            response = connection.response_class(connection.sock, method=method)
            response.begin()
            content = response.read()
        except BaseException:
            self._drop(key)
            raise
        if response.will_close:
            self._drop(key)
        return response.status, content, response.getheaders()

    def _connections(self) -> dict:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        return self._local.connections

    def _drop(self, key) -> None:
        connection = self._connections().pop(key, None)
        if connection is not None:
            connection.close()

    def _connection(self, key, timeout: float | None) -> http.client.HTTPConnection:
        connections = self._connections()
        connection = connections.get(key)
        if connection is not None and connection.sock is not None and _is_dropped(connection.sock):
            self._drop(key)  # the provider closed it while idle: a fresh one, before anything is sent
            connection = None
        if connection is None:
            scheme, netloc = key
            if scheme == "https":
                connection = http.client.HTTPSConnection(netloc, timeout=timeout, context=_tls())
            elif scheme == "http":
                connection = http.client.HTTPConnection(netloc, timeout=timeout)
            else:
                raise ValueError(f"not an http(s) URL: {scheme}")
            connections[key] = connection
        elif connection.timeout != timeout:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        return connection


# Methods whose request carries a body: a missing one is sent as Content-Length: 0 (as http.client does).
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_BAD_IN_TARGET = re.compile(r"[\x00-\x20\x7f]")
_BAD_IN_HEADER = re.compile(r"[\r\n\x00]")


def _request_bytes(method: str, path: str, host: str, body: bytes | None, headers: dict) -> bytes:
    """An HTTP/1.1 request as http.client would write it (Host, Accept-Encoding: identity, Content-Length unless
    given), refusing what http.client refuses: a control character in the method or path, a line break or NUL in a
    header (header injection)."""
    if _BAD_IN_TARGET.search(method) or _BAD_IN_TARGET.search(path):
        raise ValueError("a control character or space in the request's method or path")
    names = {str(name).lower() for name in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}")
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        line = f"{name}: {value.decode('latin-1') if isinstance(value, bytes) else value}"
        if _BAD_IN_HEADER.search(line):
            raise ValueError(f"a line break or NUL in the {name!r} header")
        lines.append(line)
    if "content-length" not in names and (body is not None or method in _BODY_METHODS):
        lines.append(f"Content-Length: {len(body or b'')}")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + (body or b"")


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    # The CA bundle requests uses, so switching transport changes no certificate decision.
    return ssl.create_default_context(cafile=certifi.where())


def _is_dropped(sock) -> bool:
    """A kept-alive socket that is readable while no request is pending was closed (or broken) by the peer."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class KeepAliveSession(requests.Session):
    """A requests Session whose plain requests (a body of bytes or text, no files, no proxies, no streaming) go
    through KeepAlivePool, answered as requests.Response; anything else through requests itself. Given to
    anymail's requests-based ESP backends as their session."""

    def __init__(self):
        super().__init__()
        self.trust_env = False
        self.pool = KeepAlivePool()

    def request(self, method, url, params=None, data=None, headers=None, files=None, auth=None, timeout=None, **kw):
        if files or kw.get("stream") or kw.get("proxies") or not isinstance(data, str | bytes | type(None)):
            return super().request(
                method, url, params=params, data=data, headers=headers, files=files, auth=auth, timeout=timeout, **kw
            )
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params, doseq=True)}"
        merged = {**self.headers, **(headers or {})}
        if auth:
            merged["Authorization"] = requests.auth._basic_auth_str(*auth)
        body = data.encode() if isinstance(data, str) else data
        if isinstance(timeout, tuple):
            timeout = max(t for t in timeout if t is not None) if any(t is not None for t in timeout) else None
        try:
            status, content, answer_headers = self.pool.request(
                method.upper(), url, body=body, headers=merged, timeout=timeout
            )
        except TimeoutError as exc:
            raise requests.Timeout(str(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise requests.ConnectionError(str(exc)) from exc
        response = requests.Response()
        response.status_code = status
        response._content = content
        response.headers = CaseInsensitiveDict(answer_headers)
        response.url = url
        response.encoding = "utf-8"
        return response
