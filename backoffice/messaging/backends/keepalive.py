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
            status, content, answer_headers, will_close = read_answer(connection.sock, method)
        except BaseException:
            self._drop(key)
            raise
        if will_close:
            self._drop(key)
        return status, content, answer_headers

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


# http.client's limits on an answer's head: the length of one line, and the number of header lines.
_MAX_LINE = 65536
_MAX_HEADERS = 100
_RECV_SIZE = 65536


class _Received:
    """The bytes of one answer read so far, and the socket the rest comes from."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def more(self) -> bool:
        """Read what the peer sent next; False when it closed the connection."""
        chunk = self.sock.recv(_RECV_SIZE)
        self.buffer += chunk
        return bool(chunk)

    def take(self, count: int) -> bytes:
        taken = bytes(self.buffer[:count])
        del self.buffer[:count]
        return taken


def read_answer(sock, method: str) -> tuple[int, bytes, list[tuple[str, str]], bool]:
    """One HTTP/1.x answer read off the socket: (status, body, headers, whether the connection must close after it).

    What http.client's HTTPResponse.begin() and read() do for an API's answer, at a fraction of their CPU (they parse
    the head with email.parser: a third of a loopback send's). The same rules: interim 1xx answers are skipped;
    HEAD, 204, 304 have no body; otherwise a chunked body, Content-Length bytes, or all until the peer closes;
    HTTP/1.1 keeps the connection unless "Connection: close", HTTP/1.0 closes it unless "keep-alive". The same
    errors: RemoteDisconnected when the peer closed before answering, BadStatusLine, UnknownProtocol, LineTooLong or
    HTTPException for a malformed head, IncompleteRead when the answer ends early, the socket's OSError
    (TimeoutError). Bytes past the end of the answer (nothing was asked for them) close the connection."""
    received = _Received(sock)
    if not received.more():
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    while True:
        status, version, headers = _read_head(received)
        if status >= 200:
            break
        if status == 101:
            raise http.client.HTTPException("101 Switching Protocols, which nothing asked for")
        # An interim answer (100 Continue, 103 Early Hints): the final one follows it.
    connection = length = coding = keep_alive = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-length" and length is None:
            length = value
        elif lowered == "transfer-encoding" and coding is None:
            coding = value
        elif lowered == "connection" and connection is None:
            connection = value.lower()
        elif lowered == "keep-alive":
            keep_alive = value
    if version == 11:
        will_close = connection is not None and "close" in connection
    else:
        will_close = not keep_alive and not (connection is not None and "keep-alive" in connection)
    if status in (204, 304) or method == "HEAD":
        body = b""
    elif coding is not None and coding.rpartition(",")[2].strip().lower() == "chunked":
        body = _read_chunked(received)
    elif (size := _content_length(length)) is not None:
        while len(received.buffer) < size:
            if not received.more():
                raise http.client.IncompleteRead(bytes(received.buffer), size - len(received.buffer))
        body = received.take(size)
    else:
        while received.more():
            pass
        return status, bytes(received.buffer), headers, True
    return status, body, headers, will_close or bool(received.buffer)


def _read_head(received: _Received) -> tuple[int, int, list[tuple[str, str]]]:
    """(status, HTTP version as 10 or 11, headers) of the answer at the start of the buffer, taken off it."""
    while True:
        buffer = received.buffer
        ends = [at for at in (buffer.find(b"\n\r\n"), buffer.find(b"\n\n")) if at >= 0]
        if ends:
            end = min(ends)
            head = received.take(end + (3 if buffer[end + 1] == 13 else 2))
            break
        if len(buffer) > _MAX_LINE * (_MAX_HEADERS + 1):
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if not received.more():
            if not buffer.strip():
                raise http.client.RemoteDisconnected("Remote end closed connection without response")
            raise http.client.IncompleteRead(bytes(buffer))
    lines = head.decode("iso-8859-1").split("\n")
    del lines[-2:]  # the empty line that ends the head, and what follows its line feed
    status_line = lines[0].rstrip("\r")
    if len(status_line) > _MAX_LINE:
        raise http.client.LineTooLong("status line")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise http.client.BadStatusLine(status_line)
    code = parts[1]
    if len(code) != 3 or not code.isascii() or not code.isdigit() or code < "100":
        raise http.client.BadStatusLine(status_line)
    if parts[0] == "HTTP/1.0":
        version = 10
    elif parts[0].startswith("HTTP/1."):
        version = 11
    else:
        raise http.client.UnknownProtocol(parts[0])
    if len(lines) > _MAX_HEADERS + 1:
        raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line[:1] in (" ", "\t"):  # an obsolete folded line continues the header before it
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return int(code), version, headers


def _content_length(value: str | None) -> int | None:
    """Content-Length as a size, or None (read until the peer closes) when missing or not a size, as http.client."""
    if value is None:
        return None
    try:
        size = int(value)
    except ValueError:
        return None
    return size if size >= 0 else None


def _read_chunked(received: _Received) -> bytes:
    """A chunked body, its trailers skipped. IncompleteRead when the peer closes before the last chunk or a chunk's
    size is not hexadecimal."""
    parts: list[bytes] = []
    while True:
        size_line = _read_line(received, parts)
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            raise http.client.IncompleteRead(b"".join(parts)) from None
        if size < 0:
            raise http.client.IncompleteRead(b"".join(parts))
        if size == 0:
            break
        while len(received.buffer) < size + 2:
            if not received.more():
                raise http.client.IncompleteRead(b"".join(parts) + bytes(received.buffer), size)
        parts.append(received.take(size))
        received.take(2)  # the CRLF after the chunk's data
    while _read_line(received, parts).strip():
        pass  # trailer fields: nothing we use
    return b"".join(parts)


def _read_line(received: _Received, parts: list[bytes]) -> bytes:
    while (at := received.buffer.find(b"\n")) < 0:
        if len(received.buffer) > _MAX_LINE:
            raise http.client.LineTooLong("chunk size")
        if not received.more():
            raise http.client.IncompleteRead(b"".join(parts))
    return received.take(at + 1)


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
