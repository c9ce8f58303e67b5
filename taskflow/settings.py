"""TaskFlow settings, read from the environment (django-environ).

With nothing configured TaskFlow runs on an embedded default: SQLite, a local-memory cache and an
in-memory channel layer, debug on. Set ``TASKFLOW_ENV=production`` for a real deployment: secrets then
come only from the environment and start-up fails without them. ``DATABASE_URL`` selects the database
(``mysql://user:pass@host:3306/name`` in production) and ``REDIS_URL`` selects Redis for both the cache
and the channel layer.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

TASKFLOW_ENV = env.str("TASKFLOW_ENV", default="development")
if TASKFLOW_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("TASKFLOW_ENV must be 'development' or 'production'.")
PRODUCTION = TASKFLOW_ENV == "production"

DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)

# A fixed key keeps local sessions and tokens valid across restarts; production must set its own.
_DEVELOPMENT_SECRET_KEY = "taskflow-development-only-secret-key-never-use-in-production"
if PRODUCTION:
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "ALLOWED_HOSTS", "EMAIL_URL"):
        if not env.str(name, default=""):
            raise ImproperlyConfigured(f"{name} must be set when TASKFLOW_ENV=production.")
    SECRET_KEY = env.str("SECRET_KEY")
    JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY")
    if JWT_SIGNING_KEY == SECRET_KEY:
        raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY)
    JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default=SECRET_KEY + "-jwt")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Browser pages served from these origins (`https://app.example.com`, comma-separated; none by
# default) may call the API (django-cors-headers) and open WebSockets (realtime.routing). Requests
# carry a bearer token, never cookies, so no credentials are allowed.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
CORS_ALLOW_HEADERS = ["authorization", "content-type", "if-match", "if-none-match", "idempotency-key", "prefer"]
CORS_EXPOSE_HEADERS = ["ETag", "X-Event-Seq", "Retry-After", "Idempotency-Replayed", "Preference-Applied"]

INSTALLED_APPS = [
    # Daphne first, so that `runserver` serves ASGI (HTTP and WebSocket) through it.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks_db",
    "accounts",
    "tasks",
    "comments",
    "attachments",
    "realtime",
    "batch",
    "notifications",
    "webhooks",
    "operations",
    "board",
]

MIDDLEWARE = [
    "taskflow.request_id.RequestIdMiddleware",  # first: every response and log line gets the id
    # Before anything asks for the host: a host not in ALLOWED_HOSTS is a plain 400 (JSON in /api/).
    "taskflow.allowed_hosts.AllowedHostsMiddleware",
    # CORS headers on every /api/ response, and preflights answered here, before authentication
    # or anything else that could answer first (django-cors-headers: before CommonMiddleware).
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files (admin, API docs) from the app's own processes, so a
    # deployment needs no separate file server; right after SecurityMiddleware, as WhiteNoise asks.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's own; the taskflow ones stand aside for API requests with a bearer token.
    "taskflow.http.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "taskflow.http.middleware.AuthenticationMiddleware",
    "taskflow.http.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: keyed writes under /api/ run once per user and key, and a repeat is answered from the
    # first answer, to which every middleware above adds its headers again.
    "accounts.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "taskflow.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "taskflow" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "taskflow.wsgi.application"
ASGI_APPLICATION = "taskflow.asgi.application"

# --- Database -------------------------------------------------------------------------------------

# Unset or empty: the embedded SQLite file, as with REDIS_URL.
DATABASES = {
    "default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
_database = DATABASES["default"]
if _database["ENGINE"] == "django.db.backends.mysql":
    # Django's MySQL backend, with health checks that skip the ping on a busy connection.
    _database["ENGINE"] = "taskflow.db.mysql"
    _database["OPTIONS"] = {
        "charset": "utf8mb4",
        # Strict mode turns silent truncation into errors; READ COMMITTED lets concurrent writers
        # of one project queue on the project row instead of deadlocking on gap locks.
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        "isolation_level": "read committed",
        **_database.get("OPTIONS", {}),
    }
    _database["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **_database.get("OPTIONS", {}),
    }
# HTTP requests run on a bounded pool of threads (taskflow.http.handlers), each keeping its connection
# for this long, so a process holds at most TASKFLOW_HTTP_THREADS connections for requests (plus a
# few for WebSockets). Connections are checked before reuse.
_database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
_database["CONN_HEALTH_CHECKS"] = True
# Threads per server process that run HTTP requests (Django's middleware and views). Four overlap
# the database round trips of a CPU-bound process; more only queue behind the GIL, unevenly: with
# eight, p99 was twice the p99 with four at the same throughput (bench/README.md).
TASKFLOW_HTTP_THREADS = env.int("TASKFLOW_HTTP_THREADS", default=4)
# How long (seconds) a server process's thread may hold the GIL while another waits for it
# (sys.setswitchinterval; Python's default is 0.005). A request thread needs the GIL back after
# each database round trip; while the event loop pushes events to thousands of sockets, 5 ms a
# round trip made writes, and so their events, several times slower (bench/README.md).
TASKFLOW_GIL_SWITCH_INTERVAL = env.float("TASKFLOW_GIL_SWITCH_INTERVAL", default=0.0002)
# Timeouts of the servers TaskFlow starts (taskflow.server_process), so that no slow or silent
# client holds a connection for ever. Seconds a connection has to send a complete request head
# after it opened or after its previous response (Daphne: its idle timeout, below).
TASKFLOW_HTTP_HEADER_SECONDS = env.float("TASKFLOW_HTTP_HEADER_SECONDS", default=10.0)
# Seconds a kept-alive connection may wait for its next request (uvicorn's default). Daphne closes
# a connection silent for the shorter of the two, counting from the last byte received.
TASKFLOW_HTTP_KEEPALIVE_SECONDS = env.int("TASKFLOW_HTTP_KEEPALIVE_SECONDS", default=5)
# A quiet WebSocket is pinged after this many seconds, and closed when it does not answer within
# the timeout: a client that vanished without closing frees its socket within both.
TASKFLOW_WS_PING_SECONDS = env.int("TASKFLOW_WS_PING_SECONDS", default=20)
TASKFLOW_WS_PING_TIMEOUT_SECONDS = env.int("TASKFLOW_WS_PING_TIMEOUT_SECONDS", default=20)
# On SIGTERM a server process stops accepting connections, closes its WebSockets with 1012 and
# waits at most this long for requests in flight; below Docker's 10 s before it kills.
TASKFLOW_SHUTDOWN_SECONDS = env.int("TASKFLOW_SHUTDOWN_SECONDS", default=8)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache and channel layer ----------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")


def _sentinel_address(entry: str) -> tuple[str, int]:
    host, _, port = entry.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ImproperlyConfigured(f"REDIS_SENTINELS: {entry!r} is not host:port.")
    return host, int(port)


# Redis behind Sentinel: REDIS_SENTINELS lists them (host:port,host:port,...) and REDIS_URL's host is
# then the name of the master they watch (redis://mymaster/0). Every new connection asks a Sentinel
# where the master is, so a failover is followed without a restart.
REDIS_SENTINELS = [_sentinel_address(each) for each in env.list("REDIS_SENTINELS", default=[])]
# The channel layer's Redis instances: REDIS_URL's by default; CHANNEL_LAYER_URLS (comma-separated
# redis:// URLs) shards the layer over several, each group on the one its name hashes to.
CHANNEL_LAYER_URLS = env.list("CHANNEL_LAYER_URLS", default=[])
if REDIS_SENTINELS and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_URL naming the master: redis://<master name>/0.")


def _channel_layer_hosts() -> list:
    """The channel layer's `hosts`: the shards, or the Sentinels' master, or REDIS_URL's server."""
    if CHANNEL_LAYER_URLS:
        return CHANNEL_LAYER_URLS
    if REDIS_SENTINELS:
        master = urlsplit(REDIS_URL)
        return [{"master_name": master.hostname, "sentinels": REDIS_SENTINELS, "db": int(master.path[1:] or 0)}]
    return [REDIS_URL]


