"""Real provider backends and webhooks (issue 13).

1. The drain through each real backend into its provider's API, served by a loopback server in another process
   (tests/messaging/providers/loopback.py, answering like Postmark, Twilio and the Graph API): email through
   django-anymail (Postmark), SMS through the `twilio` library, WhatsApp templates through the Graph API; msg/s of
   one worker process, next to the same drain into the in-memory backend measured in the same run (the ratio is
   what the provider call costs: building the request, HTTP on loopback, parsing the answer).
2. Status callbacks through a real WSGI server (gunicorn, gthread workers, HTTP keep-alive): Twilio status
   callbacks signed with X-Twilio-Signature, one per request, each for a different message, from client processes;
   then every callback resent, which must record nothing. The door commits each as received and one worker process
   applies them in batches meanwhile (services.received, the function Celery's messaging.callbacks_apply runs): the
   time runs until every callback is answered AND recorded, and the CPU counted is gunicorn's and that worker's.
   Baseline: the same callbacks recorded in process through
   `message_status_record`, without HTTP or signatures. Also Meta statuses in POSTs of --meta-batch (Meta groups
   statuses of a WhatsApp number in one webhook call).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_providers_bench .venv/bin/python benchmarks/providers.py
    .venv/bin/python benchmarks/providers.py --messages 2000 --callbacks 2000     # SQLite in a temporary file

Targets: >= 1,000 msg/s per worker process for anymail and Twilio; >= 1,000 status callbacks/s, each recorded once.
"""

import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.support.runs import (  # noqa: E402
    benchmark_parser,
    code_version,
    connection_backend_cpu_seconds,
    log,
    prepare_database,
    setup_django,
)

TWILIO_SID, TWILIO_TOKEN = "AC" + "0" * 32, "twilio-test-token"
BENCH_ENCRYPTION_KEY = "YmVuY2gtcHJvdmlkZXJzLWVuY3J5cHRpb24ta2V5LTA="  # noqa: S105 - a loopback benchmark's own key
META_SECRET = "bench-meta-app-secret"  # noqa: S105 - a loopback benchmark's own secret
BACKENDS = (
    # label, channel, backend, content
    ("in-memory (baseline)", "sms", "memory", {"text": "Rebajas de invierno: 20% en abrigos con FRIO20"}),
    ("anymail -> Postmark API", "email", "anymail", {"subject": "Rebajas de invierno", "body": "20% con FRIO20"}),
    # A personalised campaign: every message its own content, so none can share the ESP's batch call.
    (
        "anymail, personalised (1 call each)",
        "email",
        "anymail",
        lambda n: {"subject": f"Rebajas de invierno, cliente {n}", "body": f"Cliente {n}: 20% con FRIO20"},
    ),
    ("twilio -> Messages API", "sms", "twilio", {"text": "Rebajas de invierno: 20% en abrigos con FRIO20"}),
    ("meta -> WhatsApp Cloud API", "whatsapp", "meta", {"template": "winter_sale", "parameters": ["Ana", "FRIO20"]}),
)


def main() -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--messages", type=int, default=5_000, help="messages per drain run (5000)")
    parser.add_argument("--customers", type=int, default=1_000, help="recipients (1000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per backend (3)")
    parser.add_argument("--callbacks", type=int, default=5_000, help="status callbacks through the WSGI server (5000)")
    parser.add_argument(
        "--server-workers", type=int, default=0, help="gunicorn worker processes (2 on PostgreSQL, 1 on SQLite)"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (4, as deploy/)")
    parser.add_argument("--clients", type=int, default=4, help="client processes posting callbacks (4)")
    parser.add_argument("--meta-batch", type=int, default=50, help="statuses per Meta webhook POST (50)")
    parser.add_argument(
        "--connections", type=int, default=2, help="keep-alive connections per client process, one request each (2)"
    )
    parser.add_argument(
        "--part", choices=("all", "drain", "callbacks"), default="all", help="run only part 1 or 2 (all)"
    )
    parser.add_argument("--provider-port", type=int, default=0, help="the loopback provider's port (0: any free)")
    parser.add_argument("--server-port", type=int, default=0, help="gunicorn's port in part 2 (0: any free)")
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="cProfile the measured personalised-email drains (every thread's CPU time) into PATH (pstats)",
    )
    args = parser.parse_args()
    url, cleanup, description = prepare_database(os.environ.get("DATABASE_URL"))
    # SQLite has one writer: more server processes only queue on its lock (and time out under load).
    args.server_workers = args.server_workers or (2 if url.startswith("postgres") else 1)
    provider = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.messaging.providers.loopback", str(args.provider_port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(provider.stdout.readline())
        setup_django(url)
        return run(args, description, url, f"http://127.0.0.1:{port}", provider.pid)
    finally:
        provider.stdin.close()
        provider.wait(timeout=30)
        cleanup()


