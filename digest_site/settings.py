"""Paperboy settings: every value comes from the environment (12-factor).

Each variable has an embedded default so that a fresh clone runs with nothing
installed: SQLite under ``var/``, an embedded Redis started by the process
manager, and emails captured to ``var/outbox`` (viewable at ``/outbox/`` when
DEBUG is on). The README documents every variable in one table.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Our local mail capture: ``outbox:///abs/path`` or ``outbox://`` (default dir).
environ.Env.EMAIL_SCHEMES["outbox"] = "recommender.mail.outbox.OutboxBackend"

DEBUG = env.bool("DEBUG", default=True)
# A development key is only acceptable while DEBUG is on; production must set one.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-paperboy-key-change-me-0123456789")
else:
    SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# `make run` serves on WEB_PORT; links in emails and feeds follow it unless SITE_URL is set.
WEB_PORT = env.int("WEB_PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{WEB_PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "anymail",
    "recommender",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "recommender.middleware.RejectNulMiddleware",  # NUL in a URL is a 400, never a 500 on PostgreSQL
    "recommender.middleware.RejectUnreadableFormMiddleware",  # a form body Django cannot decode is a 400, not a 500
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "digest_site.urls"
WSGI_APPLICATION = "digest_site.wsgi.application"

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
                "recommender.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The default database, outbox and embedded Redis live under var/ (not in git).
    VAR_DIR.mkdir(exist_ok=True)
    # Several processes (web, worker, beat) share the file: wait for locks
    # instead of failing, and let readers proceed while one writer writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # A file (not :memory:) so tests can hand the test database to a worker
    # subprocess; one per test process so parallel runs do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6390/0")
CACHES = {
    # Redis down: pages and rate limits fall back to a per-process memory cache, never a 500 (recommender/cache.py).
    "default": {
        "BACKEND": "recommender.cache.ResilientRedisCache",
        # Production: its own Redis with allkeys-lru; the broker's must never evict (docs/deployment.md).
        "LOCATION": env.str("CACHE_REDIS_URL", default=REDIS_URL),
        "KEY_PREFIX": "paperboy",
        "OPTIONS": {
            "socket_connect_timeout": env.float("CACHE_REDIS_CONNECT_TIMEOUT", default=0.25),
            "socket_timeout": env.float("CACHE_REDIS_TIMEOUT", default=0.5),
            "retry_after": env.float("CACHE_REDIS_RETRY_AFTER", default=5.0),
        },
    }
    if env.bool("CACHE_REDIS", default=True)
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- Email -----------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="outbox://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Paperboy <digest@paperboy.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
OUTBOX_DIR = Path(env.str("OUTBOX_DIR", default=str(VAR_DIR / "outbox")))
# Postal address shown in every digest footer (CAN-SPAM); set it in production.
SENDER_POSTAL_ADDRESS = env.str("SENDER_POSTAL_ADDRESS", default="Paperboy, 1 Example Street, Nowhere")
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="")}

# --- Auth (django-allauth) ----------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SITE_ID = 1
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
# Onboarding redirect after the first login; sign-in after a subscribe-box confirmation.
ACCOUNT_ADAPTER = "recommender.web.adapter.AccountAdapter"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True  # same browser only (allauth checks the signup session)
# "Email me a sign-in code": subscribe-box readers have no password (docs/web.md, signing in).
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Same work whether or not the address is known (recommender/web/adapter.py: SignupForm).
ACCOUNT_FORMS = {"signup": "recommender.web.adapter.SignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Paperboy] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
# Behind N reverse proxies the client is the N-th address from the right of X-Forwarded-For;
# with 0 every visitor shares the proxy's REMOTE_ADDR and so its per-IP rate limits.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n / time -----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production: DEBUG=0) ---------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP and expect 200/503, not 301
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Celery --------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# Redelivery after a worker dies: ack only after the task ran, and re-queue
# the message when the worker process is lost (tasks are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=900)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "recommender.ingest.*": {"queue": "ingest"},
    "recommender.training.*": {"queue": "train"},
    # The digest's plan phase (the tick: ranking, the model in memory) apart from its send phase (no model).
    "recommender.digest.tasks.digest_tick": {"queue": "plan"},
    "recommender.digest.tasks.digest_plan_chunk": {"queue": "plan"},
    "recommender.digest.*": {"queue": "send"},
    "recommender.summaries.*": {"queue": "ingest"},
    "recommender.library.*": {"queue": "ingest"},  # fetching the ids a library import lacks
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Paperboy ------------------------------------------------------------------
PAPERBOY = {
    # Identify ourselves to arXiv / Hugging Face as their policies ask.
    "USER_AGENT": env.str("INGEST_USER_AGENT", default="Paperboy/0.1 (mailto:admin@paperboy.localhost)"),
    "INGEST_CATEGORIES": env.list("INGEST_CATEGORIES", default=["cs.AI", "cs.CL", "cs.LG", "cs.CV", "stat.ML"]),
    "INGEST_MAX_BYTES": env.int("INGEST_MAX_BYTES", default=50 * 1024 * 1024),
    # Base URLs of the external sources, so tests and mirrors can point them elsewhere.
    "ARXIV_API_URL": env.str("ARXIV_API_URL", default="https://export.arxiv.org/api/query"),
    "ARXIV_RSS_URL": env.str("ARXIV_RSS_URL", default="https://rss.arxiv.org/rss/"),
    "ARXIV_OAI_URL": env.str("ARXIV_OAI_URL", default="https://oaipmh.arxiv.org/oai"),
    "HF_DAILY_URL": env.str("HF_API_URL", default="https://huggingface.co/api").rstrip("/") + "/daily_papers",
    # ORCID's public API ("my own papers" by iD: GET {ORCID_API_URL}/{iD}/works; no key needed).
    "ORCID_API_URL": env.str("ORCID_API_URL", default="https://pub.orcid.org/v3.0"),
    # Library import (recommender/library): largest upload and most entries accepted in one import.
    "LIBRARY_MAX_BYTES": env.int("LIBRARY_MAX_BYTES", default=5 * 1024 * 1024),
    "LIBRARY_MAX_ENTRIES": env.int("LIBRARY_MAX_ENTRIES", default=10_000),
    # arXiv announcement days without a listing (YYYY-MM-DD,...): recommender/ingest/announce.py.
    "ARXIV_HOLIDAYS": env.list("ARXIV_HOLIDAYS", default=[]),
    "DIGEST_BATCH_SIZE": env.int("DIGEST_BATCH_SIZE", default=500),
    # Subscribers ranked per recommend_for_users call in the plan phase (recommender/digest/planning.py).
    "DIGEST_PLAN_CHUNK": env.int("DIGEST_PLAN_CHUNK", default=2000),
    # Seconds a claimed digest may stay "sending" before the tick reconciles it (docs/digest.md).
    "DIGEST_LEASE_SECONDS": env.int("DIGEST_LEASE_SECONDS", default=300),
    # Consecutive connection failures or in-doubt results that stop a send batch (the circuit breaker).
    "DIGEST_BREAKER_FAILURES": env.int("DIGEST_BREAKER_FAILURES", default=3),
    # Benchmarks only: run premailer on every email instead of once per template (docs/performance.md).
    "DIGEST_NAIVE_RENDER": env.bool("PAPERBOY_DIGEST_NAIVE_RENDER", default=False),
}
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_DAILY_TOKEN_BUDGET = env.int("LLM_DAILY_TOKEN_BUDGET", default=200_000)
# Summaries and translations (docs/summaries.md): per-request timeout, tries, backoff base.
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=60.0)
LLM_MAX_ATTEMPTS = env.int("LLM_MAX_ATTEMPTS", default=4)
LLM_BACKOFF_SECONDS = env.float("LLM_BACKOFF_SECONDS", default=2.0)
# "auto": TL;DRs by the LLM when one is configured, else extractive; "extractive": never the LLM.
SUMMARY_BACKEND = env.str("SUMMARY_BACKEND", default="auto")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
