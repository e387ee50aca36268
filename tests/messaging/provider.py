"""A real HTTP provider on loopback, for the webhook backend: it records every request, verifies nothing itself,
and dedupes by Idempotency-Key the way real providers do (a key seen before answers the same id, sends nothing)."""

import http.server
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from tests.messaging.http_loopback import JsonAnswerHandler, serve_in_thread, shut_down


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    idempotency_key: str


@dataclass
class LoopbackProvider:
    status: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> provider id, first acceptance only
    acceptances: Counter = field(default_factory=Counter)  # how many times each key was accepted as new
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None
    # Hold the request numbered `hold_at` (1-based) after accepting it, until `release` is set: the moment a crash
    # hurts most (the provider has the message, the sender has not heard back).
    hold_at: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/messages"

    def start(self) -> "LoopbackProvider":
        provider = self

        class Handler(JsonAnswerHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key", "")
                if provider.delay:
                    time.sleep(provider.delay)
                with provider.lock:
                    provider.requests.append(Received(self.path, dict(self.headers), body, key))
                    status = provider.status
                    if status == 200:
                        if key not in provider.accepted:
                            provider.accepted[key] = f"prov-{uuid.uuid4().hex}"
                            provider.acceptances[key] += 1
                        answer = {"id": provider.accepted[key]}
                    else:
                        answer = {"error": "unavailable"}
                    should_hold = provider.hold_at and len(provider.requests) == provider.hold_at
                if should_hold:
                    provider.holding.set()
                    provider.release.wait(timeout=30)
                self.answer_json(status, answer)

        self.server = serve_in_thread(Handler)
        return self

    def stop(self) -> None:
        shut_down(self.server)
