"""SalesOps settings — one file, driven by the environment.

Defaults are the embedded setup `make run` needs: SQLite in WAL mode and the django-q2 ORM broker.
`DATABASE_URL` switches to PostgreSQL and `REDIS_URL` to the Redis broker; nothing else changes.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
# Production is "DEBUG off and not a test run": it must not start with the key from the repository.
TESTING = env_bool("SALESOPS_TESTING", False) or "pytest" in sys.modules
if not DEBUG and not TESTING and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key. Set SECRET_KEY in the environment (or DEBUG=1 locally)."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Absolute base for links that leave the site (WeCom text cards, e-mails, QR codes).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_q",
    "simple_history",
    "salesops",
    "leads",
    "leads.cash",
    "visits",
    "scoring",
    "dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "salesops.compression.SafeGZipMiddleware",  # K5: HTML compressed where no text is reflected
    # NUL in a path, parameter or form field: 400, never a PostgreSQL DataError (R4).
    "salesops.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese unless the user picked English with the switcher (ignores Accept-Language).
    "salesops.middleware.ChineseByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # A locked / timed-out database answers 503 + Retry-After, never a 500 (R1).
    "salesops.middleware.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "salesops.urls"
WSGI_APPLICATION = "salesops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "salesops.context_processors.navigation",
            ],
            "builtins": ["django.templatetags.i18n", "salesops.templatetags.people", "salesops.templatetags.tables"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# One path for SQLite whichever variable names the file (SQLITE_PATH or DATABASE_URL=sqlite:///…):
# WAL, IMMEDIATE transactions (the write lock is taken at BEGIN, so two writers never deadlock on
# upgrade and "read load, then insert" cannot double-count) and a busy timeout.
SQLITE_BUSY_TIMEOUT_SECONDS = int(os.environ.get("SQLITE_BUSY_TIMEOUT", "20"))
# PostgreSQL: a statement or a lock wait is cut off before gunicorn kills the worker, so a stuck
# request answers an error instead of a silently killed worker holding locks.
GUNICORN_TIMEOUT_SECONDS = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
PG_STATEMENT_TIMEOUT_MS = int(os.environ.get("PG_STATEMENT_TIMEOUT_MS", str((GUNICORN_TIMEOUT_SECONDS - 5) * 1000)))
PG_LOCK_TIMEOUT_MS = int(os.environ.get("PG_LOCK_TIMEOUT_MS", str(min(10_000, PG_STATEMENT_TIMEOUT_MS))))


def sqlite_database(name: str) -> dict:
    return {
        # Django's SQLite backend plus a writer queue (O4: no busy-handler sleeps under load).
        "ENGINE": "salesops.dbbackends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}; PRAGMA foreign_keys=ON;"
            ),
        },
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True) if DATABASE_URL else None
if _db is None or _db["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES = {"default": sqlite_database(_db["NAME"] if _db else os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")))}
    if TESTING:
        # A file, not ":memory:": live_server threads then get their own connections instead of
        # sharing one (which lost sessions under concurrent browser requests). Per process, so
        # parallel test runs never collide.
        import tempfile

        DATABASES["default"]["TEST"] = {
            "NAME": os.path.join(tempfile.gettempdir(), f"salesops-test-{os.getpid()}.sqlite3")
        }
else:
    DATABASES = {"default": _db}
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
        _db.setdefault("OPTIONS", {})["options"] = (
            f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} -c lock_timeout={PG_LOCK_TIMEOUT_MS}"
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Task queue (django-q2) -----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": "salesops",
    "workers": int(os.environ.get("Q_WORKERS", "2")),
    "timeout": 120,
    # The ORM broker hands an unacknowledged task out again after `retry` seconds: it must stay above
    # the longest per-task timeout (a 200k-row import: salesops.imports.IMPORT_TASK_TIMEOUT = 3600 s),
    # or a second worker would start the same import while the first is still running.
    "retry": 3660,
    "max_attempts": 1,  # retries are the outbox's job: it keeps every attempt and its backoff
    "catch_up": False,
    # `make serve` runs one scheduler process (run_scheduler) and its qcluster workers with Q_SCHEDULER=0.
    "scheduler": env_bool("Q_SCHEDULER", True),
    "label": "任务队列",
    # Tests run tasks inline unless a test starts a real qcluster (see tests/test_worker.py).
    "sync": env_bool("Q_SYNC", TESTING),
}
# R3: outbox deliveries have their own cluster (queue + workers: `Q_CLUSTER_NAME=salesops-delivery
# manage.py qcluster`), so escalation and the sweeps never wait behind a hung channel. It runs no
# schedules. Q_DELIVERY_CLUSTER="" puts deliveries back on the main cluster (one worker process).
# WeCom (app + group robot), the highest-volume channel, has a queue of its own as well
# (`Q_CLUSTER_NAME=salesops-wecom manage.py qcluster`), so its backlog never sits in front of e-mail.
Q_DELIVERY_CLUSTER = os.environ.get("Q_DELIVERY_CLUSTER", "salesops-delivery")
Q_WECOM_CLUSTER = os.environ.get("Q_WECOM_CLUSTER", "salesops-wecom")
DELIVERY_CLUSTERS = {"wecom_app": Q_WECOM_CLUSTER, "wecom_robot": Q_WECOM_CLUSTER} if Q_DELIVERY_CLUSTER and Q_WECOM_CLUSTER else {}
if Q_DELIVERY_CLUSTER:
    Q_CLUSTER["ALT_CLUSTERS"] = {
        Q_DELIVERY_CLUSTER: {"workers": int(os.environ.get("Q_DELIVERY_WORKERS", "4")), "timeout": 60, "retry": 90, "scheduler": False}
    }
    if Q_WECOM_CLUSTER:
        Q_CLUSTER["ALT_CLUSTERS"][Q_WECOM_CLUSTER] = {
            "workers": int(os.environ.get("Q_WECOM_WORKERS", "2")), "timeout": 60, "retry": 90, "scheduler": False
        }
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10000}}
}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    # R10: uploads are staged and moved into place when their row commits (visits/storage.py).
    "default": {"BACKEND": "visits.storage.StagingFileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Evidence and uploads live here and are never served from a public URL: views check access.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "/media-not-public/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# --- Security ---------------------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"  # the embeddable lead form opts out per view
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_NAME = "salesops_language"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)  # R5: only when the site has asked to be preloaded
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a one-way commitment for the whole domain (and its subdomains): a deliberate
        # opt-in (SECURE_HSTS_PRELOAD=1), so its absence is not a deploy warning here.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Mail -------------------------------------------------------------------------------------
# Django 6.1 mailers (EMAIL_BACKEND is deprecated). Locally mail is printed on the console; in
# production it goes to the SMTP server named by EMAIL_HOST (the e-mail channel retries via the outbox).
MAILERS = {
    "default": {
        "BACKEND": os.environ.get(
            "EMAIL_BACKEND",
            "django.core.mail.backends.console.EmailBackend"
            if DEBUG or TESTING
            else "django.core.mail.backends.smtp.EmailBackend",
        ),
    }
}
if MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("EMAIL_PORT", "25")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "timeout": 10,
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SalesOps <noreply@salesops.local>")

# --- Integrations (each optional; the local default works without it) -------------------------
LEAD_INTAKE_SECRETS = env_list("LEAD_INTAKE_SECRETS")
# Sites allowed to embed the public lead form in an iframe (CSP frame-ancestors), e.g. https://www.example.com
LEAD_FORM_FRAME_ANCESTORS = env_list("LEAD_FORM_FRAME_ANCESTORS")
WECOM_CORP_ID = os.environ.get("WECOM_CORP_ID", "")
WECOM_CORP_SECRET = os.environ.get("WECOM_CORP_SECRET", "")
WECOM_AGENT_ID = os.environ.get("WECOM_AGENT_ID", "")
WECOM_API_BASE = os.environ.get("WECOM_API_BASE", "https://qyapi.weixin.qq.com")
WECOM_ROBOT_KEY = os.environ.get("WECOM_ROBOT_KEY", "")
DIALER_URL = os.environ.get("DIALER_URL", "")
DIALER_SECRETS = env_list("DIALER_SECRETS")
ASR_URL = os.environ.get("ASR_URL", "")
ASR_MODEL = os.environ.get("ASR_MODEL", "whisper-1")
ASR_API_KEY = os.environ.get("ASR_API_KEY", "")
# C8: PDFs embed a CJK TrueType font by default (fonts-wqy-zenhei, installed by `make install`);
# PDF_TTF_FONT="" falls back to the non-embedded CID font STSong-Light.
PDF_TTF_FONT = os.environ.get("PDF_TTF_FONT", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
HTTP_TIMEOUT_SECONDS = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "5"))
# U2: photos are compressed on the phone before upload (long edge in pixels, JPEG quality 0–1).
VISITS_PHOTO_MAX_EDGE = int(os.environ.get("VISITS_PHOTO_MAX_EDGE", "2048"))
VISITS_PHOTO_QUALITY = float(os.environ.get("VISITS_PHOTO_QUALITY", "0.85"))
VISITS_WATERMARK_MAX_EDGE = int(os.environ.get("VISITS_WATERMARK_MAX_EDGE", "1600"))
# U3: an offline capture uploaded more than this many minutes later is flagged.
VISITS_CAPTURE_DELAY_FLAG_MINUTES = int(os.environ.get("VISITS_CAPTURE_DELAY_FLAG_MINUTES", "60"))
# U4: Web Push (VAPID). Without keys, development makes a pair per process (subscriptions made with
# it stop working on restart); production sets both (base64url, raw EC P-256) and the contact.
WEBPUSH_VAPID_PUBLIC_KEY = os.environ.get("WEBPUSH_VAPID_PUBLIC_KEY", "")
WEBPUSH_VAPID_PRIVATE_KEY = os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY", "")
WEBPUSH_VAPID_SUBJECT = os.environ.get("WEBPUSH_VAPID_SUBJECT", "mailto:ops@example.com")
WEBPUSH_TTL_SECONDS = int(os.environ.get("WEBPUSH_TTL_SECONDS", "3600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Hardening (R5, R6): login lockout, shared rate limits, trusted proxies, headers -----------
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["salesops.security.SecurityHeadersMiddleware", "axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Addresses (or networks) of our own reverse proxies. X-Forwarded-For is read only when the request
# comes from one of them; a client talking to us directly cannot choose its own IP.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # an account and an address lock separately
AXES_USERNAME_CALLABLE = "salesops.security.login_username"  # bounded to the column (PostgreSQL varchar(255))
AXES_COOLOFF_TIME = "salesops.security.login_cool_off"  # 15 min, doubling per lockout within 24 h
AXES_CLIENT_IP_CALLABLE = "salesops.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
# Rate limits live in the database unless Redis is configured: every web process shares the count.
CACHES["ratelimit"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "ratelimit"}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "salesops_ratelimit_cache",
          "OPTIONS": {"MAX_ENTRIES": 100000, "CULL_FREQUENCY": 10}}
)
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(self), display-capture=(), geolocation=(self), gyroscope=(), "
    "magnetometer=(), microphone=(self), payment=(), usb=(), fullscreen=(self)"
)
PASSWORD_RESET_TIMEOUT = 3600  # a reset link works for one hour
