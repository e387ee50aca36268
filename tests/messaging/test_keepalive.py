"""The providers' keep-alive transport against a real HTTP/1.1 server on loopback: what reaches the wire, reuse of
one connection, and a connection the server closed."""

import socket
import socketserver
import threading

import pytest

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
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    head += chunk
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = self.rfile.read(length)
                seen.append((number, head + body))
                close = b" /close " in head.split(b"\r\n")[0]
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Echo: yes\r\n"
                answer += b"Connection: close\r\n" if close else b""
                self.wfile.write(answer + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                self.wfile.flush()
                if close:
                    return

    httpd = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, seen, connections
    httpd.shutdown()
    httpd.server_close()


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
