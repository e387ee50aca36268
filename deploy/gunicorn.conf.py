"""gunicorn settings for the back-office: `gunicorn -c deploy/gunicorn.conf.py backoffice.wsgi`.

Every value can be changed from the environment (GUNICORN_* below; gunicorn's own GUNICORN_CMD_ARGS too).

- Workers from the cores: one process per core by default. Appends hold the event store's lock until commit, so more
  processes than cores is slower on writes (README, benchmarks/orders.py); each process has a few threads so that a
  request waiting on PostgreSQL or a provider does not hold a whole core.
- Timeouts: a worker silent for `timeout` seconds is killed and replaced; on SIGTERM or SIGHUP workers get
  `graceful_timeout` seconds to finish the requests they hold.
- Graceful reload: `kill -HUP <master pid>` (systemctl reload) starts new workers with the new code and settings and
  lets the old ones finish; `max_requests` (with jitter) recycles workers now and then.
- Access log without personal data: every line passes backoffice.logs.MaskPersonalData (query values masked), and
  with LOG_FORMAT=json it is written as JSON lines like the application's logs. It carries the request id.
- Metrics: several processes serve requests, so prometheus_client runs in multiprocess mode in a directory emptied
  at start; a dead worker's files are marked so its gauges stop counting.
"""

import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backoffice.logs import JsonLinesFormatter, MaskPersonalData  # noqa: E402,F401 - named in logconfig_dict


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.production")
# Before any worker imports prometheus_client: the value class it picks depends on this variable.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(tempfile.gettempdir()) / f"backoffice-metrics-{os.getuid()}")
)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count())
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
# Bodies are bounded by Django (DATA_UPLOAD_MAX_MEMORY_SIZE); these bound the request line and headers.
limit_request_line = 8190
limit_request_fields = 100
# The app is loaded in each worker, not in the master: a reload (HUP) then picks up new code.
preload_app = False
# Behind a proxy on the same machine: trust its X-Forwarded-* (set FORWARDED_ALLOW_IPS for a proxy elsewhere).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "backoffice-web"
# gunicorn's control socket (gunicornc) is not used here, and one fixed path per user would collide between servers.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "off") == "off"

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# %(r)s is the request line (its query values are masked by the filter); the request id is our response header.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
_formatter = "json" if os.environ.get("LOG_FORMAT", "plain") == "json" else "plain"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "backoffice.logs.JsonLinesFormatter"},
    },
    "filters": {"mask_personal_data": {"()": "backoffice.logs.MaskPersonalData"}},
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "formatter": _formatter,
            "filters": ["mask_personal_data"],
            "stream": "ext://sys.stdout",
        },
        "error": {
            "class": "logging.StreamHandler",
            "formatter": _formatter,
            "filters": ["mask_personal_data"],
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": "INFO", "handlers": []},  # Django's LOGGING configures it in each worker
    "loggers": {
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["error"], "level": loglevel.upper(), "propagate": False},
    },
}


def on_starting(server):
    """A fresh metrics directory: samples of a previous run must not be summed into this one."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
