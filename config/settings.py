"""Settings, all from the environment (12-factor), safe by default.

DJANGO_ENV is ``production`` unless told otherwise: DEBUG off, SECRET_KEY required, secure cookies.
``development`` (``make run``) and ``test`` relax only what a laptop needs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from config import calling_hours, embedded

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="production")
if DJANGO_ENV not in {"production", "development", "test"}:
    raise ImproperlyConfigured("DJANGO_ENV must be production, development or test")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "development")
if PRODUCTION and DEBUG:  # technical error pages show settings, code and data to anyone
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_ENV=production")
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

PLATFORM_HOST = env.str("PLATFORM_HOST", default="localhost").lower()
PLATFORM_NAME = env.str("PLATFORM_NAME", default="Callcenter")
# The seller on every invoice (tenants/invoice_parties.py): legal name, address, tax id and the
# bank account clients pay into; invoices fall due INVOICE_DUE_DAYS after issue.
SELLER_LEGAL_NAME = env.str("SELLER_LEGAL_NAME", default=f"{PLATFORM_NAME} Contact Center Ltd")
SELLER_ADDRESS = env.str("SELLER_ADDRESS", default="1 Platform Street\n10115 Berlin\nGermany")
SELLER_TAX_ID = env.str("SELLER_TAX_ID", default="DE000000000")
SELLER_REGISTRATION = env.str("SELLER_REGISTRATION", default="")
SELLER_BANK_NAME = env.str("SELLER_BANK_NAME", default="Example Bank")
SELLER_IBAN = env.str("SELLER_IBAN", default="DE89370400440532013000")
SELLER_BIC = env.str("SELLER_BIC", default="COBADEFFXXX")
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=14)
# The platform host and every tenant host under it; more (e.g. a load balancer's) by env.
ALLOWED_HOSTS = [PLATFORM_HOST, f".{PLATFORM_HOST}", *env.list("EXTRA_ALLOWED_HOSTS", default=[])]

# HTTPS: behind a proxy that terminates TLS and sets X-Forwarded-Proto.
HTTPS = env.bool("DJANGO_HTTPS", default=PRODUCTION)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # every client company's host is under PLATFORM_HOST
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
SESSION_COOKIE_HTTPONLY = True
# Host-only cookies: a session of acme.<host> is never sent to globex.<host>.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

SHARED_APPS = [
    "tenants",  # before django_tenants: its migrate_schemas also keeps the base schema current
    "django_tenants",
    "accounts",
    "telephony",
    "console",
    "operations",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "channels",
    "axes",  # failed logins of every host, in public: accounts named <schema>:<username>
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "scripts_engine",
    "telephony.calls",
    "reporting",
    "quality",
    "outbound",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Client"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# New tenants are cloned from this schema, which migrate_schemas keeps current.
TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_BASE_SCHEMA = "tenant_base"
TENANT_LIMIT_SET_CALLS = True
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
TENANT_DOMAIN_CACHE_SECONDS = env.float("TENANT_DOMAIN_CACHE_SECONDS", default=30.0)
# migrate_schemas (tenants/migrating.py): schemas already current are skipped; with
# --executor=multiprocessing the others run in this many forked workers, each on its own connection.
GET_EXECUTOR_FUNCTION = "tenants.migrating.executor_for"
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("MIGRATION_PROCESSES", default=os.cpu_count() or 2)
TENANT_MULTIPROCESSING_CHUNKS = 1

AUTH_USER_MODEL = "accounts.User"
# Login throttling (accounts/throttling.py): django-axes locks an account (<schema>:<username>)
# after AXES_FAILURE_LIMIT failed logins for AXES_COOLOFF_TIME; failures per client address are
# limited too (LOGIN_FAILURES_PER_ADDRESS). Staff unlock in the admin or with `manage.py unlock_login`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "accounts.throttling.account_key"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # no row for every successful login; failures are kept
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# axes.W006 asks for its own per-address lockout: ours (LOGIN_FAILURES_PER_ADDRESS) has a limit of
# its own, so one office behind one address is not locked out by the limit of a single account.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
LOGIN_FAILURES_PER_ADDRESS = env.str("LOGIN_FAILURES_PER_ADDRESS", default="30/15min")
LOGIN_FAILURES_PER_ACCOUNT_LINK = env.str("LOGIN_FAILURES_PER_ACCOUNT_LINK", default="5/15min")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

MIDDLEWARE = [
    "telephony.late_webhooks.LateWebhookMiddleware",  # first: it reads nothing
    "tenants.middleware.TenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.ClosedCompanyReadOnlyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.throttling.LoginThrottleMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns an account's lockout into the 429 page
]

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
                "tenants.context.tenant",
                "accounts.permissions.may",
            ]
        },
    }
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

# Databases: DATABASE_URL, or the embedded PostgreSQL.
_db = env.db("DATABASE_URL") if env.str("DATABASE_URL", default="") else embedded.postgres().settings()
# Under ASGI every request runs its sync code in a thread of its own: a persistent connection
# would stay behind with each one. Put a session-mode pooler in front for connection reuse.
# django-tenants' backend, recycling a connection once it has served DB_RECYCLE_AFTER_SCHEMAS
# schemas (tenants/postgresql_backend): PostgreSQL caches every table a connection opened.
_db.update(ENGINE="tenants.postgresql_backend", CONN_MAX_AGE=env.int("DB_CONN_MAX_AGE", 0))
DB_RECYCLE_AFTER_SCHEMAS = env.int("DB_RECYCLE_AFTER_SCHEMAS", default=100)
# A pool per process (psycopg_pool) instead: connecting costs more than most requests. Safe with
# django-tenants: closing a connection forgets its search_path, so the next user sets it again.
DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0 if DJANGO_ENV == "test" else 10)
# Threads serving plain HTTP requests in each web process (config/asgi.py): one per pooled
# connection by default, so a request never waits for a connection another thread keeps.
WEB_THREADS = env.int("WEB_THREADS", default=DB_POOL_SIZE or 10)
# Threads of each voice or hooks process (granian, config/wsgi.py): no more than granian's own
# bound (two a core, and one), above which it warns; 3 and 10 cost the same CPU a call and gave
# the same offer p99 at 1,000 x 8 calls/s (docs/reliability.md, the fifteenth session).
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", default=min(WEB_THREADS, 2 * (os.cpu_count() or 1) + 1))
# The CPU priority (``nice``) of the processes nobody waits on, as ``manage.py run`` starts them:
# Twilio's callbacks (hooks), the background queue's worker and beat (config/supervision.py). On a
# busy box the kernel gives the larger share of the cores to the webhooks a caller waits on, the
# consoles and the call path's worker; on an idle one it changes nothing. 0: all alike
# (docs/scale.md §4).
BACKGROUND_NICENESS = env.int("BACKGROUND_NICENESS", default=2)
# The web's and workers' garbage collector (config/collector.py): the youngest generation is
# collected every this many allocations (CPython's default is 700).
GC_YOUNG_THRESHOLD = env.int("GC_YOUNG_THRESHOLD", default=50_000)
if DB_POOL_SIZE:
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": 10,
        "max_lifetime": env.float("DB_POOL_MAX_LIFETIME", default=900.0),  # seconds, then replaced
    }
else:
    _db["CONN_HEALTH_CHECKS"] = True
if env.str("DATABASE_NAME", default=""):  # a worker started by the tests joins the test database
    _db["NAME"] = env.str("DATABASE_NAME")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: broker, channel layer and cache, on separate logical databases.
REDIS_URL = (env.str("REDIS_URL", default="") or embedded.redis().url).rstrip("/")
REDIS_DB_PREFIX = env.int("REDIS_DB_BASE", default=0)


def _redis_db(index: int) -> str:
    return f"{REDIS_URL}/{REDIS_DB_PREFIX + index}"


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _redis_db(1),
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}
# REST API limits (reporting/api/ratelimit.py: sliding windows in Redis, counted atomically): per
# key, per company (all its keys together), and per client address for requests without a valid key.
RATE_LIMIT_REDIS_URL = _redis_db(1)
# Operators' consoles beat into one sorted set (telephony/console_presence.py).
CONSOLE_PRESENCE_REDIS_URL = _redis_db(1)
API_RATE_LIMIT_PER_KEY = env.str("API_RATE_LIMIT_PER_KEY", default="600/min")
API_RATE_LIMIT_PER_COMPANY = env.str("API_RATE_LIMIT_PER_COMPANY", default="1200/min")
API_RATE_LIMIT_PER_ADDRESS = env.str("API_RATE_LIMIT_PER_ADDRESS", default="60/min")
CHANNEL_LAYERS = {
    "default": {
        # Redis publish/subscribe (issue 23): a push is one PUBLISH delivered at once to the
        # processes that hold the operator's sockets, instead of a message stored per process and
        # popped (12-22 % less CPU a call, offers sooner: docs/reliability.md, issue 23).
        # A push published while a process's subscription is down is lost and the socket stays
        # open: each process sends itself canaries and tells its consoles everything again after
        # one was lost (console/floor.py). Pub/sub channels ignore the database number, so the
        # prefix carries it: two deployments (or test workers) on one Redis never hear each other.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [_redis_db(2)], "prefix": f"cc{REDIS_DB_PREFIX + 2}"},
    }
}
CELERY_BROKER_URL = _redis_db(0)
CELERY_RESULT_BACKEND = _redis_db(3)
# Celery configured for failure (issue 22; docs/reliability.md). A task runs at most
# CELERY_TASK_TIME_LIMIT seconds; a task taken by a worker that then died (kill -9) goes back to the
# queue once the visibility timeout, a little above that limit, has passed (it was 6 hours). Ticks
# and other periodic work carry an expiry: a backlog after an outage is dropped, not run at once.
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_TIME_LIMIT = 600
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 60,
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "socket_keepalive": True,
    "retry_on_timeout": True,
    "health_check_interval": 10,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"timeout": 5.0}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# The worker reconnects for ever after the broker went away, and so does a freshly started one.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Sending a task while Redis restarts: retried with a growing pause (0, 0.5, 1, 1.5 s …) for ~10 s.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 8, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 2}  # fmt: skip
# Gossip, mingle and the remote-control mailbox are broadcast channels the worker re-opens on every
# broker reconnect; closing them on a dead connection is kombu's "'NoneType' object has no
# attribute 'hostname'" → "Unrecoverable error" (celery/kombu#582, celery/celery#8030, #8091). This
# platform uses none of them (workers beat into CELERY_WORKER_HEARTBEAT_KEY), so they are off, in the
# worker's command line (config/supervision.py) and here.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_FLAGS = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
# Celery's Django fixup closes every connection before and after each task and, in a prefork child,
# the whole connection pool (celery/celery#10554, open): a new PostgreSQL connection per task, with
# its catalogue cache cold (issue 23 measured a fifth of the call worker's CPU there). Given a reuse
# count, the fixup leaves them, closing them all only once in that many tasks; each task gives its
# connection back to the pool at its end instead, as Django does at a request's end
# (``config.celery``: a broken one, or one past CONN_MAX_AGE, is closed, or recycled).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
# Expiry (seconds) of the work that is worthless once late: a tick every 2 s need not run 4 minutes
# later, and the offers it would expire are expired by whoever next looks at them anyway.
CELERY_TASK_ANNOTATIONS = {
    "telephony.tasks.routing_tick": {"expires": 10},
    "telephony.tasks.match_queues": {"expires": 30},
    "outbound.tasks.dial_tick": {"expires": 10},
    "outbound.tasks.dial_for_operators": {"expires": 30},
    "reporting.tasks.dispatch_statistics": {"expires": 600},
    "reporting.tasks.dispatch_webhook_retries": {"expires": 240},
    "telephony.reliability.sweep_presence": {"expires": 10},
    "telephony.reliability.reconcile_calls": {"expires": 50},
    "telephony.reliability.reconcile_company": {"expires": 120},
}
CELERY_IMPORTS = ["telephony.reliability"]
# Queues by urgency (issue 23): the call path (a caller is listening: bridges, offers and their
# expiry, the dialer) never waits behind background work (statistics, exports, webhooks,
# recordings, reconciliation). `manage.py run` starts a worker per queue; a task not listed here
# goes to the background queue (tests hold every task of ours to this list).
CELERY_CALL_QUEUE = "call"
CELERY_BACKGROUND_QUEUE = "background"
CELERY_TASK_DEFAULT_QUEUE = CELERY_BACKGROUND_QUEUE
# Both queues declared: a worker started without ``-Q`` consumes both (else Celery's default is the
# default queue alone, and nothing would take the call path's tasks).
CELERY_TASK_QUEUES = [Queue(CELERY_CALL_QUEUE), Queue(CELERY_BACKGROUND_QUEUE)]
CELERY_CALL_TASKS = [
    "telephony.tasks.routing_tick",
    "telephony.tasks.match_queues",
    "telephony.tasks.bridge_call",
    "telephony.tasks.dial_back",  # a callback that kept its place: the person is called back now
    "telephony.tasks.announce_to_operator",  # calls set up by the version before 2026-12-05
    "telephony.tasks.release_caller",
    "telephony.reliability.sweep_presence",
    "outbound.tasks.dial_tick",
    "outbound.tasks.dial_for_operators",
]
CELERY_BACKGROUND_TASKS = [
    "telephony.tasks.store_recording",
    "telephony.tasks.dispatch_recording_retention",
    "telephony.tasks.purge_recordings",
    "operations.tasks.*",
    "telephony.reliability.reconcile_calls",
    "telephony.reliability.reconcile_company",
    "reporting.tasks.*",
    "tenants.tasks.*",
    "accounts.tasks.*",
]
CELERY_TASK_ROUTES = {
    **{name: {"queue": CELERY_CALL_QUEUE} for name in CELERY_CALL_TASKS},
    **{name: {"queue": CELERY_BACKGROUND_QUEUE} for name in CELERY_BACKGROUND_TASKS},
}
# Reconciliation with Twilio (telephony/reconcile.py): calls whose state has not moved for this long
# are asked of Twilio (shorter in the soak benchmark).
RECONCILE_EVERY_SECONDS = env.float("RECONCILE_EVERY_SECONDS", default=60.0)
RECONCILE_WAITING_SECONDS = env.int("RECONCILE_WAITING_SECONDS", default=120)
RECONCILE_ANSWERED_SECONDS = env.int("RECONCILE_ANSWERED_SECONDS", default=600)
RECONCILE_RECHECK_SECONDS = env.int("RECONCILE_RECHECK_SECONDS", default=300)  # per call, between asks
# Fairness between client companies (telephony/routing/fairness.py): a call waiting this long wins
# whatever the contracts say (no company starves); the service level the router steers by is over
# this sliding window.
ROUTING_FAIRNESS = env.bool("ROUTING_FAIRNESS", default=True)  # off: today's order between companies
ROUTING_HARD_LIMIT_SECONDS = env.float("ROUTING_HARD_LIMIT_SECONDS", default=120.0)
ROUTING_SL_WINDOW_MINUTES = env.int("ROUTING_SL_WINDOW_MINUTES", default=30)
CELERY_BEAT_SCHEDULE = {
    "Consoles' presence sweep": {"task": "telephony.reliability.sweep_presence", "schedule": 5.0},
    "Reconciliation with Twilio": {
        "task": "telephony.reliability.reconcile_calls",
        "schedule": RECONCILE_EVERY_SECONDS,
    },
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULER = "config.beat:Scheduler"  # django-celery-beat's, asking less often
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HEARTBEAT_KEY = "cc:celery:workers"

SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Twilio. Webhooks are refused (403) unless signed with TWILIO_AUTH_TOKEN over the URL Twilio
# called: TWILIO_WEBHOOK_BASE_URL (e.g. https://cc.example.com) when a proxy rewrites the host or
# scheme. TWILIO_API_BASE_URL points the REST client at a local mock of Twilio's API in tests.
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="AC" + "0" * 32)
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="" if PRODUCTION else "development-auth-token")
TWILIO_WEBHOOK_BASE_URL = env.str("TWILIO_WEBHOOK_BASE_URL", default="").rstrip("/")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="").rstrip("/")
# Twilio waits 15 s for a webhook's answer, then fails it (error 11205) and asks the number's
# fallback URL. A webhook a caller waits on that reaches Django this long after the proxy stamped
# it (X-Request-Start) is answered 503 unheard (telephony/late_webhooks.py); 0: never.
WEBHOOK_GIVE_UP_SECONDS = env.float("WEBHOOK_GIVE_UP_SECONDS", default=14.0)
# A call offered to an operator as it comes in (someone free) waits for them in its conference,
# with the company's hold music, instead of in Twilio's queue: two webhooks and a REST request
# fewer a call (``telephony.calls.flows.to_queue``). Off: every caller waits in Twilio's queue,
# with place announcements and the wait key, and is moved into the conference on accept.
CALLS_STRAIGHT_INTO_CONFERENCE = env.bool("CALLS_STRAIGHT_INTO_CONFERENCE", default=True)
# The hours a person may be called back (a callback they asked for, keeping their place), in the
# company's time zone, every day: "HH:MM-HH:MM"; empty for none (tests, unless they set it).
# A malformed value, or an overnight one, stops the start (``config.calling_hours``).
CALLBACK_CALLING_HOURS = env.str(
    "CALLBACK_CALLING_HOURS", default="" if DJANGO_ENV == "test" else "08:00-21:00"
)
try:
    calling_hours.parse(CALLBACK_CALLING_HOURS)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
# The operator's browser phone (Twilio Voice JS SDK access tokens, /console/token).
TWILIO_API_KEY = env.str("TWILIO_API_KEY", default="SK" + "0" * 32)
TWILIO_API_SECRET = env.str("TWILIO_API_SECRET", default="development-api-secret-not-for-production")
TWILIO_TWIML_APP_SID = env.str("TWILIO_TWIML_APP_SID", default="AP" + "0" * 32)
# The browser as the operator's phone (Twilio Voice JavaScript SDK). Off where no real Twilio is
# reachable (demo, tests): there the simulator plays the audio leg.
TWILIO_SOFTPHONE = env.bool("TWILIO_SOFTPHONE", default=False)

# Content-Security-Policy on every page (django-csp): scripts and styles from our own static files
# only (the vendored Chart.js, Twilio Voice SDK and Swagger UI included), no 'unsafe-inline' for
# either: the one inline <style> (a company's brand colour) carries the request's nonce. WebSockets
# to the page's own host are 'self'. With the browser phone on, Twilio's signalling (wss), event
# gateway and ringtones are allowed too.
_TWILIO_SOURCES = (
    ["wss://*.twilio.com", "https://eventgw.twilio.com", "https://sdk.twilio.com"] if TWILIO_SOFTPHONE else []
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *_TWILIO_SOURCES],
        "media-src": [SELF, "blob:", *(["https://sdk.twilio.com"] if TWILIO_SOFTPHONE else [])],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None  # only for `collectstatic` deployments
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by WhiteNoise from the app and project folders (no collectstatic step to forget).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
# Uploads over this size are refused by the order form (draft scripts).
ORDER_UPLOAD_MAX_BYTES = env.int("ORDER_UPLOAD_MAX_BYTES", default=2 * 1024 * 1024)
# Hold music a client admin uploads (MP3 or WAV, checked by parsing it) is refused over this size.
HOLD_MUSIC_MAX_BYTES = env.int("HOLD_MUSIC_MAX_BYTES", default=5 * 1024 * 1024)
# Outgoing webhooks reach public addresses only (reporting/outgoing_http.py), in every environment.
# Host names, addresses or networks listed here may be private: a receiver on a developer's
# machine or in the tests, e.g. "127.0.0.1,localhost". Cloud metadata addresses never are.
WEBHOOK_ALLOWED_PRIVATE_HOSTS = env.list("WEBHOOK_ALLOWED_PRIVATE_HOSTS", default=[])
# Days a closed client company's numbers stay reserved before they return to the pool.
NUMBER_RELEASE_GRACE_DAYS = env.int("NUMBER_RELEASE_GRACE_DAYS", default=30)

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"noreply@{PLATFORM_HOST}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "tenant_context": {"()": "django_tenants.log.TenantContextFilter"},
        "recycled_connections": {"()": "tenants.postgresql_backend.recycling.RecycledConnectionFilter"},
    },
    "formatters": {"tenant": {"format": "%(asctime)s %(levelname)s [%(schema_name)s] %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tenant_context"],
            "formatter": "tenant",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "psycopg.pool": {"filters": ["recycled_connections"]},
    },
}