if REDIS_URL:
    _cache_options = {
        "SOCKET_CONNECT_TIMEOUT": 2,
        "SOCKET_TIMEOUT": 2,
        # The cache only speeds things up and counts rates: an unreachable Redis must not turn
        # requests into errors. Failures are logged (see DJANGO_REDIS_LOGGER).
        "IGNORE_EXCEPTIONS": True,
    }
    if REDIS_SENTINELS:
        # The master only (no reads from replicas, which lag): the readiness check reads back what
        # it wrote, and rate counts stay exact.
        _cache_options["CONNECTION_FACTORY"] = "django_redis.pool.SentinelConnectionFactory"
        _cache_options["SENTINELS"] = REDIS_SENTINELS
        _cache_options["SENTINEL_KWARGS"] = {"socket_connect_timeout": 2, "socket_timeout": 2}
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="taskflow"),
            "OPTIONS": _cache_options,
        }
    }
    # Each process's own copy of the task pages it served last, in front of Redis (tasks.page_cache).
    CACHES["task-pages"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "task-pages",
        "OPTIONS": {"MAX_ENTRIES": 500},
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "taskflow.cache"
    # Pub/sub (the default): a group send is one PUBLISH, which each process's hub receives once.
    # It keeps nothing for absent listeners, which is fine: the event log is the truth and every
    # socket catches up from it (realtime.hub). `core` (lists, with capacity and expiry) was
    # measured against it: see bench/README.md.
    TASKFLOW_CHANNEL_LAYER = env.str("TASKFLOW_CHANNEL_LAYER", default="pubsub")
    _layer_prefix = env.str("CHANNEL_LAYER_PREFIX", default="taskflow")
    if TASKFLOW_CHANNEL_LAYER == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": _channel_layer_hosts(), "prefix": _layer_prefix},
            }
        }
    elif TASKFLOW_CHANNEL_LAYER == "core":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                # One hub channel per process reads the group: capacity bounds a stalled process.
                "CONFIG": {"hosts": _channel_layer_hosts(), "prefix": _layer_prefix, "capacity": 1000, "expiry": 10},
            }
        }
    else:
        raise ImproperlyConfigured("TASKFLOW_CHANNEL_LAYER must be 'pubsub' or 'core'.")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # One process: its hub's channel gets every group send (realtime.hub), from any of its threads
    # (realtime.layers). Only this process reaches its sockets, so the worker runs inside it
    # (taskflow.serve --workers).
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.layers.InProcessChannelLayer", "CONFIG": {"capacity": 1000}}}

