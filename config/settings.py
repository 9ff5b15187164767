"""Daylight settings. Everything that differs between deployments comes from the environment.

With no environment at all Daylight runs embedded: a SQLite file beside manage.py and Celery
tasks executed in-process. Set DATABASE_URL and CELERY_BROKER_URL (or REDIS_URL) for production.
"""

import json
import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def env_json(name) -> dict:
    """A JSON object from the environment ({} when unset); group names may hold commas."""
    value = os.environ.get(name, "").strip()
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object.")
    return {str(key): str(val) for key, val in parsed.items()}


def _secret_key():
    """The SECRET_KEY from the environment; embedded installs keep a generated one on disk."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if os.environ.get("DATABASE_URL"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set.")
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # OpClass in index expressions (inventory.models.indexes)
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "inventory",
    "collectors",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "inventory.metrics.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dashboard.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "dashboard.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'daylight.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dashboard read while an in-process collection writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server fails a request (and a health check) in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic puts files (the Docker image bakes them in at build time).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files Daylight writes (rendered reports). Never served as they are: downloads go through views
# that check who is asking. Docker Compose mounts a volume here (the root file system is
# read-only).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Rendered posture reports, under MEDIA_ROOT/reports/ by default; REPORTS_STORAGE_BACKEND
    # may name any Django storage backend (configured by that backend's own settings).
    "reports": {
        "BACKEND": os.environ.get(
            "REPORTS_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
        )
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST")
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Embedded installs serve static files straight from the source folders (no collectstatic step).
WHITENOISE_USE_FINDERS = not env_bool("STATIC_MANIFEST")
if WHITENOISE_USE_FINDERS:
    # ... so an empty STATIC_ROOT is expected there, not worth WhiteNoise's warning.
    warnings.filterwarnings("ignore", message="No directory at: ")

# --- Redis, Celery and the lock store -------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL", "")
# Redis also holds the collection locks and the cache, when there is one.
REDIS_URL = os.environ.get("REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
# No broker: run tasks in-process, which is what the embedded default wants.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Workers log through LOGGING below (JSON or text) instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("COLLECT_SOFT_TIME_LIMIT", 3300)
CELERY_TASK_TIME_LIMIT = env_int("COLLECT_TIME_LIMIT", 3600)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
DJANGO_CELERY_BEAT_TZ_AWARE = True
# The dashboard's estate-wide figures (inventory.selectors.rollup) are cached per data stamp for
# at most DAYLIGHT_ROLLUP_TTL seconds, which bounds how long a write no stamp sees (a finding
# the nightly re-evaluation resolves) can go unseen. Beat has them all counted again every
# DAYLIGHT_ROLLUP_REFRESH seconds, before they expire, so no viewer pays for counting the
# estate between collections: derived from the TTL, so it always comes first.
DAYLIGHT_ROLLUP_TTL = 15 * 60
DAYLIGHT_ROLLUP_REFRESH = DAYLIGHT_ROLLUP_TTL * 2 // 3
# Daylight's own jobs. Beat's DatabaseScheduler copies these into PeriodicTask rows at start;
# each Source's collection schedule is a PeriodicTask of its own (inventory.schedules).
CELERY_BEAT_SCHEDULE = {
    "daylight-expire-decisions": {
        "task": "daylight.expire_decisions",
        "schedule": crontab(minute=5, hour=0),
    },
    "daylight-reevaluate-findings": {
        "task": "daylight.reevaluate_findings",
        "schedule": crontab(minute=20, hour=0),
    },
    "daylight-requeue-deliveries": {
        "task": "daylight.requeue_deliveries",
        "schedule": crontab(minute="*/15"),
    },
    "daylight-export-siem": {
        "task": "daylight.export_siem",
        "schedule": crontab(minute="*"),
    },
    "daylight-prune": {
        "task": "daylight.prune",
        "schedule": crontab(minute=40, hour=3),
    },
    "daylight-warm-rollups": {
        "task": "daylight.warm_rollups",
        "schedule": timedelta(seconds=DAYLIGHT_ROLLUP_REFRESH),
        # Still queued when the next one is due (the workers busy collecting): dropped, so
        # runs never pile up behind a long collection.
        "options": {"expire_seconds": DAYLIGHT_ROLLUP_REFRESH},
    },
}

# Posture reports for the organisation and every team: when (five cron fields, UTC; "off" for
# never; by default 06:00 on the first day of each quarter), and how far back the first looks.
DAYLIGHT_REPORT_SCHEDULE = os.environ.get("DAYLIGHT_REPORT_SCHEDULE", "0 6 1 1,4,7,10 *").strip()
if DAYLIGHT_REPORT_SCHEDULE.lower() not in {"", "off"}:
    _cron = DAYLIGHT_REPORT_SCHEDULE.split()
    if len(_cron) != 5:
        raise ImproperlyConfigured("DAYLIGHT_REPORT_SCHEDULE must have five cron fields or be off.")
    _fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    CELERY_BEAT_SCHEDULE["daylight-posture-reports"] = {
        "task": "daylight.posture_reports",
        "schedule": crontab(**dict(zip(_fields, _cron, strict=True))),
    }

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "inventory.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["inventory.api.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "inventory.api.pagination.IdsFirstPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Daylight API",
    "DESCRIPTION": "Inventory of containers, clusters and serverless functions, and who owns them.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",  # served from our static files, not a CDN
}

# --- Daylight ----------------------------------------------------------------------------------
# Registries whose images count as trusted; anything else raises an "untrusted registry" finding.
DAYLIGHT_TRUSTED_REGISTRIES = env_list(
    "DAYLIGHT_TRUSTED_REGISTRIES",
    "registry.internal.example,*.dkr.ecr.*.amazonaws.com,*-docker.pkg.dev,*.azurecr.io",
)
# A function not modified for this many days is stale.
DAYLIGHT_STALE_DAYS = env_int("DAYLIGHT_STALE_DAYS", 90)
DAYLIGHT_INGEST_BATCH = env_int("DAYLIGHT_INGEST_BATCH", 2000)
# How many scopes (accounts x regions, projects, subscriptions…) of one source are read at once.
DAYLIGHT_SCOPE_CONCURRENCY = env_int("DAYLIGHT_SCOPE_CONCURRENCY", 4)
DAYLIGHT_LOCK_TTL = env_int("DAYLIGHT_LOCK_TTL", CELERY_TASK_TIME_LIMIT + 60)

# --- Single sign-on (OpenID Connect) -------------------------------------------------------
# Off unless an issuer and a client id are set. Endpoints come from the issuer's discovery
# document unless set one by one; the client secret only ever lives in the environment.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_ENABLED = bool(OIDC_ISSUER and OIDC_RP_CLIENT_ID)
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_USERINFO_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_JWKS_URI", "")
OIDC_OP_LOGOUT_ENDPOINT = os.environ.get("OIDC_END_SESSION_ENDPOINT", "")
# Signing out of Daylight after signing in through the provider ends the provider's session too
# (OpenID Connect RP-Initiated Logout 1.0), when it names an end_session_endpoint. The ID token
# stays in the (server-side) session to be sent back as id_token_hint: it opens nothing here.
OIDC_PROVIDER_LOGOUT = env_bool("OIDC_PROVIDER_LOGOUT", True)
OIDC_STORE_ID_TOKEN = OIDC_PROVIDER_LOGOUT
OIDC_OP_LOGOUT_URL_METHOD = "inventory.sso.provider_logout_url"
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
# Seconds the provider's clock may be off from ours when checking a token's times.
OIDC_CLOCK_SKEW = env_int("OIDC_CLOCK_SKEW", 60)
LOGIN_REDIRECT_URL_FAILURE = "login"
# Whose claim names the person, and which claim lists their IdP groups.
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
# JSON objects: IdP group → Daylight role, IdP group → team slug. Applied at every sign-in.
OIDC_ROLE_GROUPS = env_json("OIDC_ROLE_GROUPS")
OIDC_TEAM_GROUPS = env_json("OIDC_TEAM_GROUPS")
# The role of someone in no mapped group: none (they see nothing) unless set.
OIDC_DEFAULT_ROLE = os.environ.get("OIDC_DEFAULT_ROLE", "")
_roles = {*OIDC_ROLE_GROUPS.values(), OIDC_DEFAULT_ROLE} - {"", "viewer", "reconciler", "admin"}
if _roles:
    raise ImproperlyConfigured(f"OIDC roles must be viewer, reconciler or admin: {sorted(_roles)}")
AUTHENTICATION_BACKENDS = [
    "inventory.signin_limits.LockoutBackend",  # first: refuses locked-out names outright
    "django.contrib.auth.backends.ModelBackend",
]
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.append("inventory.sso.OIDCBackend")

# Failed password sign-ins (inventory/signin_limits.py): this many from one address for one
# user name, or this many for one name from anywhere, lock it out for DAYLIGHT_SIGNIN_LOCKOUT s.
DAYLIGHT_SIGNIN_FAILURES = env_int("DAYLIGHT_SIGNIN_FAILURES", 5)
DAYLIGHT_SIGNIN_FAILURES_PER_NAME = env_int("DAYLIGHT_SIGNIN_FAILURES_PER_NAME", 20)
DAYLIGHT_SIGNIN_LOCKOUT = env_int("DAYLIGHT_SIGNIN_LOCKOUT", 900)

# A reconciler decides only for their teams' assets and the unowned pool.
DAYLIGHT_TEAM_SCOPING = env_bool("DAYLIGHT_TEAM_SCOPING")

# --- Notifications ------------------------------------------------------------------------------
# Where links in notifications point: the dashboard's address as its users reach it.
DAYLIGHT_BASE_URL = os.environ.get("DAYLIGHT_BASE_URL", "http://localhost:8000").rstrip("/")
# A digest names at most this many assets; the rest are a link to the filtered list.
DAYLIGHT_NOTIFY_MAX_ITEMS = env_int("DAYLIGHT_NOTIFY_MAX_ITEMS", 20)
DAYLIGHT_NOTIFY_TIMEOUT = env_int("DAYLIGHT_NOTIFY_TIMEOUT", 10)  # seconds per HTTP/SMTP attempt
# Retries after the first attempt; the n-th waits up to 2^n * backoff seconds (capped, jittered).
DAYLIGHT_NOTIFY_RETRIES = env_int("DAYLIGHT_NOTIFY_RETRIES", 6)
DAYLIGHT_NOTIFY_BACKOFF = env_int("DAYLIGHT_NOTIFY_BACKOFF", 30)
DAYLIGHT_NOTIFY_BACKOFF_MAX = env_int("DAYLIGHT_NOTIFY_BACKOFF_MAX", 3600)

# E-mail (notifications), through Django's backends: SMTP unless EMAIL_BACKEND says otherwise.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = DAYLIGHT_NOTIFY_TIMEOUT
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "daylight@localhost")

# --- SIEM export ---------------------------------------------------------------------------------
# Records per batch (one file append, one TCP connection, one POST) and batches per stream per run.
DAYLIGHT_SIEM_BATCH = env_int("DAYLIGHT_SIEM_BATCH", 500)
DAYLIGHT_SIEM_MAX_BATCHES = env_int("DAYLIGHT_SIEM_MAX_BATCHES", 100)
# A record is sent once its id has been the highest for this many seconds: longer than any
# transaction that writes findings, events, decisions or audit entries stays open.
DAYLIGHT_SIEM_SETTLE = env_int("DAYLIGHT_SIEM_SETTLE", 120)
# Resolutions are stamped with their collection's time: wait out the longest a task may run.
DAYLIGHT_SIEM_RESOLVED_SETTLE = env_int("DAYLIGHT_SIEM_RESOLVED_SETTLE", CELERY_TASK_TIME_LIMIT)
DAYLIGHT_SIEM_TIMEOUT = env_int("DAYLIGHT_SIEM_TIMEOUT", 10)  # seconds per connection
DAYLIGHT_SIEM_HOSTNAME = os.environ.get("DAYLIGHT_SIEM_HOSTNAME", "")  # syslog HOSTNAME field
DAYLIGHT_SIEM_RETRIES = env_int("DAYLIGHT_SIEM_RETRIES", 5)
DAYLIGHT_SIEM_BACKOFF = env_int("DAYLIGHT_SIEM_BACKOFF", 15)
DAYLIGHT_SIEM_BACKOFF_MAX = env_int("DAYLIGHT_SIEM_BACKOFF_MAX", 900)

# --- Retention --------------------------------------------------------------------------------
# Days each kind of record is kept (0: forever). Gone assets go with their history, findings,
# decisions and access events. The audit log is evidence: kept forever unless set.
DAYLIGHT_RETAIN_EVENTS_DAYS = env_int("DAYLIGHT_RETAIN_EVENTS_DAYS", 400)
DAYLIGHT_RETAIN_CHANGES_DAYS = env_int("DAYLIGHT_RETAIN_CHANGES_DAYS", 730)
DAYLIGHT_RETAIN_RUNS_DAYS = env_int("DAYLIGHT_RETAIN_RUNS_DAYS", 180)
DAYLIGHT_RETAIN_GONE_DAYS = env_int("DAYLIGHT_RETAIN_GONE_DAYS", 365)
DAYLIGHT_RETAIN_AUDIT_DAYS = env_int("DAYLIGHT_RETAIN_AUDIT_DAYS", 0)
# Notification messages: sent ones after this many days; failed ones are kept longer, being the
# record of what never arrived. Pending ones (still being tried) are never pruned.
DAYLIGHT_RETAIN_DELIVERIES_DAYS = env_int("DAYLIGHT_RETAIN_DELIVERIES_DAYS", 90)
DAYLIGHT_RETAIN_FAILED_DELIVERIES_DAYS = env_int("DAYLIGHT_RETAIN_FAILED_DELIVERIES_DAYS", 365)
# Posture reports (with their files): older than this many days, or beyond the newest N of their
# scope. Both 0 by default: reports are evidence. Each scope's latest ready report always stays.
DAYLIGHT_RETAIN_REPORTS_DAYS = env_int("DAYLIGHT_RETAIN_REPORTS_DAYS", 0)
DAYLIGHT_RETAIN_REPORTS_KEEP = env_int("DAYLIGHT_RETAIN_REPORTS_KEEP", 0)
DAYLIGHT_PRUNE_BATCH = env_int("DAYLIGHT_PRUNE_BATCH", 1000)  # rows per delete, one transaction

# --- Posture reports ----------------------------------------------------------------------------
# The first report of a scope covers this many days; each later one starts where the last ended.
DAYLIGHT_REPORT_DAYS = env_int("DAYLIGHT_REPORT_DAYS", 91)
# Who gets the organisation's report by e-mail (none: it is only stored), and whether each team's
# report goes to the team's contact address.
DAYLIGHT_REPORT_RECIPIENTS = env_list("DAYLIGHT_REPORT_RECIPIENTS")
DAYLIGHT_REPORT_EMAIL_TEAMS = env_bool("DAYLIGHT_REPORT_EMAIL_TEAMS")
DAYLIGHT_REPORT_TIME_LIMIT = env_int("DAYLIGHT_REPORT_TIME_LIMIT", 600)  # seconds per report

# Prometheus scrapes /metrics with "Authorization: Bearer <this>"; without one /metrics is off.
DAYLIGHT_METRICS_TOKEN = os.environ.get("DAYLIGHT_METRICS_TOKEN", "")

# json: one object per line with time, level, logger, message and, inside a collection, its run,
# source, provider and scope (config/logs.py). text: the same as a readable line.
DAYLIGHT_LOG_FORMAT = os.environ.get("DAYLIGHT_LOG_FORMAT", "text").strip().lower()
if DAYLIGHT_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("DAYLIGHT_LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "()": "config.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": DAYLIGHT_LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint narrates every page and names each CSS rule meant for browsers only.
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "ERROR"},
        # At DEBUG these print whole responses, an assumed role's temporary credentials with
        # them: never below WARNING, whatever LOG_LEVEL says.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "azure": {"level": "WARNING"},
    },
}

# --- HTTPS ---------------------------------------------------------------------------------------
# Production (DATABASE_URL set, DEBUG off) is served over HTTPS, normally by a TLS proxy in front
# of gunicorn: gunicorn marks requests from FORWARDED_ALLOW_IPS carrying X-Forwarded-Proto: https
# as secure. Behind another server, SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO tells Django
# to trust that header itself (only if the proxy always sets it). SECURE_COOKIES=false turns all
# of this off for a deployment that really is plain HTTP.
HTTPS = not DEBUG and bool(os.environ.get("DATABASE_URL")) and env_bool("SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
# Probes and Prometheus call these over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if proxy_header := os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (proxy_header, "https")
SESSION_COOKIE_HTTPONLY = True
