"""Django settings. Every value an operator may change comes from `config.load_config`."""

import secrets
from datetime import timedelta

import dj_database_url

from core.config import BASE_DIR, ConfigError, load_config

try:
    ORCH = load_config()
except ConfigError as exc:
    raise SystemExit(f"configuration error: {exc}") from None

DATA_DIR = ORCH.DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """A stable key kept in the data folder, so sessions survive restarts without configuration."""
    if ORCH.SECRET_KEY:
        return ORCH.SECRET_KEY
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = ORCH.DEBUG
ALLOWED_HOSTS = list(ORCH.ALLOWED_HOSTS)
CSRF_TRUSTED_ORIGINS = list(ORCH.CSRF_TRUSTED_ORIGINS)
# Behind a TLS proxy (every trusted origin https://, README "Behind TLS") the session and CSRF
# cookies are sent over HTTPS only, so a password's session never crosses the network in clear.
BEHIND_TLS = bool(CSRF_TRUSTED_ORIGINS) and all(
    origin.startswith("https://") for origin in CSRF_TRUSTED_ORIGINS)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = BEHIND_TLS

INSTALLED_APPS = [
    # Django's admin with the orchestrator's site as its default (header, status box, API key).
    "orchestrator_site.admin_site.OrchestratorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_prometheus",
    "django_q",
    "channels",
    "core",
    "orchestrator_site",
    "engines",
    "streams",
    "vpn",
    "playback",
    "panel",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "orchestrator_site.middleware.body_size_limit",
    "orchestrator_site.middleware.refuse_nul_bytes",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login refused for too many failures into the lockout answer (AXES_LOCKOUT_CALLABLE).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Failed logins are throttled by django-axes: its backend refuses a locked-out username from
# the same address before the password is checked. The test client's force_login picks the
# first backend that can load a user, ModelBackend, so sessions work as before.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5  # failed logins of one username from one address...
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # ...lock that pair only
AXES_COOLOFF_TIME = timedelta(minutes=15)  # for this long after the last failure
AXES_RESET_ON_SUCCESS = True
# The peer address only: X-Forwarded-For is anyone's to write (daphne runs without
# --proxy-headers), so behind a reverse proxy every login counts from the proxy's address.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_LOCKOUT_CALLABLE = "orchestrator_site.views.locked_out"

ROOT_URLCONF = "orchestrator_site.urls"
ASGI_APPLICATION = "orchestrator_site.asgi.application"
WSGI_APPLICATION = "orchestrator_site.wsgi.application"

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

# SQLite: WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN, so two
# processes never deadlock upgrading read locks ("database is locked"); the busy timeout waits
# for the lock. Django's documented options (5.1+), for the default file and any sqlite:// URL
# alike. Measured against a write queue of our own (a process lock and an flock before BEGIN):
# 100 stream events a second on one web process answered with a p99 of 27 to 72 ms this way,
# 17 to 732 ms with the queue, so the documented way stays (bench/RESULTS.md, README).
_SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def _sqlite(name) -> dict:
    # django-prometheus's backends are Django's own with query and error counters added.
    return {
        "ENGINE": "django_prometheus.db.backends.sqlite3",
        "NAME": name,
        # The web's long-lived request threads (http_handler) reuse their connection.
        "CONN_MAX_AGE": 60,
        "OPTIONS": _SQLITE_OPTIONS,
        "TEST": {"NAME": DATA_DIR / "test-orchestrator.sqlite3"},
    }


def _default_database() -> dict:
    """The SQLite file in DATA_DIR, or DATABASE_URL: a sqlite:// URL gets exactly the options of
    the default file; PostgreSQL goes through django-prometheus's backend (config.py refuses
    other databases)."""
    if not ORCH.DATABASE_URL:
        return _sqlite(DATA_DIR / "orchestrator.sqlite3")
    parsed = dj_database_url.parse(ORCH.DATABASE_URL, conn_max_age=60)
    if parsed["ENGINE"] == "django.db.backends.sqlite3":
        return _sqlite(parsed["NAME"])
    parsed["ENGINE"] = parsed["ENGINE"].replace("django.db.backends.", "django_prometheus.db.backends.")
    return parsed


DATABASES = {"default": _default_database()}


def redis_channel_layer(url: str) -> dict:
    """The channel layer across processes and hosts. redis-py 8 reads with a 5 s socket timeout
    by default, and channels-redis waits for messages with a blocking BZPOPMIN of the same 5 s:
    the client gives up first, and the consumer dies with "Timeout reading from …" (the panel's
    socket closes with 1011; redis-py issue 4091, channels_redis issue 422). The read timeout
    outlasts that blocking read; being finite, it still notices a Redis that stopped answering."""
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": 20}]},
    }


if ORCH.REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_channel_layer(ORCH.REDIS_URL)}
else:
    # A database of its own keeps the layer's polling away from the fleet's write lock.
    INSTALLED_APPS.append("channels_lite")
    DATABASES["channels"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "channels.sqlite3",
        "OPTIONS": _SQLITE_OPTIONS,
        "TEST": {"NAME": DATA_DIR / "test-channels.sqlite3"},
    }
    DATABASE_ROUTERS = ["channels_lite.router.ChannelsRouter"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_lite.layers.core.SQLiteChannelLayer",
            "CONFIG": {"database": "channels", "expiry": 30, "capacity": 500},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "panel" / "static"]
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/panel"

# Bodies above 1 MiB are refused with 413 by orchestrator_site.middleware before Django reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
MAX_REQUEST_BODY_BYTES = 1024 * 1024

# django-q2: jobs of 30 s and more (health, reconcile, cleanup, pruning) and one-off tasks.
Q_CLUSTER = {
    "name": "orchestrator",
    "orm": "default",
    # The cluster runs as threads of `manage.py worker` (orchestrator_site/task_threads.py), which
    # sizes its own pool (Q_WORKERS) and cannot enforce `timeout`: it is the bound our jobs keep
    # to, below `retry`, after which a task taken by a worker process that died is handed out again.
    "timeout": 120,
    "retry": 180,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 200,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Jobs",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "django-q": {"level": "WARNING"},  # django-q2 logs as "django-q"
        "axes": {"level": "WARNING"},  # failed logins and lock-outs; not every login's four lines
        "httpx": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