# --- Authentication -------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=5)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env.int("JWT_REFRESH_HOURS", default=24)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "ALGORITHM": "HS256",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Access tokens carry a hash of the password: changing it ends every session at once.
    "CHECK_REVOKE_TOKEN": True,
}

# The board's pages (board/) sign people in with Django's session; the page then trades the
# session for short-lived access tokens (accounts.api.SessionTokenView).
LOGIN_URL = "board:login"
LOGIN_REDIRECT_URL = "board:home"
LOGOUT_REDIRECT_URL = "board:login"

# Requests per client IP on the token and register endpoints and the board's sign-in form, in DRF
# rate syntax.
TASKFLOW_AUTH_RATE = env.str("TASKFLOW_AUTH_RATE", default="60/min")
# Who may register: anyone (`open`), only with an invitation to a project (`invite`), nobody (`closed`).
TASKFLOW_REGISTRATION = env.str("TASKFLOW_REGISTRATION", default="open")
if TASKFLOW_REGISTRATION not in {"open", "invite", "closed"}:
    raise ImproperlyConfigured("TASKFLOW_REGISTRATION must be 'open', 'invite' or 'closed'.")
# How long an invitation to a project can be accepted.
TASKFLOW_INVITATION_LIFETIME = timedelta(days=env.int("TASKFLOW_INVITATION_DAYS", default=7))

# --- REST framework and OpenAPI -------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerAuthentication",
        # For the browsable API's login link; CSRF-protected like any session.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["taskflow.http.parsers.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "taskflow.http.negotiation.ContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "taskflow.http.pagination.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "taskflow.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "taskflow.errors.exception_handler",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Largest request body accepted by the API, in bytes; larger ones get 413.
