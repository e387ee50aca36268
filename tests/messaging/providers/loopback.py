"""Real HTTP servers on 127.0.0.1 answering like the providers' send APIs, for tests and benchmarks:

- Postmark: POST /email (X-Postmark-Server-Token), answering {"To", "SubmittedAt", "MessageID", "ErrorCode": 0,
  "Message": "OK"} as https://postmarkapp.com/developer/api/email-api documents, and POST /email/batch (an array of
  messages, answered by an array of those results); an address in `postmark_inactive` is answered ErrorCode 406;
- Twilio: POST /2010-04-01/Accounts/{AccountSid}/Messages.json (HTTP basic auth with the account SID and auth
  token, form-encoded), answering 201 with the Message resource (sid SM..., status queued); a repeated
  I-Twilio-Idempotency-Token answers the first message again and sends nothing new;
- Meta Graph API: POST /v21.0/{phone-number-id}/messages (WhatsApp Cloud API) and /v21.0/me/messages (Messenger,
  Instagram) with a bearer token, answering {"messaging_product": "whatsapp", "contacts": [...], "messages":
  [{"id": "wamid..."}]} or {"recipient_id", "message_id"}.

Each keeps what it received (`requests`), counts deliveries per idempotency key (`deliveries`), can be made to fail
(`status`) or to hold one request until released (`hold_at`, for the kill test), and runs with HTTP/1.1 keep-alive
so a client reuses its connection. `python -m tests.messaging.providers.loopback` runs one alone (benchmarks) and
prints its port.
"""

import base64
import http.server
import sys
import threading
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from tests.messaging.http_loopback import JsonAnswerHandler, serve_in_thread, shut_down


@dataclass
class Received:
    provider: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return orjson.loads(self.body)

    def form(self) -> dict:
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode()).items()}


_POSTMARK_TOKEN_INVALID = {
    "ErrorCode": 10,
    "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid.",
}


@dataclass
class LoopbackProviders:
    postmark_token: str = "postmark-test-token"
    twilio_sid: str = "AC" + "0" * 32
    twilio_token: str = "twilio-test-token"
    meta_token: str = "meta-test-token"
    status: int = 0  # answer every send with this HTTP status instead (0: normal answers)
    keep_requests: bool = True
    requests: list[Received] = field(default_factory=list)
    deliveries: Counter = field(default_factory=Counter)  # idempotency key (or provider id) -> messages delivered
    answered: dict = field(default_factory=dict)  # idempotency key -> provider id first given
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_at: int = 0
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: http.server.ThreadingHTTPServer | None = None
    count: int = 0
    postmark_inactive: set[str] = field(default_factory=set)  # addresses Postmark refuses (406: bounced before)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def by(self, provider: str) -> list[Received]:
        return [r for r in self.requests if r.provider == provider]

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict, str]:
        """(status, JSON answer, provider) for one request."""
        if path == "/email":
            return self._postmark(headers, body)
        if path == "/email/batch":
            return self._postmark_batch(headers, body)
        if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
            return self._twilio(path, headers, body)
        if path.startswith("/v21.0/") and path.endswith("/messages"):
            return self._meta(path, headers, body)
        return 404, {"error": "no such endpoint"}, "unknown"

    def _postmark(self, headers, body):
        if headers.get("X-Postmark-Server-Token") != self.postmark_token:
            return 401, _POSTMARK_TOKEN_INVALID, "postmark"
        return 200, self._postmark_one(orjson.loads(body)), "postmark"

    def _postmark_batch(self, headers, body):
        """Postmark's batch send: an array of messages, answered by an array of results in the same order."""
        if headers.get("X-Postmark-Server-Token") != self.postmark_token:
            return 401, _POSTMARK_TOKEN_INVALID, "postmark"
        return 200, [self._postmark_one(payload) for payload in orjson.loads(body)], "postmark"

    def _postmark_one(self, payload: dict) -> dict:
        if payload.get("To", "").lower() in self.postmark_inactive:
            return {
                "ErrorCode": 406,
                "Message": "You tried to send to a recipient that has been marked as inactive.\nFound inactive "
                f"addresses: {payload['To'].lower()}.\nInactive recipients are ones that have generated a hard "
                "bounce or a spam complaint.",
            }
        message_id = str(uuid.uuid4())
        key = (payload.get("Metadata") or {}).get("message_id") or message_id
        with self.lock:
            self.deliveries[key] += 1
        return {
            "To": payload.get("To"),
            "SubmittedAt": datetime.now(UTC).isoformat(),
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }

    def _twilio(self, path, headers, body):
        expected = "Basic " + base64.b64encode(f"{self.twilio_sid}:{self.twilio_token}".encode()).decode()
        if headers.get("Authorization") != expected or f"/Accounts/{self.twilio_sid}/" not in path:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}, "twilio"
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if not form.get("To") or not (form.get("Body") or form.get("ContentSid")):
            return 400, {"code": 21602, "message": "Message body is required.", "status": 400}, "twilio"
        key = headers.get("I-Twilio-Idempotency-Token") or ""
        with self.lock:
            sid = self.answered.get(key) if key else None
            if sid is None:
                sid = "SM" + uuid.uuid4().hex
                if key:
                    self.answered[key] = sid
                self.deliveries[key or sid] += 1
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return (
            201,
            {
                "account_sid": self.twilio_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.twilio_sid}/Messages/{sid}/Media.json"},
                "to": form.get("To"),
                "uri": f"/2010-04-01/Accounts/{self.twilio_sid}/Messages/{sid}.json",
            },
            "twilio",
        )

    def _meta(self, path, headers, body):
        if headers.get("Authorization") != f"Bearer {self.meta_token}":
            return (
                401,
                {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
                "meta",
            )
        payload = orjson.loads(body)
        if path.endswith("/me/messages"):
            mid = "m_" + uuid.uuid4().hex
            with self.lock:
                self.deliveries[mid] += 1
            return 200, {"recipient_id": payload["recipient"]["id"], "message_id": mid}, "meta"
        if payload.get("messaging_product") != "whatsapp":
            return (
                400,
                {"error": {"message": "(#100) The parameter messaging_product is required.", "code": 100}},
                "meta",
            )
        wamid = "wamid." + base64.b64encode(uuid.uuid4().bytes).decode()
        with self.lock:
            self.deliveries[wamid] += 1
        return (
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            },
            "meta",
        )

    def start(self, port: int = 0) -> "LoopbackProviders":
        providers = self

        class Handler(JsonAnswerHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without TCP_NODELAY the body waits for the client's delayed
            # ACK (40 ms a request on Linux).
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer, provider = providers.answer(self.path, self.headers, body)
                if providers.status:
                    status, answer = providers.status, {"error": {"message": "unavailable", "code": 2}}
                with providers.lock:
                    providers.count += 1
                    if providers.keep_requests:
                        providers.requests.append(Received(provider, self.path, dict(self.headers), body))
                    should_hold = providers.hold_at and providers.count == providers.hold_at
                if should_hold:
                    providers.holding.set()
                    providers.release.wait(timeout=30)
                self.answer_json(status, answer)

        self.server = serve_in_thread(Handler, port)
        return self

    def stop(self) -> None:
        shut_down(self.server)


if __name__ == "__main__":
    running = LoopbackProviders(keep_requests=False).start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(running.server.server_address[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    print(sum(running.deliveries.values()), max(running.deliveries.values(), default=0), flush=True)
