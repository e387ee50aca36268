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
import httptools
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
_MAX_HEAD = _MAX_LINE * (_MAX_HEADERS + 1)
_RECV_SIZE = 65536


class _Answer:
    """httptools' callbacks for one answer: its status, headers and body as the parser finds them. A callback that
    refuses the answer raises an http.client exception, which read_answer raises in place of the parser's."""

    __slots__ = ("body", "headers", "is_complete", "is_cut_by_close", "is_head", "parser", "status", "will_close")

    def __init__(self, is_head: bool) -> None:
        self.is_head = is_head
        self.parser: httptools.HttpResponseParser | None = None
        self.status = 0  # 0 until the final answer's head is read
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.is_complete = False
        self.will_close = False
        # No length and not chunked: the body runs until the peer closes (decided from the final head).
        self.is_cut_by_close = False

    def on_message_begin(self) -> None:
        if self.is_complete:
            self.will_close = True  # bytes past the answer, which nothing asked for: the connection is out of step

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.status or self.is_complete:
            return  # a chunked body's trailer fields: nothing we use
        if len(self.headers) >= _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        if len(name) + len(value) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        self.headers.append((name.decode("iso-8859-1"), value.decode("iso-8859-1")))

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None  # noqa: S101 - set by read_answer for the parser's lifetime
        status = parser.get_status_code()
        if parser.get_http_version() not in ("1.0", "1.1"):
            raise http.client.UnknownProtocol(f"HTTP/{parser.get_http_version()}")
        if status == 101:
            raise http.client.HTTPException("101 Switching Protocols, which nothing asked for")
        if status < 200:
            self.headers.clear()  # an interim answer (100 Continue, 103 Early Hints): the final one follows it
            return
        self.status = status
        if self.is_head:
            # llhttp does not know the request: the length a HEAD answer gives is of the body it did not send.
            self.complete(parser.should_keep_alive())
        elif status not in (204, 304):
            self.is_cut_by_close = not any(_sets_length(name, value) for name, value in self.headers)

    def on_body(self, body: bytes) -> None:
        if self.is_complete:
            self.will_close = True  # bytes past a HEAD answer
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        assert parser is not None  # noqa: S101 - set by read_answer for the parser's lifetime
        if self.status and not self.is_complete:
            self.complete(parser.should_keep_alive())

    def complete(self, keeps_alive: bool) -> None:
        self.is_complete = True
        self.will_close = self.will_close or not keeps_alive


def _sets_length(name: str, value: str) -> bool:
    lowered = name.lower()
    return lowered == "content-length" or (lowered == "transfer-encoding" and "chunked" in value.lower())


def read_answer(sock, method: str) -> tuple[int, bytes, list[tuple[str, str]], bool]:
    """One HTTP/1.x answer read off the socket: (status, body, headers, whether the connection must close after it).

    httptools (llhttp, Node's parser) does the parsing; http.client's HTTPResponse parses the head with email.parser,
    a third of a loopback send's CPU. The rules are HTTP/1.1's: interim 1xx answers are skipped; HEAD, 204, 304 have
    no body; otherwise a chunked body, Content-Length bytes, or all until the peer closes; keep-alive as llhttp's
    should_keep_alive() says. The errors are http.client's: RemoteDisconnected when the peer closed before answering,
    BadStatusLine, UnknownProtocol, LineTooLong or HTTPException for a malformed head, IncompleteRead when the answer
    ends early or its body is malformed, the socket's OSError (TimeoutError). Bytes past the end of the answer
    (nothing was asked for them) close the connection."""
    answer = _Answer(method == "HEAD")
    parser = httptools.HttpResponseParser(answer)
    answer.parser = parser
    received = 0
    try:
        while not answer.is_complete:
            chunk = sock.recv(_RECV_SIZE)
            if not chunk:
                _end_of_stream(answer, received)
                break
            received += len(chunk)
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError as exc:
                if not answer.is_complete:
                    raise _http_client_error(answer, exc) from exc
                answer.will_close = True  # what follows the answer is not even an answer: out of step
            if not answer.status and received > _MAX_HEAD:  # llhttp sets no limit on a head's size
                raise http.client.HTTPException(f"an answer's head longer than {_MAX_HEAD} bytes")
    finally:
        answer.parser = None  # the parser holds the answer's callbacks: no cycle left for the paused collector
    return answer.status, b"".join(answer.body), answer.headers, answer.will_close


def _end_of_stream(answer: _Answer, received: int) -> None:
    """The peer closed the connection before the answer was complete: the end of a body read until then, or an error."""
    if answer.is_cut_by_close:
        answer.complete(keeps_alive=False)
    elif not received:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    else:
        raise http.client.IncompleteRead(b"".join(answer.body))


def _http_client_error(answer: _Answer, exc: httptools.HttpParserError) -> Exception:
    """The http.client exception for what llhttp refused: a callback's own, or one named after where it stopped."""
    if isinstance(exc.__context__, http.client.HTTPException):
        return exc.__context__  # raised by one of _Answer's callbacks
    reason = str(exc)
    if answer.status:
        return http.client.IncompleteRead(b"".join(answer.body))  # a malformed body: http.client's error for it
    if isinstance(exc, httptools.HttpParserInvalidStatusError) or reason.startswith("Expected HTTP/"):
        return http.client.BadStatusLine(reason)
    if "version" in reason.lower():
        return http.client.UnknownProtocol(reason)
    return http.client.HTTPException(f"malformed answer head: {reason}")


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