TASKFLOW_MAX_BODY_BYTES = env.int("TASKFLOW_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = TASKFLOW_MAX_BODY_BYTES
# The largest attachment (413 beyond it), and the routes that take one: their bodies may be that
# large, with the multipart framing (taskflow.http.limits).
TASKFLOW_MAX_UPLOAD_BYTES = env.int("TASKFLOW_MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
TASKFLOW_UPLOAD_PATHS = [r"/api/tasks/[0-9]{1,18}/attachments/"]
# One file per request: a multipart body with more is refused (400) before the second is stored.
DATA_UPLOAD_MAX_NUMBER_FILES = 1

SPECTACULAR_SETTINGS = {
    "TITLE": "TaskFlow API",
    "DESCRIPTION": "Team task management with live updates: projects, members, tasks and events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets of fields named `role`: a member's (any role) and an invitation's (not owner).
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "tasks.models.Role.choices",
        "InvitableRoleEnum": "tasks.models.INVITABLE_ROLE_CHOICES",
    },
}

# --- Events ---------------------------------------------------------------------------------------

# How long the event log keeps events for clients to catch up (`manage.py prune_events`).
TASKFLOW_EVENT_RETENTION = timedelta(days=env.int("TASKFLOW_EVENT_RETENTION_DAYS", default=7))

# --- Background jobs (django.tasks) --------------------------------------------------------------

# Jobs are rows in the database (django-tasks-db), written in the same transaction as the change
# that asks for them, and run by `manage.py worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How long finished jobs stay visible (admin, `manage.py status`) before the periodic prune.
TASKFLOW_JOB_RETENTION = timedelta(days=env.int("TASKFLOW_JOB_RETENTION_DAYS", default=7))

# --- Reminders and email --------------------------------------------------------------------------

# How long before a task is due its assignee is reminded.
TASKFLOW_REMINDER_LEAD = timedelta(minutes=env.int("TASKFLOW_REMINDER_LEAD_MINUTES", default=60))
# Outgoing mail, as a URL: smtp+tls://user:password@host:587, or consolemail:// (prints them);
# production must name its mail server (reminders go out by email).
_email = env.email_url("EMAIL_URL", default="consolemail://")
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            "host": _email["EMAIL_HOST"],
            "port": _email["EMAIL_PORT"],
            "username": _email["EMAIL_HOST_USER"],
            "password": _email["EMAIL_HOST_PASSWORD"],
            "use_tls": _email.get("EMAIL_USE_TLS", False),
            "use_ssl": _email.get("EMAIL_USE_SSL", False),
            "timeout": env.float("EMAIL_TIMEOUT", default=10.0),
        }
        if _email["EMAIL_BACKEND"].endswith(".smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TaskFlow <taskflow@localhost>")

# --- Webhooks -------------------------------------------------------------------------------------

# Seconds to wait for a receiver's answer.
TASKFLOW_WEBHOOK_TIMEOUT = env.float("TASKFLOW_WEBHOOK_TIMEOUT", default=10.0)
# Attempts per delivery; the n-th retry waits TASKFLOW_WEBHOOK_RETRY_SECONDS * 2^(n-1), at most an hour.
TASKFLOW_WEBHOOK_MAX_ATTEMPTS = env.int("TASKFLOW_WEBHOOK_MAX_ATTEMPTS", default=8)
TASKFLOW_WEBHOOK_RETRY_SECONDS = env.float("TASKFLOW_WEBHOOK_RETRY_SECONDS", default=30.0)
# In production webhook URLs must reach public addresses; hosts or networks listed here are
# allowed anyway (e.g. "hooks.internal,10.1.0.0/16"). Outside production any address is allowed.
TASKFLOW_WEBHOOK_ALLOWED_HOSTS = env.list("TASKFLOW_WEBHOOK_ALLOWED_HOSTS", default=[])
TASKFLOW_WEBHOOK_ALLOW_PRIVATE = env.bool("TASKFLOW_WEBHOOK_ALLOW_PRIVATE", default=not PRODUCTION)

# --- Internationalisation and static files --------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves what `collectstatic` wrote (the image runs it at build time): names carry a
# hash of the content, so browsers may cache them forever, and WhiteNoise serves compressed copies.
# Development keeps Django's plain storage, which needs no `collectstatic`.
# Uploaded files (attachments): the local file system under MEDIA_ROOT by default, or S3 and any
# S3-compatible store with STORAGE_URL=s3://<bucket>?endpoint_url=...&region_name=... (credentials
# from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the machine's role: never in the URL). They
# are never served from a public URL: downloads go through the API, to members only.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGE_URL = env.str("STORAGE_URL", default="")
# What STORAGE_URL may set, as S3Storage's options.
_S3_URL_OPTIONS = ("endpoint_url", "region_name", "addressing_style", "signature_version", "location")


def file_storage_config(url: str, *, media_root) -> dict:
    """The `default` entry of STORAGES for a STORAGE_URL (empty: the local file system)."""
    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media_root)}}
    parsed = urlsplit(url)
    if parsed.scheme != "s3" or not parsed.netloc or parsed.path not in ("", "/"):
        raise ImproperlyConfigured("STORAGE_URL must be s3://<bucket>?endpoint_url=...&region_name=...")
    options = dict(parse_qsl(parsed.query))
    unknown = sorted(set(options) - set(_S3_URL_OPTIONS))
    if unknown:
        raise ImproperlyConfigured(
            f"STORAGE_URL: unknown options {', '.join(unknown)} (known: {', '.join(_S3_URL_OPTIONS)})."
        )
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        # Stored names are unique (attachments.services), so no existence check before each write.
        # A download is buffered in a temporary file, on disk past FILE_UPLOAD_MAX_MEMORY_SIZE.
        "OPTIONS": {
            "bucket_name": parsed.netloc,
            "file_overwrite": True,
            "default_acl": None,
            "max_memory_size": 2_621_440,
            **options,
        },
    }


