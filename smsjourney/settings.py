"""smsjourney settings: one file, driven by the environment (see README "Configuration").

Every variable is read with django-environ; a ``.env`` file beside ``manage.py`` (or the
file ``ENV_FILE`` names) is read too, real environment variables winning
(``infra.environment``). The defaults are the zero-setup ones: SQLite, tasks run
in-process, the console SMS backend.
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from infra.environment import BASE_DIR, env_read
from infra.logs import logging_config

env = env_read()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment or in .env "
            "(or DEBUG=1 for local development only)."
        )
    SECRET_KEY = "insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_fsm",
    "import_export",
    "axes",
    "csp",
    "infra",
    "contacts",
    "tracking",
    "automation",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A body past MAX_REQUEST_BYTES is refused by its Content-Length, never read.
    "infra.uploads.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smsjourney.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "smsjourney.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the zero-setup default; keep it usable with a worker beside the web.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    # Several processes (web workers, their in-process jobs) write to one file: take the
    # write lock when a transaction begins, so that a writer waits its turn (timeout)
    # instead of failing at once with "database is locked" when it upgrades a read lock.
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Write-ahead log, synced at checkpoints: a commit appends to the log instead of syncing
    # a rollback journal and the file twice, so each writer holds the one write lock for far
    # less time and the others (a reply's routing behind a bulk enrollment) get their turn
    # (bench/campaign.py, zero-setup, 3,000 texts: answers p99 30 s -> 4 s). A crash of the
    # process loses nothing; a power loss may lose the last commits, never the file.
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses any login while the (username, IP) pair is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Login brute force (django-axes) -------------------------------------------------
# After AXES_FAILURE_LIMIT failed logins for one username from one IP address, that pair
# is locked out for AXES_COOLOFF_TIME (HTTP 429 with a plain page); a superuser sees the
# attempts and lockouts in the admin ("Axes" section) and can delete one to lift it.
# The address is the client's: behind TRUSTED_PROXY_COUNT reverse proxies (README
# "Production") it is read from X-Forwarded-For by django-ipware, counting that many hops
# from the right, the ones our own proxies appended; what a client writes to the left of
# them is ignored, so nobody can pick the address their failures count against. Without a
# proxy (0, the default) it is REMOTE_ADDR, and X-Forwarded-For is not read at all.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy) or the number of proxies.")
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    # ipware counts the proxies *listed* in the header; the last one is REMOTE_ADDR.
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT - 1
    # Not strict: a client's own X-Forwarded-For entries to the left are skipped, not a
    # reason to fall back to the proxy's address (which would lock everyone out).
    IPWARE_STRICT = False
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_ENABLE_ACCESS_FAILURE_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The site's timezone: quiet hours fall back to it when a contact's own is unknown.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` (the Procfile's release) gathers the files WhiteNoise serves.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Project-wide static files (the cockpit's plain CSS) beside the apps' own.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (production defaults; `manage.py check --deploy` is clean) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from the load balancer over plain HTTP, and Prometheus may scrape over
# the private network (a redirect would not keep its token from going out in clear anyway).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Content-Security-Policy (django-csp): only this site's own scripts, styles, images and
# fonts; no inline script or style, no framing, forms post only here. The admin and the
# cockpit pages work under it (tests/browser checks that no page reports a violation).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a one-way commitment for the whole domain: the operator opts in
    # with SECURE_HSTS_PRELOAD=1, we do not choose it for them.
    "security.W021",
]

# --- REST framework ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}

# --- Celery --------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or None
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, reusing one client per channel (see infra/broker.py).
    CELERY_BROKER_TRANSPORT = "infra.broker:Transport"
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Task priorities on Redis: one list per step, served in order (0 first). A reply to a
    # contact is published at 0, plan and bulk messages at 6 (messaging.services.policy).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "priority_steps": [0, 3, 6, 9],
        "sep": ":",
        "queue_order_strategy": "priority",
        # A broker that is down costs the webhook a bounded wait (see PUBLISH_WORST_CASE).
        "socket_connect_timeout": 1.5,
    }
# Publishing a task with the broker down: 2 tries, 0.2 s apart, each at most the connect
# timeout — then the caller goes on (the message is stored; the sweeper routes it). Kept
# under docs/reference.md §3's 5 seconds for the webhook's answer (tests/test_settings.py).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Without a broker every task runs in-process, right after the transaction commits.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# How a worker runs (the Procfile's `worker` gives no numbers, so the env file counts):
# threads, since sending waits on Twilio's API rather than the CPU (README "Production").
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = env.int("CELERY_CONCURRENCY", default=16)
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILE", default="/tmp/celerybeat-schedule")  # noqa: S108
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Plan `http` steps wait on marketers' web services (up to HTTP_STEP_TIMEOUT each): they go
# to a queue of their own, so a slow service never holds the threads that route replies and
# send. Without a broker the in-process scheduler gives each routed queue its own thread
# pool (infra/background.py). With one, a plain `celery -A smsjourney worker` consumes
# every queue below (docs/reference.md §2: one worker runs the product); at scale, give the http
# queue workers of its own: `-X http` on the others, `-Q http` on them. Bulk enrollments go to
# a queue of their own too, `bulk`: without a broker their batches held the scheduler's
# threads while the texts they queued waited for one (bench/campaign.py).
CELERY_TASK_DEFAULT_QUEUE = "celery"
HTTP_STEP_QUEUE = "http"
BULK_QUEUE = "bulk"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(HTTP_STEP_QUEUE), Queue(BULK_QUEUE))
CELERY_TASK_ROUTES = {
    "automation.tasks.http_step_task": {"queue": HTTP_STEP_QUEUE},
    "automation.tasks_bulk.bulk_enrollment_batch_task": {"queue": BULK_QUEUE},
}
# No broker: each serving process runs the beat schedule itself, off the request path, and
# hands sends and delayed retries to its own scheduler (infra/background.py). 0 turns
# that off (then run the jobs' commands from cron).
IN_PROCESS_JOBS = env.bool("IN_PROCESS_JOBS", default=True)
# Wiring: the task that sends one queued message and acts on the outcome. messaging
# publishes it by this name (it belongs to automation, the layer that orchestrates).
OUTBOUND_SEND_TASK = "automation.tasks.outbound_send_task"
# The send pipeline's safety nets (messaging/services/dispatch.py): a message handed to a
# send task that has not taken it within the lease (the task was lost with a broker, its
# worker killed) is queued again, and the release job wakes the sender of a queued message
# that waited this long past its time (a lost wake).
OUTBOUND_HANDOFF_LEASE = timedelta(seconds=60)
OUTBOUND_RELEASE_GRACE = timedelta(seconds=60)
# Task modules beyond the apps' `tasks` (the cockpit's jobs: the engine's tasks must not
# import the cockpit, docs/architecture.md §4).
CELERY_IMPORTS = ("automation.cockpit.jobs",)
CELERY_BEAT_SCHEDULE = {
    "route-waiting-inbound": {
        "task": "automation.tasks.inbound_route_due_task",
        "schedule": timedelta(minutes=1),
    },
    "process-timeouts": {
        "task": "automation.tasks.enrollment_timeouts_fire_task",
        "schedule": timedelta(minutes=1),
    },
    "expire-enrollments": {
        "task": "automation.tasks.enrollment_expire_due_task",
        "schedule": timedelta(minutes=1),
    },
    "send-due-messages": {
        "task": "messaging.tasks.outbound_release_due_task",
        "schedule": timedelta(minutes=1),
    },
    # The plan reports' daily roll-up (automation/cockpit/reports/days.py): the report counts
    # live only what began since its last run.
    "report-days": {
        "task": "automation.cockpit.jobs.report_days_refresh_task",
        "schedule": timedelta(minutes=10),
    },
}

# --- SMS -----------------------------------------------------------------------------
_SMS_BACKENDS = {
    "twilio": "messaging.backends.twilio.TwilioBackend",
    "console": "messaging.backends.console.ConsoleBackend",
    "locmem": "messaging.backends.locmem.LocmemBackend",
}
SMS_BACKEND = _SMS_BACKENDS.get(env.str("SMS_BACKEND", default="console")) or env.str("SMS_BACKEND")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com").rstrip("/")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
TWILIO_VALIDATE_SIGNATURE = env.bool("TWILIO_VALIDATE_SIGNATURE", default=True)
if not TWILIO_VALIDATE_SIGNATURE and not DEBUG:
    raise ImproperlyConfigured(
        "TWILIO_VALIDATE_SIGNATURE=0 is only allowed with DEBUG=1: without it anyone "
        "could post fake messages to the webhook."
    )
SMS_HELP_TEXT = env.str(
    "SMS_HELP_TEXT",
    default=(
        "smsjourney: marketing messages from this number. Msg frequency varies. "
        "Msg & data rates may apply. Reply STOP to opt out, START to opt back in."
    ),
)
SMS_OPT_OUT_CONFIRMATION = env.str("SMS_OPT_OUT_CONFIRMATION", default="")
# Sent once when an opted-out contact opts back in (START, UNSTOP, YES); empty: none (as
# with the opt-out confirmation, Twilio's Advanced Opt-Out sends its own).
SMS_OPT_IN_CONFIRMATION = env.str("SMS_OPT_IN_CONFIRMATION", default="")
SMS_QUIET_HOURS = env.str("SMS_QUIET_HOURS", default="20:00-09:00")
# Refuse to start with a window that cannot be read (quiet_hours is pure: stdlib only).
from messaging.quiet_hours import quiet_hours_parse  # noqa: E402

try:
    quiet_hours_parse(SMS_QUIET_HOURS)
except ValueError as exc:
    raise ImproperlyConfigured(f"SMS_QUIET_HOURS: {exc}") from exc
# On top of SMS_QUIET_HOURS, the stricter sending hours and days of the recipient's US state
# (messaging/state_hours.py); 0 for programs outside the US.
SMS_STATE_HOURS = env.bool("SMS_STATE_HOURS", default=True)
# At most N messages that do not answer the contact per rolling window ("3/1d"); empty: off.
SMS_FREQUENCY_CAP = env.str("SMS_FREQUENCY_CAP", default="")
from messaging.frequency import frequency_cap_parse  # noqa: E402

try:
    frequency_cap_parse(SMS_FREQUENCY_CAP)
except ValueError as exc:
    raise ImproperlyConfigured(f"SMS_FREQUENCY_CAP: {exc}") from exc
# Region assumed for numbers written without a country code (admin, import, simulate).
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")
# Loop guard: never send the same text to one contact more than N times in M minutes.
SMS_LOOP_GUARD_MAX = env.int("SMS_LOOP_GUARD_MAX", default=3)
# A paced sender's margin for jitter (infra/pacing.py): at --mps N the product plans N / (1 + m)
# segments a second, so that what reaches Twilio keeps within N in any second even when a
# hand-over runs a little late. 3 % held at 50 MPS on a loaded 2-core machine (bench/README.md).
SMS_PACING_MARGIN = env.float("SMS_PACING_MARGIN", default=0.03)
if not 0 <= SMS_PACING_MARGIN <= 0.5:
    raise ImproperlyConfigured(f"SMS_PACING_MARGIN must be between 0 and 0.5, not {SMS_PACING_MARGIN}.")
SMS_LOOP_GUARD_MINUTES = env.int("SMS_LOOP_GUARD_MINUTES", default=10)
# A contact import (contacts.imports): at most this large a file and this many rows. The
# upload is refused as it streams in past the size, and past the rows counted before the
# file is read as a table (the background task reads it).
CONTACT_IMPORT_MAX_BYTES = 20 * 1024 * 1024  # about 300,000 rows of the usual columns
# The largest request body any door reads (the contact import's file and its form fit).
MAX_REQUEST_BYTES = CONTACT_IMPORT_MAX_BYTES + 1024 * 1024
CONTACT_IMPORT_MAX_ROWS = 500_000
# Plan `http` steps (docs/reference.md §6): loopback, private and link-local addresses are refused
# unless this is set (a service on the same machine or network, in development).
HTTP_STEP_ALLOW_PRIVATE = env.bool("HTTP_STEP_ALLOW_PRIVATE", default=False)
# The whole of one `http` step's call, in seconds: connecting, the answer's headers and its
# body (docs/reference.md §6: 10 s). Not a per-read timeout: a server that drips bytes is cut off.
HTTP_STEP_TIMEOUT = 10

# --- Operating it (docs/reference.md §9) ------------------------------------------------
# GET /metrics answers only with this bearer token (unset: 404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# "text": one plain line a record; "json": one JSON object a line with the contact, message
# and enrollment ids where known (infra/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text").lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
LOGGING = logging_config(level=LOG_LEVEL, json=LOG_FORMAT == "json", quiet_tasks=CELERY_BROKER_URL is None)