def configure(provider_url: str) -> None:
    from django.conf import settings

    from backoffice.messaging.backends import _backend

    settings.EVENTSTORE_AFTER_COMMIT_HOOKS = []
    # One key for this process and the gunicorn it starts: the callbacks the server keeps, this process's applier reads.
    settings.INTEGRATIONS_ENCRYPTION_KEY = BENCH_ENCRYPTION_KEY
    settings.MESSAGING_QUIET_HOURS = "off"
    settings.ANYMAIL_ESP_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": "bench:secret",
        "POSTMARK_SERVER_TOKEN": "postmark-test-token",
        "POSTMARK_API_URL": provider_url + "/",
    }
    settings.MESSAGING_PUBLIC_URL = "https://backoffice.example.es"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, TWILIO_TOKEN
    settings.TWILIO_FROM_SMS, settings.TWILIO_BASE_URL = "+34911000000", provider_url
    settings.META_ACCESS_TOKEN, settings.META_APP_SECRET = "meta-test-token", META_SECRET
    settings.WHATSAPP_PHONE_NUMBER_ID, settings.META_GRAPH_URL = "106540352242922", provider_url
    _backend.cache_clear()


def run(args, description: str, url: str, provider_url: str, provider_pid: int) -> int:
    import gc

    from django.conf import settings
    from django.db import connection

    from backoffice.celery import app as celery_app
    from backoffice.messaging.backends import _backend
    from backoffice.messaging.backends.local import MemoryBackend
    from backoffice.messaging.models import OutboundMessage, Status
    from backoffice.messaging.services import MessageRequest, messages_drain, messages_send
    from customers import services as customer_services
    from customers.services.ingestion import customer_register

    configure(provider_url)
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "memory://"
    log(f"registering {args.customers} customers with consent for email, SMS and WhatsApp marketing")
    customers = []
    for n in range(args.customers):
        customer_id, _ = customer_register(
            customer={"email": f"cliente{n}@example.es", "phone": f"+3461{n:07d}"}, channel="web", actor="bench"
        )
        for channel in ("email", "sms", "whatsapp"):
            customer_services.consent_record(
                customer_id=customer_id,
                channel=channel,
                purpose="marketing",
                is_granted=True,
                source_channel="web",
                actor="bench",
            )
        customers.append(customer_id)

    def settle() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE" if connection.vendor == "postgresql" else "PRAGMA wal_checkpoint(TRUNCATE)")
        gc.collect()

    provider_cpu = _process_cpu(provider_pid)

    def drain_through(
        channel: str, backend: str, content, count: int, *, profile_this: bool = False
    ) -> tuple[float, float, float, float]:
        """Drain `count` messages through the backend; `content` is the messages' content, or a function of the
        message's number giving each its own. `profile_this`: under cProfile (its figures then are the profiler's)."""
        settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, channel: backend}
        _backend.cache_clear()
        for offset in range(0, count, 500):
            batch = [
                MessageRequest(
                    customers[n % len(customers)],
                    channel,
                    "marketing",
                    content(n) if callable(content) else content,
                    f"b-{uuid.uuid4()}",
                    "c-1",
                )
                for n in range(offset, min(count, offset + 500))
            ]
            messages_send(messages=batch, actor="bench")
        settle()
        database_cpu = lambda: connection_backend_cpu_seconds(connection) or 0.0  # noqa: E731 - 0 on SQLite: in process
        started, cpu, db_cpu, answer_cpu = time.perf_counter(), time.process_time(), database_cpu(), provider_cpu()
        result = profiled(messages_drain)(max_seconds=3600) if profile_this else messages_drain(max_seconds=3600)
        elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
        db_used, answer_used = database_cpu() - db_cpu, provider_cpu() - answer_cpu
        assert result.sent == count, vars(result)
        return count / elapsed, count / cpu_used, 1000 * (cpu_used + db_used) / count, 1000 * answer_used / count

    load_before = os.getloadavg()
    figures: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, *_ in BACKENDS}
    if args.part in ("all", "drain"):
        log("warm-up")
        for _label, channel, backend, content in BACKENDS:
            drain_through(channel, backend, content, min(500, args.messages))
        for round_ in range(args.rounds):
            for label, channel, backend, content in BACKENDS:
                MemoryBackend.reset()
                log(f"round {round_ + 1}: drain {args.messages} through {label}")
                profile_this = bool(args.profile) and backend == "anymail" and callable(content)
                figures[label].append(
                    drain_through(channel, backend, content, args.messages, profile_this=profile_this)
                )
        assert not OutboundMessage.objects.exclude(status=Status.SENT).exists()
        if args.profile:
            _profiles_save(args.profile)

    callbacks = measure_callbacks(args, url, provider_url, customers) if args.part in ("all", "callbacks") else []
    load_after = os.getloadavg()

    print(f"Real provider backends and webhooks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {description}")
    print(f"code: {code_version()}")
    print(
        f"machine: {os.cpu_count()} cores shared with the database server and the loopback provider; load average "
        f"{', '.join(f'{x:.1f}' for x in load_before)} at the start, {', '.join(f'{x:.1f}' for x in load_after)} "
        "at the end"
    )
    if args.part in ("all", "drain"):
        print()
        print(
            f"1. drain, one worker process, {args.messages:,} marketing messages per run to {args.customers:,} "
            f"customers (consent, address, channel rules checked), batches of {settings.MESSAGING_DRAIN_BATCH}; "
            f"{args.rounds} alternating rounds, median (min-max); per CPU-second: of the worker process (its send "
            "threads included); CPU ms/msg: the worker's and its database session's; provider: the loopback "
            "provider process's, on the same cores (a real provider's is not ours)"
        )
        print(
            f"{'backend -> provider on loopback':34}  {'msg/s':>24}  ratio  {'per CPU-second':>14}  ratio  "
            "CPU ms/msg  provider  target  met"
        )
        baseline = statistics.median(f[0] for f in figures[BACKENDS[0][0]])
        baseline_cpu = statistics.median(f[1] for f in figures[BACKENDS[0][0]])
        for label, _channel, backend, _content in BACKENDS:
            rates = [f[0] for f in figures[label]]
            median = statistics.median(rates)
            cpu = statistics.median(f[1] for f in figures[label])
            cpu_ms = statistics.median(f[2] for f in figures[label])
            provider_ms = statistics.median(f[3] for f in figures[label])
            target = 1000 if backend in ("anymail", "twilio") else None
            met = "-" if target is None else ("yes" if median >= target else "NO")
            cell = f"{median:8,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
            print(
                f"{label:34}  {cell:>24}  {median / baseline:5.2f}  {cpu:14,.0f}  {cpu / baseline_cpu:5.2f}  "
                f"{cpu_ms:10.3f}  {provider_ms:8.3f}  {target or '-':>6}  {met}"
            )
    if callbacks:
        print()
        print(
            f"2. status callbacks through gunicorn (production settings, {args.server_workers} gthread workers x "
            f"{args.threads} threads, keep-alive) from {args.clients} client processes x {args.connections} "
            "connections (pre-built signed requests on raw sockets), each callback for a different message; Twilio's "
            "applied by 1 worker process; rate = answered and recorded. CPU per callback: server = gunicorn's workers "
            "+ that worker; PostgreSQL = the backends of this database; clients = the client processes"
        )
        for line in callbacks:
            print(line)
    print()
    print("ratio (1): against the in-memory backend in the same run; (2): against recording the same callbacks in")
    print("process (message_status_record, no HTTP, no signature). The provider runs in its own process on the same")
    print("2 cores, and so do the client processes of (2): every figure competes with them for the CPU.")
    return 0