STORAGES = {
    "default": file_storage_config(STORAGE_URL, media_root=MEDIA_ROOT),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production WhiteNoise looks files up through the finders on each request, as `runserver`
# does, instead of reading STATIC_ROOT once at start-up (which needs `collectstatic` first).
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Security -------------------------------------------------------------------------------------

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    if not SECURE_SSL_REDIRECT:
        # Set false on purpose where TLS ends in front of the proxy, which redirects to HTTPS itself
        # (docker-compose.yml): not an oversight for `check --deploy` to report.
        SILENCED_SYSTEM_CHECKS = ["security.W008"]
    # Health probes come from inside the deployment over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------------------------------


def logging_config(*, production: bool, level: str = "INFO") -> dict:
    """Everything goes to one handler on stderr: JSON lines in production, plain text otherwise.

    A JSON line holds time (ISO 8601, UTC), level, logger, message, the request id when there is
    one, the exception when there is one, and any extra fields. Every handler carries the request
    id (taskflow.request_id), redacts secrets (taskflow.redaction), and logs a client's mistake
    (a 4xx) as a warning without a traceback (taskflow.log_levels.ClientErrorsAreWarnings).
    """
    from pythonjsonlogger.core import RESERVED_ATTRS

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "taskflow.request_id.RequestIdFilter"},
            "redact_secrets": {"()": "taskflow.redaction.RedactSecretsFilter"},
            "client_errors_are_warnings": {"()": "taskflow.log_levels.ClientErrorsAreWarnings"},
        },
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                "defaults": {"request_id": "-"},
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": ["levelname", "name", "message"],
                "rename_fields": {"levelname": "level", "name": "logger", "exc_info": "exception"},
                "timestamp": "time",
                # Django passes the request object along with its log lines (the message already
                # names the path), uvicorn a copy of the message with terminal colours: no data.
                "reserved_attrs": [*RESERVED_ATTRS, "request", "color_message"],
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if production else "plain",
                "filters": ["request_id", "redact_secrets", "client_errors_are_warnings"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # Django's and uvicorn's defaults give these loggers handlers of their own, which would
        # skip the filters above: they lose them and pass their records on to the root's handler.
        # Levels are left as they are (uvicorn sets its own from --log-level); each one is named,
        # since configuring a logger resets the level of every child not named here.
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("django", "django.server", "uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


LOGGING = logging_config(production=PRODUCTION, level=env.str("LOG_LEVEL", default="INFO"))

# --- WebSocket limits (realtime.consumers) --------------------------------------------------------

TASKFLOW_WS_AUTH_TIMEOUT = env.float("TASKFLOW_WS_AUTH_TIMEOUT", default=10.0)
TASKFLOW_WS_MAX_FRAME_BYTES = 64 * 1024
TASKFLOW_WS_FRAME_RATE = env.float("TASKFLOW_WS_FRAME_RATE", default=50.0)
TASKFLOW_WS_MAX_SOCKETS_PER_USER = env.int("TASKFLOW_WS_MAX_SOCKETS_PER_USER", default=20)
TASKFLOW_WS_CHECK_SECONDS = env.float("TASKFLOW_WS_CHECK_SECONDS", default=3.0)
# A socket that sends no frame for this long stops counting as looking at its projects (presence).
TASKFLOW_WS_PRESENCE_SECONDS = env.float("TASKFLOW_WS_PRESENCE_SECONDS", default=60.0)
TASKFLOW_WS_REPLAY_BATCH = 500
# How long an event that arrives before an earlier one waits for it before the gap is read from
# the log (once per server process).
TASKFLOW_WS_GAP_WAIT_SECONDS = env.float("TASKFLOW_WS_GAP_WAIT_SECONDS", default=0.2)
# Events waiting for one socket before it is deemed too slow and closed (its client resumes).
TASKFLOW_WS_OUTBOX_LIMIT = env.int("TASKFLOW_WS_OUTBOX_LIMIT", default=1000)
