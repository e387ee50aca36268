"""HTTP/1.1 keep-alive connections to providers, one per sending thread and host, over http.client.

The provider backends send one small request per message, thousands a second from one drain worker. Through
`requests` each cost ~0.6 ms of CPU before any byte left (preparing the request, merging environment settings,
hooks, the pool), more than the whole drain spends deciding and recording a message. Here a request is the
http.client call and nothing else. Anything unusual (files, proxies) stays with `requests`: see KeepAliveSession.
"""

import http.client
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
        connection = self._connection(key, timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
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
