"""Settings shared by every environment, read from the environment through django-environ.

Environment-specific modules (local, test, production) import this and change little. Nothing secret has a
default here: a missing SECRET_KEY is only tolerated when DEBUG is on.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Plain enums, no Django: safe to read before the apps load.
from backoffice.eventstore.vocabulary import OUTBOUND_CHANNELS

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-used-when-debug-is-off"  # noqa: S105 - refused below when DEBUG is off
SECRET_KEY = env.str("SECRET_KEY", default="") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY or (not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 32)):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in the environment to a random value of at least 32 characters when DEBUG is off."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    # django-axes and django-otp's device plugins, named in the admin in the page's language (the module says how).
    "backoffice.accounts.third_party_apps.AxesConfig",
    "django_otp",
    "backoffice.accounts.third_party_apps.TOTPDevicesConfig",
    "backoffice.accounts.third_party_apps.StaticDevicesConfig",
    "backoffice.accounts",
    "backoffice.eventstore",
    "backoffice.messaging",
    "customers",
    "orders",
    "campaigns",
    "backoffice.insights",
    "backoffice.staff",
    "backoffice.integrations",
    "backoffice.demo",
    "anymail",
]

MIDDLEWARE = [
    # First: every request gets its id (X-Request-ID) and is timed, redirects and refusals included.
    "backoffice.observability.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Reads of GET requests on the read replica (DATABASE_REPLICA_URL), a request's own writes on the primary.
    "backoffice.replica.ReadReplicaMiddleware",
    # Content-Security-Policy (with a nonce per request) and security headers on the admin and staff pages.
    "backoffice.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor (django-otp)...
    "django_otp.middleware.OTPMiddleware",
    # ...and the admin and staff pages ask for it, or for enrolment where the role requires it.
    "backoffice.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers 429 to a login from a username and address locked out (backoffice.accounts.throttling).
    "axes.middleware.AxesMiddleware",
]

# Machines' signed requests (provider and shop webhooks, the tracking API) go through these middleware only
# (backoffice.wsgi): they carry no session, login, second factor, CSRF token or language. Not the one-click
# unsubscribe (/api/v1/providers/email/unsubscribe/): a person's browser opens it.
MACHINE_PATH_PREFIXES = ["/v1/", "/integrations/", "/anymail/", "/api/v1/providers/twilio/", "/api/v1/providers/meta/"]
MACHINE_MIDDLEWARE = [
    "backoffice.observability.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "backoffice.replica.ReadReplicaMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: SQLite file by default, DATABASE_URL=postgres://... for PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # IMMEDIATE takes the write lock at BEGIN, so a transaction never fails halfway when it upgrades
            # from reader to writer, and the event store can assign positions under that lock.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # A larger WAL between checkpoints: +25% on batched appends (benchmarks/), for a WAL file of ~40 MB.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA wal_autocheckpoint=10000;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Parameters sent apart from the SQL (server-side binding), so psycopg prepares a statement a connection
        # runs a 5th time: PostgreSQL parses and plans it once. Placing an order: 2.8 -> 1.6 ms of PostgreSQL CPU
        # (benchmarks/orders.py). Turn off behind a transaction-pooling PgBouncer older than 1.21.
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
# A streaming replica (hot standby) of the PostgreSQL primary, for reads: DATABASE_REPLICA_URL=postgres://... adds
# the `replica` alias; selectors' reads in GET requests go there, writes and a request's own writes stay on the
# primary (backoffice.replica, docs/operations.md "Read replica"). Absent: one database, as before.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    for _name in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS"):
        if _name in DATABASES["default"]:
            DATABASES["replica"].setdefault(_name, DATABASES["default"][_name])
    if DATABASES["replica"]["ENGINE"] != DATABASES["default"]["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a replica of DATABASE_URL (the same database engine).")
DATABASE_ROUTERS = ["backoffice.replica.PrimaryReplicaRouter"]
# Whether reads may go to the replica at all (tests switch it on for themselves: see settings/test.py).
DATABASE_REPLICA_ROUTING = "replica" in DATABASES
# After a write, its caller reads on the primary for this long (cookie + cache key): longer than the replica's lag.
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=5)
# A replica further behind than this is not read from (checked per process at most every CHECK_SECONDS).
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=30.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=2.0)
# The cache: per process by default; CACHE_URL=redis://... shares it (the replica pin, throttles) across processes.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = [
    "backoffice.accounts.throttling.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes) on the admin and staff logins: failures per username and address.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_HTTP_RESPONSE_CODE = 429
# Behind a reverse proxy every login comes from the proxy's address: the client's is read from X-Forwarded-For, but
# only the part written by these proxies (addresses or networks, e.g. "10.0.0.0/8,127.0.0.1"); never blindly.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        __import__("ipaddress").ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or a network") from None
AXES_CLIENT_IP_CALLABLE = "backoffice.security.client_ip"
# Two-factor (TOTP, django-otp): any member of staff may turn it on in /staff/two-factor/; once on, every login asks
# for a code (or a recovery code). The roles listed here must enrol before they can use the admin or staff pages.
TWO_FACTOR_REQUIRED_ROLES = env.list("TWO_FACTOR_REQUIRED_ROLES", default=[])
if unknown_roles := set(TWO_FACTOR_REQUIRED_ROLES) - {"admin", "marketing", "support", "store"}:
    raise ImproperlyConfigured(f"TWO_FACTOR_REQUIRED_ROLES: unknown role(s) {', '.join(sorted(unknown_roles))}")
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Omnichannel back-office")
# The admin never shows a device's secret or QR code: only its owner sees it, once, when enrolling.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Recovery codes a member of staff gets on enrolment (each works once).
TWO_FACTOR_RECOVERY_CODES = 10
# Staff sessions last one working shift, and end when the browser closes (shared counter tablets).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Languages: Spanish first, English available.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="es")
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Madrid")
# A moment reads "6 dic 2026, 23:55" in the admin as on the staff pages (backoffice/formats).
FORMAT_MODULE_PATH = ["backoffice.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- API
# API tokens (stored as digests): a new one is valid for API_TOKEN_TTL_DAYS (0: no expiry); after a rotation the
# previous ones keep working for API_TOKEN_ROTATION_GRACE_HOURS, time to deploy the new key.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=365)
API_TOKEN_ROTATION_GRACE_HOURS = env.int("API_TOKEN_ROTATION_GRACE_HOURS", default=24)
# Audit of reads of personal data (who looked at which customer): rows older than this many days are deleted by beat
# (hourly, ACCOUNTS_AUDIT_PURGE_BATCH rows per transaction); 0 keeps them forever.
ACCOUNTS_AUDIT_RETENTION_DAYS = env.int("ACCOUNTS_AUDIT_RETENTION_DAYS", default=365)
ACCOUNTS_AUDIT_PURGE_BATCH = env.int("ACCOUNTS_AUDIT_PURGE_BATCH", default=5000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backoffice.api.authentication.TokenAuthentication",
        "backoffice.api.authentication.VerifiedSessionAuthentication",
    ],
    # Deny by default: every view names the roles it lets in (backoffice.api.permissions.HasRole).
    "DEFAULT_PERMISSION_CLASSES": ["backoffice.api.permissions.DenyAll"],
    "DEFAULT_PAGINATION_CLASS": "backoffice.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "backoffice.api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "backoffice.api.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PARSER_CLASSES": [
        "backoffice.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Deepest nesting accepted in a JSON body (the deepest body of this API nests about 5 levels).
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)
SPECTACULAR_SETTINGS = {
    "TITLE": "Omnichannel back-office API",
    "DESCRIPTION": "One append-only log of every customer interaction on every channel, and its projections.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["backoffice.api.permissions.HasAnyRole"],
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set, however many fields use it (without these, names are hashed: "Channel40fEnum").
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "backoffice.eventstore.schema.CHANNELS",
        "OutboundChannelEnum": "campaigns.models.OUTBOUND_CHANNELS",
    },
    # The interactive docs from local files: the admin's network may not reach a CDN (drf-spectacular-sidecar).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# A batch of 1000 events of 32 KB each must fit in one request body.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=40 * 1024 * 1024)

# --- Event store
EVENTSTORE_MAX_EVENT_BYTES = env.int("EVENTSTORE_MAX_EVENT_BYTES", default=32 * 1024)
EVENTSTORE_MAX_BATCH = env.int("EVENTSTORE_MAX_BATCH", default=1000)
# How far ahead of the server clock an occurred_at may be (clock skew of devices and tills).
EVENTSTORE_MAX_FUTURE_SKEW = timedelta(seconds=env.int("EVENTSTORE_MAX_FUTURE_SKEW_SECONDS", default=300))
# The earliest occurred_at accepted (imported history goes back this far); older is refused as a typo or an attack.
EVENTSTORE_EARLIEST_OCCURRED_AT = datetime.fromisoformat(
    env.str("EVENTSTORE_EARLIEST_OCCURRED_AT", default="1970-01-01T00:00:00+00:00")
)
if EVENTSTORE_EARLIEST_OCCURRED_AT.tzinfo is None:
    EVENTSTORE_EARLIEST_OCCURRED_AT = EVENTSTORE_EARLIEST_OCCURRED_AT.replace(tzinfo=UTC)
# Key-encryption key for the per-customer data keys (crypto-shredding). Base64 of 32 random bytes.
EVENTSTORE_MASTER_KEY = env.str("EVENTSTORE_MASTER_KEY", default="")
# PostgreSQL: the longest an append (and the rest of its transaction) waits for a lock before it fails with a 503:
# for its stream's version or its id while another transaction holds them, or behind an erasure or a rebuild of
# inline projections, which have the log to themselves (docs/eventstore.md). "0" waits for ever.
EVENTSTORE_LOCK_TIMEOUT = env.str("EVENTSTORE_LOCK_TIMEOUT", default="10s")
# Events per catch-up batch of the asynchronous projections: one transaction each, holding its projections' leases.
EVENTSTORE_CATCH_UP_BATCH = env.int("EVENTSTORE_CATCH_UP_BATCH", default=10_000)
# Called after every commit that appended events, with no arguments: wakes the asynchronous projections.
EVENTSTORE_AFTER_COMMIT_HOOKS = ["backoffice.eventstore.tasks.wake_async_projections"]
# Asynchronous projections caught up together (one read of the log per lane, one task per lane, lanes in parallel on
# several workers), e.g. EVENTSTORE_PROJECTION_LANES=customers.activity,customers.channel_daily;orders.carts,...
# Projections no lane names share one more lane; empty: one lane for all of them.
EVENTSTORE_PROJECTION_LANES = [
    [name.strip() for name in lane.split(",") if name.strip()]
    for lane in env.str("EVENTSTORE_PROJECTION_LANES", default="").split(";")
    if lane.strip()
]

# --- Celery: without a broker URL tasks run eagerly, in process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Eager tasks still go through a producer, which Celery connects with the write URL: without a broker it is an
# in-memory transport on localhost, so `make run` does not warn "No hostname was supplied" about a broker it never
# meant to use. With a broker, writes go to it as before.
CELERY_BROKER_WRITE_URL = CELERY_BROKER_URL or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
# Work due later is kept in the database and picked up by beat, so no ETA ever outlives this.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "eventstore-catch-up-projections": {
        "task": "eventstore.catch_up_projections",
        "schedule": timedelta(seconds=5),
    },
    # PostgreSQL: the log's monthly partitions, created EVENTSTORE_PARTITIONS_AHEAD months ahead (an append whose
    # month has no partition is refused). Idempotent; nothing on SQLite.
    "eventstore-create-partitions-ahead": {
        "task": "eventstore.create_partitions_ahead",
        "schedule": timedelta(hours=6),
    },
}
EVENTSTORE_PARTITIONS_AHEAD = env.int("EVENTSTORE_PARTITIONS_AHEAD", default=3)
# The audit of reads of personal data past ACCOUNTS_AUDIT_RETENTION_DAYS (backoffice.accounts.services).
CELERY_BEAT_SCHEDULE["accounts-personal-data-accesses-purge"] = {
    "task": "accounts.personal_data_accesses_purge",
    "schedule": timedelta(hours=1),
}

# --- Messaging backends per channel (console, file, memory, smtp, webhook).
MESSAGING_BACKENDS = {
    channel: env.str(f"MESSAGING_BACKEND_{channel.upper()}", default=env.str("MESSAGING_BACKEND", default="file"))
    for channel in map(str, OUTBOUND_CHANNELS)
}
MESSAGING_FILE_DIR = Path(env.str("MESSAGING_FILE_DIR", default=str(BASE_DIR / "var" / "outbox")))
# Who may be contacted, where, when (customers fills the hook: consent, addresses, time zones, 24 h windows).
# Called when a provider reports that the customer unsubscribed from a message: withdraws marketing on that channel.
MESSAGING_UNSUBSCRIBE_HOOK = "customers.services.consents.consent_revoke_on_unsubscribe"
MESSAGING_RECIPIENT_POLICY = env.str("MESSAGING_RECIPIENT_POLICY", default="customers.reachability.RecipientPolicy")
# Quiet hours in the customer's local time, "start-end" (wrapping midnight): sends then are deferred, never dropped.
MESSAGING_QUIET_HOURS = env.str("MESSAGING_QUIET_HOURS", default="21:00-09:00")
# Attempts per message (the first send included) before a temporary failure becomes terminal; backoff between them.
MESSAGING_MAX_ATTEMPTS = env.int("MESSAGING_MAX_ATTEMPTS", default=5)
MESSAGING_RETRY_BACKOFF_SECONDS = env.int("MESSAGING_RETRY_BACKOFF_SECONDS", default=30)
MESSAGING_RETRY_BACKOFF_MAX_SECONDS = env.int("MESSAGING_RETRY_BACKOFF_MAX_SECONDS", default=3600)
# A message left in `sending` this long was taken by a worker that died: it must exceed CELERY_TASK_TIME_LIMIT.
MESSAGING_SENDING_STALE_SECONDS = env.int("MESSAGING_SENDING_STALE_SECONDS", default=300)
# Messages taken per drain transaction, and how long one drain task keeps taking batches.
MESSAGING_DRAIN_BATCH = env.int("MESSAGING_DRAIN_BATCH", default=500)
MESSAGING_DRAIN_SECONDS = env.int("MESSAGING_DRAIN_SECONDS", default=60)
MESSAGING_SMS_MAX_SEGMENTS = env.int("MESSAGING_SMS_MAX_SEGMENTS", default=3)
# The webhook backend (SMS, WhatsApp, push, Facebook, Instagram providers) and the signed webhooks they call.
MESSAGING_WEBHOOK_URLS = {
    channel: env.str(f"MESSAGING_WEBHOOK_URL_{channel.upper()}", default="") for channel in MESSAGING_BACKENDS
}
_DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"  # noqa: S105 - only when DEBUG is on
MESSAGING_WEBHOOK_SECRETS = {
    channel: env.str(f"MESSAGING_WEBHOOK_SECRET_{channel.upper()}", default="")
    or (f"{_DEV_WEBHOOK_SECRET}-{channel}" if DEBUG else "")
    for channel in MESSAGING_BACKENDS
}
MESSAGING_WEBHOOK_TIMEOUT = env.float("MESSAGING_WEBHOOK_TIMEOUT", default=10.0)
# How far a webhook's signed timestamp may be from our clock (replay protection), seconds.
MESSAGING_WEBHOOK_TOLERANCE = env.int("MESSAGING_WEBHOOK_TOLERANCE", default=300)
# Email through Django's SMTP machinery (the smtp backend).
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@backoffice.example")
MESSAGING_EMAIL_MESSAGE_ID_DOMAIN = env.str("MESSAGING_EMAIL_MESSAGE_ID_DOMAIN", default="backoffice.example")
# --- Real providers (issue 13): `MESSAGING_BACKEND_<CHANNEL>` = anymail (email), twilio (sms, whatsapp), meta
# (whatsapp, facebook, instagram). Secrets come from the environment only; without them the webhooks refuse everything.
# Provider adapters call customers through these hooks (customers is a layer above messaging):
MESSAGING_INBOUND_HOOK = "customers.services.inbound.inbound_message_receive"
MESSAGING_UNDELIVERABLE_HOOK = "customers.services.undeliverable.address_mark_undeliverable"
# Sends in flight at once per drain worker on backends that call a remote provider (anymail, twilio, meta).
MESSAGING_PROVIDER_CONCURRENCY = env.int("MESSAGING_PROVIDER_CONCURRENCY", default=8)
# Largest webhook body a provider adapter reads (anymail inbound email keeps DATA_UPLOAD_MAX_MEMORY_SIZE).
MESSAGING_PROVIDER_MAX_BODY = env.int("MESSAGING_PROVIDER_MAX_BODY", default=256 * 1024)
# Email through django-anymail: the ESP backend (EMAIL_BACKEND of anymail) and its settings (ANYMAIL).
ANYMAIL_ESP_BACKEND = env.str("ANYMAIL_ESP_BACKEND", default="anymail.backends.postmark.EmailBackend")
# Messages of the same content (a campaign's) per ESP API call, as anymail's batch send (Postmark takes up to 500);
# 1: one call per message (ESPs whose batch sends need a stored template, as Amazon SES's).
MESSAGING_EMAIL_BATCH_SIZE = env.int("MESSAGING_EMAIL_BATCH_SIZE", default=50)
ANYMAIL = {
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default=""),
    "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
    "POSTMARK_API_URL": env.str("POSTMARK_API_URL", default="https://api.postmarkapp.com/"),
    "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
    "BREVO_API_KEY": env.str("BREVO_API_KEY", default=""),
}
# Marketing mail announces List-Unsubscribe: our one-click URL (RFC 8058) under MESSAGING_PUBLIC_URL (the https
# origin providers and mail clients reach us at) and/or a mailto; the one-click POST withdraws email marketing.
MESSAGING_PUBLIC_URL = env.str("MESSAGING_PUBLIC_URL", default="")
MESSAGING_EMAIL_LIST_UNSUBSCRIBE_MAILTO = env.str("MESSAGING_EMAIL_LIST_UNSUBSCRIBE_MAILTO", default="")
# SMS and WhatsApp through Twilio.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_SMS = env.str("TWILIO_FROM_SMS", default="")
TWILIO_FROM_WHATSAPP = env.str("TWILIO_FROM_WHATSAPP", default="")
# Tests and benchmarks point the client at a loopback server; empty: Twilio's own hosts.
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="")
# Where Twilio posts status callbacks of the messages we send (our public .../providers/twilio/status URL).
TWILIO_STATUS_CALLBACK_URL = env.str("TWILIO_STATUS_CALLBACK_URL", default="")
# Well-formed signed status callbacks are received without Django's handler (backoffice.wsgi): the same checks and
# answers, a third less CPU each. Off: every callback goes through Django's handler and the view.
TWILIO_STATUS_FAST_PATH = env.bool("TWILIO_STATUS_FAST_PATH", default=True)
# WhatsApp templates outside the 24-hour window are Twilio Content API SIDs: "template_name=HX...,other=HX...".
TWILIO_CONTENT_SIDS = env.dict("TWILIO_CONTENT_SIDS", default={})
# Whether the endpoint dedupes creates by I-Twilio-Idempotency-Token (a relay in front of Twilio, the loopback
# provider of the tests): only then is a send interrupted by a dead worker resent, else it is held for review.
TWILIO_IDEMPOTENCY_HONOURED = env.bool("TWILIO_IDEMPOTENCY_HONOURED", default=False)
# WhatsApp Cloud API, Messenger and Instagram through Meta's Graph API.
META_APP_SECRET = env.str("META_APP_SECRET", default="")
META_VERIFY_TOKEN = env.str("META_VERIFY_TOKEN", default="")
META_ACCESS_TOKEN = env.str("META_ACCESS_TOKEN", default="")
WHATSAPP_PHONE_NUMBER_ID = env.str("WHATSAPP_PHONE_NUMBER_ID", default="")
META_GRAPH_URL = env.str("META_GRAPH_URL", default="https://graph.facebook.com")
META_GRAPH_VERSION = env.str("META_GRAPH_VERSION", default="v21.0")
CELERY_BEAT_SCHEDULE |= {
    "messaging-drain": {"task": "messaging.drain", "schedule": timedelta(seconds=10)},
    "messaging-release-deferred": {"task": "messaging.release_deferred", "schedule": timedelta(seconds=60)},
}

# --- Logging: structured enough to grep, never personal data (ids only).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # LOG_FORMAT=json: one JSON object per line with the request and correlation ids (backoffice.logs).
        "json": {"()": "backoffice.logs.JsonLinesFormatter"},
    },
    # Every line passes the filter that masks query values (a search by email or phone is in the request line),
    # and carries the id of the request it was written for.
    "filters": {
        "mask_personal_data": {"()": "backoffice.logs.MaskPersonalData"},
        "request_context": {"()": "backoffice.logs.RequestContext"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["mask_personal_data", "request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes writes usernames and addresses on every failure: the attempts table keeps them, logs do not.
        "axes": {"level": "ERROR"},
        # runserver's request lines: Django's default sends them to a handler of its own, which would skip the filter.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # The Twilio client logs each request's parameters (phone numbers, texts) at INFO: personal data.
        "twilio.http_client": {"level": "WARNING"},
    },
}

# --- Customers
# RFM scores from fixed thresholds: recency 5 when the last order is at most 30 days old, down to 1 past 365 days;
# frequency and monetary 1 plus one per threshold reached (orders; net value in the shop currency).
CUSTOMER_RFM_THRESHOLDS = {
    "recency_days": (30, 90, 180, 365),
    "frequency_orders": (2, 3, 5, 10),
    "monetary": ("100", "300", "700", "1500"),
}

# --- Service cases: one SLA for every channel, so a slower channel shows as breaches, not as a lower bar.
CASES_SLA = {
    "first_response": timedelta(minutes=env.int("CASES_SLA_FIRST_RESPONSE_MINUTES", default=240)),
    "resolution": timedelta(minutes=env.int("CASES_SLA_RESOLUTION_MINUTES", default=48 * 60)),
}
# How long after resolution a bare "1".."5" from the customer answers the satisfaction survey.
CASES_CSAT_REPLY_WINDOW = timedelta(days=env.int("CASES_CSAT_REPLY_DAYS", default=7))
CASES_SENDER_NAME = env.str("CASES_SENDER_NAME", default="Atención al cliente")
# The approved WhatsApp template of the survey (outside the 24-hour window only templates may be sent).
CASES_CSAT_WHATSAPP_TEMPLATE = env.str("CASES_CSAT_WHATSAPP_TEMPLATE", default="csat_survey")
CASES_REPLY_WHATSAPP_TEMPLATE = env.str("CASES_REPLY_WHATSAPP_TEMPLATE", default="case_update")

# --- Orders and stock
# A cart with no activity for this long is abandoned and gets one reminder (on a channel allowing marketing).
ORDERS_CART_IDLE_MINUTES = env.int("ORDERS_CART_IDLE_MINUTES", default=60)
# A cart found idle for longer than this (imported history, after an outage) is abandoned without a reminder.
ORDERS_CART_REMINDER_MAX_AGE_HOURS = env.int("ORDERS_CART_REMINDER_MAX_AGE_HOURS", default=48)
# Who else may own the reminder (callables answering True when they do): a live journey triggered by cart.abandoned.
ORDERS_CART_REMINDER_OWNERS = ["campaigns.journeys.selectors.journeys_remind_abandoned_carts"]
# An order placed within this many days of a cart reminder is attributed to it.
ORDERS_REMINDER_ATTRIBUTION_DAYS = env.int("ORDERS_REMINDER_ATTRIBUTION_DAYS", default=7)
CELERY_BEAT_SCHEDULE["orders-abandon-idle-carts"] = {
    "task": "orders.abandon_idle_carts",
    "schedule": timedelta(minutes=env.int("ORDERS_CART_CHECK_MINUTES", default=5)),
}

# --- Insights (docs/metrics.md)
# Predictive CLTV = AOV x orders per customer per year x gross margin x expected lifespan (years).
INSIGHTS_GROSS_MARGIN = Decimal(env.str("INSIGHTS_GROSS_MARGIN", default="0.40"))
INSIGHTS_EXPECTED_LIFESPAN_YEARS = Decimal(env.str("INSIGHTS_EXPECTED_LIFESPAN_YEARS", default="3"))
# A customer with no order in this many days before the end of the range is churned (?churn_days= overrides).
INSIGHTS_CHURN_DAYS = env.int("INSIGHTS_CHURN_DAYS", default=180)
# An order within this many days of a campaign message to the customer is attributed to that campaign (last touch).
INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS = env.int("INSIGHTS_CAMPAIGN_ATTRIBUTION_DAYS", default=7)
# Cost of one message sent, per channel (EUR), until campaigns carry their own cost per message.
INSIGHTS_MESSAGE_COSTS = {
    "email": Decimal("0.002"),
    "sms": Decimal("0.06"),
    "whatsapp": Decimal("0.05"),
    "push": Decimal("0.0005"),
    "facebook": Decimal("0.01"),
    "instagram": Decimal("0.01"),
}
# A click-and-collect cancellation whose reason contains one of these words was for lack of stock.
INSIGHTS_STOCK_CANCEL_REASONS = ("stock", "inventario", "agotado")

# --- Campaigns
# One contact-pressure budget across every campaign and channel: at most `messages` marketing messages per person
# in any `days` days.
CAMPAIGNS_CONTACT_PRESSURE = {
    "messages": env.int("CAMPAIGNS_MAX_MESSAGES", default=3),
    "days": env.int("CAMPAIGNS_PRESSURE_DAYS", default=7),
}
# People per fan-out batch and per audience snapshot page (one transaction each).
CAMPAIGNS_BATCH_SIZE = env.int("CAMPAIGNS_BATCH_SIZE", default=500)
CAMPAIGNS_SNAPSHOT_PAGE = env.int("CAMPAIGNS_SNAPSHOT_PAGE", default=5000)
CELERY_BEAT_SCHEDULE["campaigns-launch-due"] = {"task": "campaigns.launch_due", "schedule": timedelta(seconds=60)}

# --- Journeys (docs/journeys.md): the process manager reads the log in batches of JOURNEYS_CONSUMER_BATCH events;
# step workers take JOURNEYS_BATCH_SIZE due runs per transaction. Beat runs both every JOURNEYS_TICK_SECONDS (waits
# that came due, work a dead worker dropped); commits wake them sooner.
JOURNEYS_CONSUMER_BATCH = env.int("JOURNEYS_CONSUMER_BATCH", default=2000)
JOURNEYS_BATCH_SIZE = env.int("JOURNEYS_BATCH_SIZE", default=500)
CELERY_BEAT_SCHEDULE["journeys-tick"] = {
    "task": "campaigns.journeys_tick",
    "schedule": timedelta(seconds=env.int("JOURNEYS_TICK_SECONDS", default=10)),
}
EVENTSTORE_AFTER_COMMIT_HOOKS.append("campaigns.tasks.wake_journeys")

# --- Integrations: the Segment-spec tracking API and the shop platforms' webhooks (docs/integrations.md)
# Largest tracking request body, compressed and inflated (Segment's own batch limit is 500 KB; messages 32 KB).
TRACKING_MAX_BODY_BYTES = env.int("TRACKING_MAX_BODY_BYTES", default=512 * 1024)
INTEGRATIONS_WEBHOOK_MAX_BYTES = env.int("INTEGRATIONS_WEBHOOK_MAX_BYTES", default=5 * 1024 * 1024)
# The secrets shops sign webhooks with, for a shop whose connection has none of its own. Empty: refused (401).
SHOPIFY_WEBHOOK_SECRET = env.str("SHOPIFY_WEBHOOK_SECRET", default="")
WOOCOMMERCE_WEBHOOK_SECRET = env.str("WOOCOMMERCE_WEBHOOK_SECRET", default="")
# Fernet key for shop secrets entered in the admin and dead-lettered bodies; empty: derived from SECRET_KEY.
INTEGRATIONS_ENCRYPTION_KEY = env.str("INTEGRATIONS_ENCRYPTION_KEY", default="")
# Days a dead-lettered delivery's body (personal data) is kept for a replay before beat drops it.
INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS = env.int("INTEGRATIONS_DEAD_LETTER_RETENTION_DAYS", default=30)
CELERY_BEAT_SCHEDULE["integrations-dead-letters-expire"] = {
    "task": "integrations.dead_letters_expire",
    "schedule": timedelta(hours=1),
}
# Called inside a customer's erasure with the customer ids and their identifier keys: copies of personal data kept
# outside the log by higher layers are dropped with the erasure (customers cannot import those layers).
CUSTOMERS_ERASURE_HOOKS = ["backoffice.integrations.services.dead_letters.dead_letters_forget"]
# Dead letters that /metrics shows besides the projections' failures (backoffice.observability sits beside
# integrations and cannot import it): each a function answering {label: count of pending dead letters}.
OBSERVABILITY_DEAD_LETTER_COUNTS = {"integrations": "backoffice.integrations.selectors.dead_letters_pending_by_origin"}

# --- Provider callbacks about no message we know yet (backoffice.messaging.services.unmatched): tried again with
# backoff in case our record of the send committed after the callback, dropped after this many hours.
MESSAGING_UNMATCHED_CALLBACK_RETENTION_HOURS = env.int("MESSAGING_UNMATCHED_CALLBACK_RETENTION_HOURS", default=72)
CELERY_BEAT_SCHEDULE["messaging-unmatched-callbacks"] = {
    "task": "messaging.unmatched_callbacks_retry",
    "schedule": timedelta(seconds=60),
}
CUSTOMERS_ERASURE_HOOKS.append("backoffice.messaging.services.unmatched.unmatched_callbacks_forget")
# Erasure ends the person's journeys (journey.exited, reason erased): nothing more is sent or opened for them.
CUSTOMERS_ERASURE_HOOKS.append("campaigns.journeys.services.erasure.journey_runs_end_erased")

# --- Status callbacks received one per request (Twilio's; backoffice.messaging.services.received): committed as
# received and answered, then applied in batches of MESSAGING_CALLBACK_BATCH by the task messaging.callbacks_apply,
# woken at most every MESSAGING_CALLBACK_APPLY_DELAY seconds per web process, and swept by beat.
MESSAGING_CALLBACK_APPLY_DELAY = env.float("MESSAGING_CALLBACK_APPLY_DELAY", default=0.2)
MESSAGING_CALLBACK_BATCH = env.int("MESSAGING_CALLBACK_BATCH", default=500)
CELERY_BEAT_SCHEDULE["messaging-callbacks-apply"] = {
    "task": "messaging.callbacks_apply",
    "schedule": timedelta(seconds=5),
}
