"""The providers' keep-alive transport against a real HTTP/1.1 server on loopback: what reaches the wire, reuse of
one connection, a connection the server closed, and answers read as they arrive: in pieces, chunked, until the server
closes, or broken."""

import contextlib
import http.client
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from backoffice.messaging.backends.keepalive import KeepAlivePool, KeepAliveSession


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def server():
    """A raw HTTP/1.1 server: records each request's bytes and the connection it came on; answers 200 with the
    request's body, closing the connection when the request's path says /close."""
    seen: list[tuple[int, bytes]] = []
    connections = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            connections.append(self.connection)
            number = len(connections)
            while (request := _read_request(self.rfile)) is not None:
                head, body = request
                seen.append((number, head + body))
                close = b" /close " in head.split(b"\r\n")[0]
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: yes\r\n"
                answer += b"Connection: close\r\n" if close else b""
                self.wfile.write(answer + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                self.wfile.flush()
                if close:
                    return

    with _serving(Handler) as httpd:
        yield httpd, seen, connections


@contextlib.contextmanager
def _serving(handler: type[socketserver.StreamRequestHandler]) -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _read_request(rfile) -> tuple[bytes, bytes] | None:
    """(head, body) of the next request on the connection, or None when the client closed it."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = rfile.readline()
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, rfile.read(length)


def _url(httpd, path):
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


def test_a_post_reaches_the_wire_as_http_client_would_write_it(server):
    httpd, seen, _ = server
    status, content, headers = KeepAlivePool().request(
        "POST", _url(httpd, "/email?x=1"), body=b'{"a": 1}', headers={"Content-Type": "application/json"}, timeout=5
    )
    assert (status, content) == (200, b'{"a": 1}')
    assert ("X-Echo", "yes") in headers
    raw = seen[0][1]
    head, body = raw.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /email?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{httpd.server_address[1]}".encode() in lines
    assert b"Accept-Encoding: identity" in lines
    assert b"Content-Type: application/json" in lines
    assert b"Content-Length: 8" in lines
    assert body == b'{"a": 1}'


def test_a_get_carries_no_content_length_and_a_bodyless_post_says_zero(server):
    httpd, seen, _ = server
    pool = KeepAlivePool()
    pool.request("GET", _url(httpd, "/status"), body=None, headers={}, timeout=5)
    pool.request("POST", _url(httpd, "/empty"), body=None, headers={}, timeout=5)
    assert b"content-length" not in seen[0][1].lower()
    assert b"Content-Length: 0" in seen[1][1]


def test_requests_share_one_connection_until_the_server_closes_it(server):
    httpd, seen, connections = server
    pool = KeepAlivePool()
    for n in range(3):
        assert pool.request("POST", _url(httpd, "/m"), body=b"%d" % n, headers={}, timeout=5)[1] == b"%d" % n
    assert [number for number, _ in seen] == [1, 1, 1]
    # The server answers "Connection: close": the next request opens a new connection and is answered.
    pool.request("POST", _url(httpd, "/close"), body=b"bye", headers={}, timeout=5)
    assert pool.request("POST", _url(httpd, "/m"), body=b"again", headers={}, timeout=5)[1] == b"again"
    assert [number for number, _ in seen] == [1, 1, 1, 1, 2]


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_sending(server):
    httpd, seen, connections = server
    pool = KeepAlivePool()
    pool.request("POST", _url(httpd, "/m"), body=b"one", headers={}, timeout=5)
    connections[0].shutdown(socket.SHUT_RDWR)  # the provider's idle timeout
    assert pool.request("POST", _url(httpd, "/m"), body=b"two", headers={}, timeout=5)[1] == b"two"
    assert [number for number, _ in seen] == [1, 2]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/m", {"X-Token": "abc\r\nX-Injected: 1"}),
        ("/m", {"X-Token": "abc\nX-Injected: 1"}),
        ("/m HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /", {}),
    ],
)
def test_a_line_break_in_a_header_or_the_path_is_refused_and_nothing_is_sent(server, path, headers):
    httpd, seen, _ = server
    with pytest.raises(ValueError, match="line break|control character"):
        KeepAlivePool().request("POST", _url(httpd, "/m").replace("/m", path), body=b"x", headers=headers, timeout=5)
    assert seen == []


def test_the_session_answers_as_requests_does(server):
    httpd, seen, _ = server
    response = KeepAliveSession().post(_url(httpd, "/m"), data="hola", headers={"X-A": "1"}, auth=("user", "pw"))
    assert response.status_code == 200
    assert response.text == "hola"
    assert response.headers["x-echo"] == "yes"
    assert b"Authorization: Basic dXNlcjpwdw==" in seen[0][1]


@pytest.fixture
def scripted():
    """A raw server that answers each request with the pieces the test gives (written one by one, a pause between
    them, so the client reads them apart). Yields (server, script, connections): the test appends to `script` one
    answer per request, each a list of byte strings; b"" shuts the connection down there."""
    script: list[list[bytes]] = []
    connections = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            connections.append(self.connection)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while script and _read_request(self.rfile) is not None:
                for piece in script.pop(0):
                    if piece == b"":
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(0.02)

    with _serving(Handler) as httpd:
        yield httpd, script, connections


def _post(pool, httpd, path="/m"):
    return pool.request("POST", _url(httpd, path), body=b"x", headers={}, timeout=5)


def test_an_answer_read_in_pieces_is_whole_and_the_connection_kept(scripted):
    httpd, script, connections = scripted
    script += [
        [b"HTTP/1.1 201 Cre", b"ated\r\nContent-Type: application/json\r\nX-Long: a", b"b\r\n", b"Content-Len"]
        + [b"gth: 12\r\n\r\n", b'{"id": ', b'"a1"}'],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
    ]
    pool = KeepAlivePool()
    status, content, headers = _post(pool, httpd)
    assert (status, content) == (201, b'{"id": "a1"}')
    assert ("X-Long", "ab") in headers
    assert ("Content-Type", "application/json") in headers
    assert _post(pool, httpd)[1] == b"ok"
    assert len(connections) == 1


def test_a_chunked_answer_is_joined_its_extensions_and_trailers_skipped(scripted):
    httpd, script, connections = scripted
    script += [
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhel", b"lo\r\n", b"0", b"b\r\n"]
        + [b" wide world\r\n", b"0\r\nX-Trailer: 1\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ]
    pool = KeepAlivePool()
    assert _post(pool, httpd)[:2] == (200, b"hello wide world")
    assert _post(pool, httpd)[:2] == (200, b"")
    assert len(connections) == 1


def test_interim_answers_are_skipped_and_bodyless_statuses_read_no_body(scripted):
    httpd, script, connections = scripted
    script += [
        [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"],
    ]
    pool = KeepAlivePool()
    assert _post(pool, httpd) == (204, b"", [("X-A", "1")])
    assert _post(pool, httpd)[1] == b"1"
    assert len(connections) == 1


def test_a_head_answer_reads_no_body_though_it_gives_the_length_of_one(scripted):
    httpd, script, connections = scripted
    script += [
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-A: 1\r\n\r\n"],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"],
    ]
    pool = KeepAlivePool()
    assert pool.request("HEAD", _url(httpd, "/m"), body=None, headers={}, timeout=5) == (
        200,
        b"",
        [("Content-Length", "10"), ("X-A", "1")],
    )
    assert _post(pool, httpd)[1] == b"1"
    assert len(connections) == 1


@pytest.mark.parametrize(
    "answer",
    [
        [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\none"],
        [b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\none"],
        [b"HTTP/1.1 200 OK\r\n\r\non", b"e", b""],  # no length: the body runs until the server closes
        [b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1"],  # bytes nothing asked for: out of step
        [b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none\x00garbage"],  # and not even the start of an answer
    ],
    ids=["connection-close", "http-1.0", "until-close", "bytes-past-the-answer", "garbage-past-the-answer"],
)
def test_an_answer_that_ends_the_connection_is_read_and_the_next_request_opens_another(scripted, answer):
    httpd, script, connections = scripted
    script += [answer, [b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo"]]
    pool = KeepAlivePool()
    assert _post(pool, httpd)[:2] == (200, b"one")
    assert _post(pool, httpd)[:2] == (200, b"two")
    assert len(connections) == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ([b""], http.client.RemoteDisconnected),
        ([b"HTTP/1.1 200 OK\r\nContent-Le", b""], http.client.IncompleteRead),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", b""], http.client.IncompleteRead),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", b""], http.client.IncompleteRead),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], http.client.IncompleteRead),
        ([b"HTTP/1.1 2x0 OK\r\n\r\n"], http.client.BadStatusLine),
        ([b"SMTP/1.1 200 OK\r\n\r\n"], http.client.BadStatusLine),
        ([b"HTTP/2.0 200 OK\r\n\r\n"], http.client.UnknownProtocol),
        ([b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n"], http.client.HTTPException),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\nabc"], http.client.HTTPException),
        (
            [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"],
            http.client.HTTPException,
        ),
    ],
    ids=[
        "closed",
        "head-cut",
        "body-cut",
        "chunk-cut",
        "chunk-size",
        "status",
        "protocol",
        "version",
        "headers",
        "length",
        "upgrade",
    ],
)
def test_a_broken_answer_raises_as_http_client_does_and_its_connection_is_not_reused(scripted, answer, error):
    httpd, script, connections = scripted
    script += [answer, [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nagain"]]
    pool = KeepAlivePool()
    with pytest.raises(error):
        _post(pool, httpd)
    assert _post(pool, httpd)[1] == b"again"
    assert len(connections) == 2


def test_the_session_turns_a_dropped_answer_into_a_connection_error(scripted):
    httpd, script, _ = scripted
    script += [[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", b""]]
    with pytest.raises(requests.ConnectionError):
        KeepAliveSession().post(_url(httpd, "/m"), data="x")