_profiles: list = []


def profiled(function):
    """`function` under cProfile, counting each thread's CPU time (not the time it waits for the provider or for the
    GIL): its own thread's, and the drain's send lanes on the send threads, each profiled while it runs."""
    import cProfile

    from backoffice.messaging.services import pipeline

    def run(*args, **kwargs):
        send_lane = pipeline._send_lane

        def lane_profiled(chunks, deadline):
            profile = cProfile.Profile(time.thread_time)
            _profiles.append(profile)
            profile.runcall(send_lane, chunks, deadline)

        profile = cProfile.Profile(time.thread_time)
        _profiles.append(profile)
        pipeline._send_lane = lane_profiled
        try:
            return profile.runcall(function, *args, **kwargs)
        finally:
            pipeline._send_lane = send_lane

    return run


def _profiles_save(path: str) -> None:
    import pstats

    stats = pstats.Stats(*_profiles)
    stats.dump_stats(path)
    log(f"profile of the personalised drains in {path}; by own time:")
    stats.sort_stats("tottime").print_stats(40)


def _process_cpu(pid: int):
    """A function giving the CPU seconds of that process so far (the database session's, the loopback provider's), or
    0 when it is out of reach (not on this machine)."""
    import psutil

    try:
        process = psutil.Process(pid)
        process.cpu_times()
    except (psutil.Error, OSError):
        return lambda: 0.0
    return lambda: sum(process.cpu_times()[:2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _raw_request(port: int, path: str, content_type: str, body: str | bytes, headers: dict) -> bytes:
    """One HTTP/1.1 request as the bytes put on the wire, built before the clock starts."""
    payload = body.encode() if isinstance(body, str) else body
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Type: {content_type}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class _Answers:
    """Reads HTTP/1.1 answers off a keep-alive socket with just enough parsing to find where each ends: the status
    line, then Content-Length or chunked transfer encoding (gunicorn chunks a body of unknown length)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def _until(self, mark: bytes, start: int = 0) -> int:
        while (at := self.buffer.find(mark, start)) < 0:
            self._more()
        return at

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _skip(self, count: int) -> None:
        while len(self.buffer) < count:
            self._more()
        self.buffer = self.buffer[count:]

    def status(self) -> int:
        end = self._until(b"\r\n\r\n")
        head = self.buffer[:end].lower()
        status = int(head[9:12])
        self.buffer = self.buffer[end + 4 :]
        if (at := head.find(b"\r\ncontent-length:")) >= 0:
            stop = head.find(b"\r\n", at + 2)
            self._skip(int(head[at + 17 : stop if stop >= 0 else len(head)]))
        elif b"\r\ntransfer-encoding: chunked" in head:
            while True:
                line = self._until(b"\r\n")
                size = int(self.buffer[:line].split(b";")[0], 16)
                self._skip(line + 2 + size + 2)  # the size line, the data and its CRLF
                if size == 0:
                    break
        return status


def _exchange_all(port: int, requests: list[bytes]) -> int:
    """Send each request on one keep-alive socket and read its whole answer before the next; how many were 2xx."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        answers, ok = _Answers(sock), 0
        for request in requests:
            sock.sendall(request)
            ok += 200 <= answers.status() < 300
    return ok


def _post_all(args: tuple) -> tuple[int, float]:
    """A client process: its requests over `connections` keep-alive sockets, one thread each (the threads only wait
    on sockets); returns how many answered 2xx and the CPU seconds this process spent."""
    from concurrent.futures import ThreadPoolExecutor

    port, requests, connections = args
    cpu = time.process_time()
    shares = [requests[n::connections] for n in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        ok = sum(pool.map(lambda share: _exchange_all(port, share), shares))
    return ok, time.process_time() - cpu


def _blast(port: int, path: str, content_type: str, requests: list, clients: int, connections: int = 1):
    """Post `requests` ((body, headers) pairs) from `clients` processes, each over `connections` sockets: (the
    perf_counter when the first request went, seconds until the last answer, answered 2xx, the clients' CPU s)."""
    raw = [_raw_request(port, path, content_type, body, headers) for body, headers in requests]
    shares = [raw[n::clients] for n in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        pool.map(time.sleep, [0] * clients)  # the processes are up before the clock starts
        started = time.perf_counter()
        results = pool.map(_post_all, [(port, share, connections) for share in shares])
        elapsed = time.perf_counter() - started
    return started, elapsed, sum(ok for ok, _cpu in results), sum(cpu for _ok, cpu in results)


def _applier(stop) -> None:
    """Stands in for the Celery worker that applies received callbacks (task messaging.callbacks_apply runs this same
    function): applies whatever is there, then waits MESSAGING_CALLBACK_APPLY_DELAY, as in production, where the web
    processes wake the task at most that often, with that countdown (so its batches are as large as there)."""
    from django.conf import settings
    from django.db import connections

    from backoffice.messaging.services.received import received_callbacks_apply

    connections.close_all()  # forked: never share the parent's connection
    while not stop.is_set():
        received_callbacks_apply()
        time.sleep(settings.MESSAGING_CALLBACK_APPLY_DELAY)
    connections.close_all()


def _settled(before: int, expected: int, event_type: str = "message.delivered", timeout: float = 600) -> int:
    """Wait until the received callbacks are all applied (none left) and `expected` new events are there; returns
    how many new events there are then."""
    from backoffice.eventstore.models import Event
    from backoffice.messaging.models import ReceivedCallback

    deadline = time.monotonic() + timeout
    while True:
        recorded = Event.objects.filter(type=event_type).count() - before
        if (recorded >= expected and not ReceivedCallback.objects.exists()) or time.monotonic() > deadline:
            return recorded
        time.sleep(0.01)


def measure_callbacks(args, url: str, provider_url: str, customers: list) -> list[str]:
    from django.conf import settings
    from django.db import connection
    from twilio.request_validator import RequestValidator

    from backoffice.eventstore.models import Event
    from backoffice.messaging.backends import _backend
    from backoffice.messaging.models import OutboundMessage, StatusCallback
    from backoffice.messaging.services import MessageRequest, message_status_record, messages_drain, messages_send

    count = args.callbacks
    log(f"sending {2 * count} SMS and {count} WhatsApp templates to have messages to call back about")
    for channel, backend, content, total in (
        ("sms", "twilio", {"text": "Aviso"}, 2 * count),
        ("whatsapp", "meta", {"template": "winter_sale", "parameters": ["Ana"]}, count),
    ):
        settings.MESSAGING_BACKENDS = {**settings.MESSAGING_BACKENDS, channel: backend}
        _backend.cache_clear()
        for offset in range(0, total, 500):
            messages_send(
                messages=[
                    MessageRequest(customers[n % len(customers)], channel, "service", content, f"cb-{uuid.uuid4()}")
                    for n in range(offset, min(total, offset + 500))
                ],
                actor="bench",
            )
        messages_drain(max_seconds=3600)
    sms = list(OutboundMessage.objects.filter(channel="sms", status="sent", delivery_status="")[: 2 * count])
    baseline_rows, served_rows = sms[:count], sms[count:]
    whatsapp = list(OutboundMessage.objects.filter(channel="whatsapp", status="sent", delivery_status="")[:count])

    log(f"baseline: {count} callbacks recorded in process")
    started, cpu = time.perf_counter(), time.process_time()
    for row in baseline_rows:
        message_status_record(channel="sms", provider_message_id=row.provider_message_id, status="delivered")
    baseline = count / (time.perf_counter() - started)
    cpu_baseline = time.process_time() - cpu

    port = args.server_port or _free_port()
    public = f"http://127.0.0.1:{port}"
    validator = RequestValidator(TWILIO_TOKEN)
    twilio_requests = []
    for row in served_rows:
        params = {
            "AccountSid": TWILIO_SID,
            "ApiVersion": "2010-04-01",
            "From": "+34911000000",
            "MessageSid": row.provider_message_id,
            "MessageStatus": "delivered",
            "SmsSid": row.provider_message_id,
            "SmsStatus": "delivered",
            "To": "+34610000000",
        }
        signature = validator.compute_signature(f"{public}/api/v1/providers/twilio/status", params)
        twilio_requests.append((urllib.parse.urlencode(params), {"X-Twilio-Signature": signature}))
    meta_requests = []
    now = str(int(time.time()))
    for offset in range(0, len(whatsapp), args.meta_batch):
        statuses = [
            {"id": row.provider_message_id, "status": "delivered", "timestamp": now, "recipient_id": "34610000000"}
            for row in whatsapp[offset : offset + args.meta_batch]
        ]
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": "102290129340398",
                        "changes": [
                            {
                                "field": "messages",
                                "value": {
                                    "messaging_product": "whatsapp",
                                    "metadata": {"display_phone_number": "34911000001", "phone_number_id": "1065"},
                                    "statuses": statuses,
                                },
                            }
                        ],
                    }
                ],
            }
        ).encode()
        signature = "sha256=" + hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
        meta_requests.append((body, {"X-Hub-Signature-256": signature}))
    connection.close()

    # Served as in production (production settings, tasks published to a broker, not run in the request: the test
    # settings' eager Celery would run the async projections' catch-up inside every callback's request).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.production",
        "SECRET_KEY": "providers-benchmark-secret-key-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "CELERY_BROKER_URL": "memory://",
        "DATABASE_URL": url,
        "CONN_MAX_AGE": "600",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "META_APP_SECRET": META_SECRET,
        "INTEGRATIONS_ENCRYPTION_KEY": BENCH_ENCRYPTION_KEY,
        "LOG_LEVEL": "ERROR",
    }
    log(f"gunicorn on 127.0.0.1:{port}, {args.server_workers} workers")
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backoffice.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.server_workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        form = "application/x-www-form-urlencoded"
        import psutil

        def server_cpu() -> float:
            # The CPU seconds of gunicorn's workers: the request path's cost, whatever else shares the machine.
            workers = psutil.Process(server.pid).children(recursive=True)
            return sum(sum(w.cpu_times()[:2]) for w in workers)

        def _cpu_of(pid: int) -> float:
            try:
                return sum(psutil.Process(pid).cpu_times()[:2])
            except psutil.NoSuchProcess:
                return 0.0

        def postgres_cpu() -> dict[int, float]:
            # The backends serving this database (gunicorn's and the applier's connections; not this process's
            # own, which only counts the results): a backend that exits during a step is not counted.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                return {pid: _cpu_of(pid) for (pid,) in cursor.fetchall()}

        def postgres_cpu_since(before: dict[int, float]) -> float:
            if connection.vendor != "postgresql":
                return 0.0
            return sum(cpu - before.get(pid, 0.0) for pid, cpu in postgres_cpu().items())

        def twilio_step(applier_pid: int, expected_before: int, expected: int) -> dict:
            """Post every Twilio callback; wait until they are answered and applied: rate and CPU per part."""
            pg = postgres_cpu() if connection.vendor == "postgresql" else {}
            cpu_server, cpu_applier = server_cpu(), _cpu_of(applier_pid)
            started, _elapsed, answered, cpu_clients = _blast(
                port, "/api/v1/providers/twilio/status", form, twilio_requests, args.clients, args.connections
            )
            recorded = _settled(expected_before, expected)
            return {
                "elapsed": time.perf_counter() - started,  # answered AND recorded
                "answered": answered,
                "recorded": recorded,
                "server": server_cpu() - cpu_server,
                "applier": _cpu_of(applier_pid) - cpu_applier,
                "postgres": postgres_cpu_since(pg),
                "clients": cpu_clients,
            }

        # Warm every worker (imports, connections, prepared statements) with requests that record nothing.
        _blast(port, "/api/v1/providers/twilio/status", form, [("x=1", {})] * 40, args.clients, args.connections)
        before = Event.objects.filter(type="message.delivered").count()
        log(f"{len(twilio_requests)} Twilio status callbacks, applied by 1 worker process meanwhile")
        connection.close()
        fork = multiprocessing.get_context("fork")
        stop = fork.Event()
        applier = fork.Process(target=_applier, args=(stop,))
        applier.start()
        first = twilio_step(applier.pid, before, len(twilio_requests))
        log("the same callbacks again (Twilio retrying): nothing new may be recorded")
        again = twilio_step(applier.pid, before + first["recorded"], 0)
        stop.set()
        applier.join(timeout=60)
        log(f"{len(whatsapp)} Meta statuses in POSTs of {args.meta_batch}")
        before_meta = Event.objects.filter(type="message.delivered", channel="whatsapp").count()
        pg = postgres_cpu() if connection.vendor == "postgresql" else {}
        cpu = server_cpu()
        _started, meta_elapsed, meta_answered, meta_clients = _blast(
            port, "/api/v1/providers/meta/webhook", "application/json", meta_requests, args.clients, args.connections
        )
        meta = {
            "server": server_cpu() - cpu,
            "applier": 0.0,
            "postgres": postgres_cpu_since(pg),
            "clients": meta_clients,
        }
        meta_recorded = Event.objects.filter(type="message.delivered", channel="whatsapp").count() - before_meta
    finally:
        server.terminate()
        server.wait(timeout=30)
    callbacks_total = StatusCallback.objects.filter(message__channel="sms").count()
    assert first["answered"] == len(twilio_requests) == first["recorded"], (first["answered"], first["recorded"])
    assert again["answered"] == len(twilio_requests), again["answered"]
    assert again["recorded"] == 0, again["recorded"]
    assert meta_answered == len(meta_requests), meta_answered
    assert meta_recorded == len(whatsapp), meta_recorded
    assert callbacks_total == 2 * count
    rate = len(twilio_requests) / first["elapsed"]
    again_rate = len(twilio_requests) / again["elapsed"]
    meta_rate = len(whatsapp) / meta_elapsed

    def cpu(figures: dict, items: int) -> str:
        server = figures["server"] + figures["applier"]
        return (
            "  ".join(f"{1000 * seconds / items:6.3f}" for seconds in (server, figures["postgres"], figures["clients"]))
            + f"  {1000 * (server + figures['postgres'] + figures['clients']) / items:6.3f}"
        )

    return [
        f"{'what':58}  {'callbacks/s':>11}  ratio  target  met  CPU ms/callback: server  postgres  clients  total",
        f"{'baseline: message_status_record in process':58}  {baseline:11,.0f}  {1:5.2f}  {'-':>6}    -  "
        f"{1000 * cpu_baseline / count:6.3f} (this process)",
        f"{'Twilio status callbacks, one per POST, each recorded once':58}  {rate:11,.0f}  {rate / baseline:5.2f}  "
        f"{1000:>6}  {'yes' if rate >= 1000 else ' NO'}  {cpu(first, len(twilio_requests))}",
        f"{'the same callbacks resent: 0 recorded':58}  {again_rate:11,.0f}  {again_rate / baseline:5.2f}  "
        f"{'-':>6}    -  {cpu(again, len(twilio_requests))}",
        f"{f'Meta statuses, {args.meta_batch} per POST, each recorded once':58}  "
        f"{meta_rate:11,.0f}  {meta_rate / baseline:5.2f}  {1000:>6}  {'yes' if meta_rate >= 1000 else ' NO'}  "
        f"{cpu(meta, len(whatsapp))}",
        f"(Twilio: of the server's CPU, gunicorn's workers {1000 * first['server'] / len(twilio_requests):.3f} ms, "
        f"the applying worker {1000 * first['applier'] / len(twilio_requests):.3f} ms per callback)",
    ]


if __name__ == "__main__":
    sys.exit(main())
