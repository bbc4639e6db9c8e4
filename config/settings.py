"""Settings, read from environment variables (see the README's configuration table)."""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from csp.constants import NONE, SELF

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Embedded servers, uploaded media and exports live here unless told otherwise.
VAR_DIR = embedded.var_dir_from_environment()

# Off unless asked for: the demo study is taken by real people, who must never see a traceback.
DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    """``SECRET_KEY``; without it, a random key kept in VAR_DIR (one host; several need the same key)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place: processes starting together all read one whole key.
        draft = VAR_DIR / f".secret_key.{os.getpid()}"
        draft.write_text(secrets.token_urlsafe(50))
        draft.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "config",  # the database connections' setup (config/database.py)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # failed sign-ins and lockouts (below)
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from here: no CDN is needed
    "generation",
    "annotate",
    "studies",
    "exports",
    "api",
    "demo",  # the synthetic demo world: it imports the apps above, none of them imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files without DEBUG and without a proxy (the demo); behind nginx they are served the same way.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as its documentation asks: it turns a sign-in refused for a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "lib.roles.roles",
            ],
        },
    },
    # The comparison panel, rendered on every vote, is the one Jinja2 template (templates/jinja2/):
    # compiled to Python, it renders in a fraction of the Django template's time. The second folder
    # holds the partial it shares with Django templates, _ab_controls.html, written in what both read.
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2", BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "lib.jinja2.environment"},
    },
]

# --- the real parts: PostgreSQL and Redis ---------------------------------------------------------

# Which servers are embedded (started from wheels, data in VAR_DIR). Importing the settings starts none:
# a process starts them when it first needs them (config.embedded.start_configured).
EMBEDDED_SERVERS = [
    name for name, variable in (("postgresql", "DATABASE_URL"), ("redis", "CELERY_BROKER_URL"))
    if not os.environ.get(variable)
]  # fmt: skip

DATABASES: dict[str, dj_database_url.DBConfig]
if "postgresql" in EMBEDDED_SERVERS:
    # Django's PostgreSQL backend, which starts the server on its first connection and asks it where
    # it listens (config/embedded_postgresql).
    DATABASES = {
        "default": {
            "ENGINE": "config.embedded_postgresql",
            "NAME": "postgres",
            "CONN_MAX_AGE": envint("CONN_MAX_AGE", 60),
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=envint("CONN_MAX_AGE", 60))
    }
# Off by default: a health check is one more round trip (SELECT 1) at the start of every request. A
# connection the server dropped fails that one request, and Django then replaces it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = envbool("CONN_HEALTH_CHECKS", False)
# Parameters bound by the server, and statements run a second time on a connection kept prepared: the
# vote's statements are then neither parsed nor planned again, which halves PostgreSQL's CPU per vote.
# Behind PgBouncer in transaction mode (before 1.21, or without max_prepared_statements) set it to false.
if envbool("DATABASE_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=2)
# Two test runs on one server (two checkouts, a benchmark beside the suite) need their own test databases.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_annotate")}

if "redis" in EMBEDDED_SERVERS:
    CELERY_BROKER_URL = embedded.redis_broker_url(VAR_DIR)
else:
    CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]

CELERY_RESULT_BACKEND = None  # results live in the database rows the tasks update
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands an unacknowledged task to another worker after this long: above the longest render.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 4 * 3600),
    # How often a worker looks for tasks whose worker died (kombu's default is 10 s × a throttle of 10).
    "unacked_restore_interval": envint("CELERY_UNACKED_RESTORE_SECONDS", 100),
    "unacked_restore_throttle": 1,
}
# GPU work has a queue of its own; a worker machine serves it with `celery -A config worker -Q gpu -c 1`.
GENERATION_QUEUE = os.environ.get("GENERATION_QUEUE", "gpu")
# Automatic metrics of videos run on the CPU: a queue of their own, so that a GPU is never held by them;
# any machine serves it with `celery -A config worker -Q metrics`.
METRICS_QUEUE = os.environ.get("METRICS_QUEUE", "metrics")
# Celery tries the patterns in this order: the metrics tasks before every other task of the catalog.
CELERY_TASK_ROUTES = {
    "generation.tasks.video_metrics_*": {"queue": METRICS_QUEUE},
    "generation.tasks.*": {"queue": GENERATION_QUEUE},
}
# Per render task (one batch of seeds): the soft limit fails the videos cleanly, the hard one kills the
# process. Both must stay below the visibility timeout, or a slow task would also be handed to a second
# worker.
GENERATION_SOFT_TIME_LIMIT = envint("GENERATION_SOFT_TIME_LIMIT", 3 * 3600)
GENERATION_HARD_TIME_LIMIT = envint("GENERATION_HARD_TIME_LIMIT", 3 * 3600 + 300)
# A video whose worker died this many times (out of memory, hard time limit) fails instead of being retried.
GENERATION_MAX_ATTEMPTS = envint("GENERATION_MAX_ATTEMPTS", 3)
# Per metrics task (every metric of one video): the soft limit records the metrics as failed, the hard one
# kills the process; both below the visibility timeout.
METRICS_SOFT_TIME_LIMIT = envint("METRICS_SOFT_TIME_LIMIT", 1800)
METRICS_HARD_TIME_LIMIT = envint("METRICS_HARD_TIME_LIMIT", 1800 + 120)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True


def _cache_url() -> str:
    """The Redis of the cache: ``CACHE_URL``, else database 1 of the broker's Redis; empty without one."""
    if os.environ.get("CACHE_URL"):
        return os.environ["CACHE_URL"]
    if not os.environ.get("CELERY_BROKER_URL"):
        return f"{embedded.redis_client_url(VAR_DIR)}?db=1"  # the embedded broker's server
    broker = urlsplit(CELERY_BROKER_URL)
    return urlunsplit(broker._replace(path="/1")) if broker.scheme in ("redis", "rediss") else ""


