"""What the loopback HTTP providers share: a handler that answers JSON and logs nothing, and a threaded server on
127.0.0.1 started and stopped the same way."""

import http.server
import threading

import orjson


class JsonAnswerHandler(http.server.BaseHTTPRequestHandler):
    def answer_json(self, status: int, answer) -> None:
        payload = orjson.dumps(answer)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout, or a killed worker)

    def log_message(self, *args):
        pass


def serve_in_thread(
    handler: type[http.server.BaseHTTPRequestHandler], port: int = 0
) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def shut_down(server: http.server.ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