# The cache holds sessions, read on every request: from Redis rather than a database query each time,
# and written through to the database, so a flushed or restarted Redis signs nobody out. Without a
# shared Redis they stay in the database only: a cache of one process could keep a session alive there
# after the person signed out through another. When Redis does not answer, sessions are read from and
# written to the database alone (lib/sessions.py); the timeouts keep a Redis host that is gone from
# holding a request for long.
CACHE_URL = _cache_url()
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "lib.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    SESSION_ENGINE = "lib.sessions"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Axes first: it refuses a locked-out sign-in before a password is checked. Then Django's ModelBackend
# with a cheaper load of the signed-in user (lib/auth.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "lib.auth.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes), on the sign-in page, the admin's and POST /api/token/: after
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is locked out for
# LOGIN_LOCKOUT_MINUTES, and every attempt while locked starts the wait again. Attempts are kept in the
# database: every web process sees them, and signing in keeps working through a Redis outage.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failed attempts are kept; no record of every successful sign-in
AXES_LOCKOUT_CALLABLE = "lib.auth.lockout_response"  # the sign-in page, saying when to try again
AXES_CLIENT_IP_CALLABLE = "lib.auth.client_address"  # the address the API's throttle counts too
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Sign-in links of new people go out by e-mail once EMAIL_HOST names an SMTP server; without it the study
# admin copies each link from the People page.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"  # filled by `manage.py collectstatic` (make demo runs it)

# --- media ----------------------------------------------------------------------------------------

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media")).resolve()
MEDIA_URL = "/media/"  # served by generation.views.media_serve, never by a static handler
# Media are never served by a static handler: every request passes the permission check in
# generation.views.media_serve. Behind nginx, set this to an `internal` location that maps to
# MEDIA_ROOT and the bytes (and Range handling) are left to nginx through X-Accel-Redirect.
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "")
# While a comparison (or a study's matchup) is watched, the next one is already reserved for the
# annotator and the browser fetches its videos, so that the next pair plays at once after the answer.
# Off: one comparison at a time, fetched after the answer.
PREFETCH_NEXT = envbool("PREFETCH_NEXT", True)
# Limits for imported media.
CATALOG_MAX_IMAGE_SIDE = envint("CATALOG_MAX_IMAGE_SIDE", 4096)
CATALOG_MAX_VIDEO_SIDE = envint("CATALOG_MAX_VIDEO_SIDE", 4096)
CATALOG_MAX_FILE_BYTES = envint("CATALOG_MAX_FILE_BYTES", 2 * 1024**3)

# Salt for the hashes that stand in for raters and participants in exports and crowd-platform ids.
IDENTITY_HASH_SALT = os.environ.get("IDENTITY_HASH_SALT", SECRET_KEY)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
# No page of the app is ever shown in a frame, its own included.
X_FRAME_OPTIONS = "DENY"
# HTTPS. All off by default, for the local demo over plain HTTP; the README's production checklist turns
# them on. Behind a proxy that ends TLS, SECURE_PROXY_SSL_HEADER names the header it sets (for
# X-Forwarded-Proto: HTTP_X_FORWARDED_PROTO), which the proxy must always overwrite, never pass through.
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes of a load balancer or orchestrator come over plain HTTP
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")

# Content-Security-Policy: everything from this origin only, no inline script or style, no eval (htmx's
# eval is off in its <meta name="htmx-config">), no plugins, never framed. Scripts live in static/js,
# styles in static/css. CSP_EXTRA_SOURCES adds origins (a CDN serving static files or media, say
# "https://cdn.example.org") to every kind of resource. The API docs pages relax it (api/urls.py).
_csp_sources = [SELF, *envlist("CSP_EXTRA_SOURCES", "")]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": _csp_sources,
        "script-src": _csp_sources,
        "style-src": _csp_sources,
        "img-src": _csp_sources,
        "media-src": _csp_sources,
        "font-src": _csp_sources,
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "api.authentication.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # POST /api/token/ per client address, counted in the cache. Behind proxies, TRUSTED_PROXY_COUNT
    # says how many addresses at the end of X-Forwarded-For they added; without it the header, which
    # any client can write, is ignored.
    "DEFAULT_THROTTLE_RATES": {"token": os.environ.get("API_TOKEN_RATE", "10/minute")},
    "NUM_PROXIES": envint("TRUSTED_PROXY_COUNT", 0),
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Preference annotation API",
    "DESCRIPTION": "Catalog, tracks, studies and judgments for the ML team; exports and generation jobs. "
    "Send `Authorization: Token <key>` with a token from POST /api/token/; a token expires "
    "API_TOKEN_TTL_DAYS (default 30) days after it was made, and DELETE /api/token/ revokes it.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["lib.roles.IsMlTeamOrStaff"],
    "SERVE_AUTHENTICATION": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"CriterionEnum": "annotate.models.Criterion"},
    # lib/converters.py: a row id, within the bigint range.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# An API token is refused this many days after it was made (0: never); POST /api/token/ then makes another.
API_TOKEN_TTL_DAYS = envint("API_TOKEN_TTL_DAYS", 30)
# Export archives; downloads pass the staff / ML-team check, never a static handler.
EXPORT_ROOT = Path(os.environ.get("EXPORT_ROOT", VAR_DIR / "exports")).resolve()
# A local folder of CLIP weights (save_pretrained) for the text-alignment metric; none ship in a package.
TEXT_ALIGNMENT_MODEL = os.environ.get("TEXT_ALIGNMENT_MODEL", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}
