"""Faults in the digest fan-out: SIGKILLed workers, a Redis restart, duplicate ticks, retries, SMTP errors, no database.

Real worker processes (prefork) on the test database and a real Redis, a real
SMTP server. The invariant checked every time: each subscriber has exactly one
message at the SMTP server, or a visible ``failed`` row saying why.
"""

from __future__ import annotations

import collections
import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone

from digest_site import embedded_redis
from digest_site.celery import app
from recommender.digest import tasks
from recommender.models import DeliveryStatus, DigestDelivery
from tests.conftest import wait_until

from .conftest import bulk_subscribers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _settled(expected: int):
    """A predicate: ``expected`` delivery rows exist and none is still pending or sending."""

    def check() -> bool:
        return (
            DigestDelivery.objects.count() >= expected
            and not DigestDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).exists()
        )

    return check


def _exactly_once(smtp_server, emails: set[str]) -> collections.Counter:
    counts = collections.Counter(m["To"] for m in smtp_server.messages)
    missing = sorted(emails - set(counts))
    assert not missing, f"{len(missing)} subscribers got nothing, e.g. {missing[:5]}"
    doubles = [k for k, v in counts.items() if v > 1]
    assert not doubles, f"{len(doubles)} subscribers got two, e.g. {doubles[:5]}"
    return counts


def _emails(user_ids) -> set[str]:
    from django.contrib.auth import get_user_model

    return set(get_user_model().objects.filter(pk__in=user_ids).values_list("email", flat=True))


def test_sigkill_mid_fanout_of_1000_then_restart_sends_each_exactly_once(
    worker_process_factory, smtp_server, fresh_papers
):
    users = bulk_subscribers(1000, prefix="k")
    env = {"DIGEST_LEASE_SECONDS": "2", "DIGEST_BATCH_SIZE": "100"}
    # A slightly slow server so the kill lands mid-batch, not between batches.
    smtp_server.reply_for = lambda envelope: time.sleep(0.003)
    workers = [worker_process_factory(queues="plan,send", concurrency=2, extra_env=env)]
    started = time.monotonic()
    tasks.digest_tick.delay()
    try:
        smtp_server.wait_for(300, timeout=60)
    except AssertionError:
        pytest.fail("too little was sent before the kill:\n" + workers[0].log()[-3000:])
    workers[0].kill()
    at_kill = len(smtp_server.messages)
    assert at_kill < 1000, "the fan-out finished before the kill"
    time.sleep(2.5)  # the lease of the claims in flight expires
    workers.append(worker_process_factory(queues="plan,send", concurrency=2, extra_env=env))
    tasks.digest_tick.delay()  # the next beat tick re-enqueues what the dead worker held
    try:
        wait_until(_settled(1000), timeout=100, what="1,000 deliveries to settle")
    except AssertionError:
        pytest.fail("deliveries did not settle:\n" + workers[1].log()[-3000:])
    time.sleep(0.5)
    _exactly_once_or_in_doubt(smtp_server, users, at_kill=at_kill)
    elapsed = time.monotonic() - started
    in_doubt = DigestDelivery.objects.filter(status=DeliveryStatus.FAILED).count()
    print(f"1000 subscribers: {at_kill} sent before SIGKILL, {in_doubt} in doubt, settled in {elapsed:.1f}s")
    assert elapsed < 120  # typically 50-65 s; the margin is for loaded CI machines


def _exactly_once_or_in_doubt(smtp_server, users: list[int], *, at_kill: int) -> None:
    """Everybody has exactly one message; rows are sent, or failed "in-doubt" for the messages in flight at the kill.

    The SMTP server finishes a transaction whose final dot it received even if
    the client died waiting for the reply, so an in-doubt row's message did arrive.
    """
    _exactly_once(smtp_server, _emails(users))
    rows = collections.Counter(DigestDelivery.objects.values_list("status", flat=True))
    in_doubt = list(DigestDelivery.objects.filter(status=DeliveryStatus.FAILED))
    # Two pool processes: at most two messages were inside their SMTP transaction at the kill.
    assert len(in_doubt) <= 2, rows
    assert all(row.error.startswith("in-doubt") for row in in_doubt)
    assert rows[DeliveryStatus.SENT] + len(in_doubt) == len(users) == DigestDelivery.objects.count()


def _send_to(redis_url: str, task, **kwargs) -> None:
    """Publish ``task`` on the broker at ``redis_url`` (not the session's)."""
    with app.connection_for_write(redis_url) as conn:
        task.apply_async(kwargs=kwargs, connection=conn)


def test_redis_restart_mid_fanout_then_duplicate_ticks_and_a_replayed_batch(
    worker_process_factory, smtp_server, fresh_papers, tmp_path
):
    port = embedded_redis.free_port()
    redis = embedded_redis.start(port=port, directory=tmp_path / "redis")
    url = f"redis://127.0.0.1:{port}/0"
    try:
        users = bulk_subscribers(120, prefix="r")
        env = {"REDIS_URL": url, "DIGEST_LEASE_SECONDS": "2", "DIGEST_BATCH_SIZE": "10"}
        smtp_server.reply_for = lambda envelope: time.sleep(0.03)  # 12 batches of ~0.5 s each
        worker = worker_process_factory(queues="plan,send", concurrency=1, extra_env=env)
        now = timezone.now().isoformat()
        _send_to(url, tasks.digest_tick, now=now)
        smtp_server.wait_for(15, timeout=45)
        redis.terminate()  # the queued batches vanish with it (no persistence)
        redis.wait(timeout=10)
        lost_at = len(smtp_server.messages)
        time.sleep(1.0)
        redis = embedded_redis.start(port=port, directory=tmp_path / "redis")
        # The in-flight batch finishes; the queued ones are gone.
        time.sleep(3.0)
        assert len(smtp_server.messages) < len(users), "everything was sent before the restart"
        assert DigestDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()
        # Two beat ticks for the same slot after the restart: the stranded rows are re-enqueued (twice).
        _send_to(url, tasks.digest_tick, now=now)
        _send_to(url, tasks.digest_tick, now=now)
        try:
            wait_until(_settled(len(users)), timeout=60, what="deliveries to settle after the Redis restart")
        except AssertionError:
            pytest.fail(f"not settled (sent {len(smtp_server.messages)}, lost at {lost_at}):\n" + worker.log()[-3000:])
        time.sleep(0.5)
        emails = _emails(users)
        _exactly_once(smtp_server, emails)
        print(f"Redis restart: {lost_at} of {len(users)} sent before the restart, all exactly once after")
        assert DigestDelivery.objects.count() == len(users)  # one row per user and period, ticks or not
        # A batch task replayed after everything was sent (e.g. a broker redelivery): nothing new goes out.
        _send_to(url, tasks.digest_send_batch, user_ids=users[:10], now=now)
        time.sleep(2.0)
        assert len(smtp_server.messages) == len(users)
        assert "Connection to broker lost" in worker.log() or "Cannot connect" in worker.log()
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def test_smtp_421_451_for_a_while_then_recovery_delivers_all(celery_worker, smtp_server, fresh_papers):
    users = bulk_subscribers(12, prefix="g")
    refused_until = time.monotonic() + 3.0
    refusals = collections.Counter()

    def flaky(envelope):
        if time.monotonic() < refused_until:
            code = "421 4.3.2 Service not available, closing" if len(refusals) % 2 else "451 4.7.1 Greylisted"
            refusals[envelope.rcpt_tos[0]] += 1
            return code
        return None

    smtp_server.reply_for = flaky
    tasks.digest_tick.delay()
    wait_until(_settled(len(users)), timeout=60, what="all deliveries after the server recovered")
    _exactly_once(smtp_server, _emails(users))
    assert refusals, "the server never refused: the fault was not injected"
    rows = DigestDelivery.objects.all()
    assert {r.status for r in rows} == {DeliveryStatus.SENT}
    assert max(r.attempts for r in rows) >= 2  # sent after backoff


def test_smtp_550_for_one_address_fails_visibly_and_the_rest_go_out(celery_worker, smtp_server, fresh_papers):
    users = bulk_subscribers(6, prefix="p")
    smtp_server.reply_for = lambda env: (
        "550 5.1.1 <p3@example.org>: mailbox unavailable" if "p3@" in env.rcpt_tos[0] else None
    )
    tasks.digest_tick.delay()
    wait_until(_settled(len(users)), timeout=30, what="deliveries to settle")
    time.sleep(0.3)
    emails = _emails(users)
    counts = _exactly_once(smtp_server, emails - {"p3@example.org"})
    assert "p3@example.org" not in counts
    failed = DigestDelivery.objects.get(user__email="p3@example.org")
    assert failed.status == DeliveryStatus.FAILED and failed.attempts == 1  # permanent: no retry
    assert "550" in failed.error and "mailbox unavailable" in failed.error
    assert DigestDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 5


def _unreachable_database_url() -> str:
    if connection.vendor == "sqlite":
        return "sqlite:////nonexistent-paperboy-dir/no.sqlite3"  # the directory does not exist
    return "postgres://postgres@127.0.0.1:1/paperboy_unreachable"  # nothing listens on port 1


def test_unreachable_database_at_a_tick_fails_loudly_and_the_next_tick_catches_up(
    worker_process_factory, smtp_server, fresh_papers
):
    users = bulk_subscribers(5, prefix="d")
    broken = worker_process_factory(queues="plan,send", extra_env={"DATABASE_URL": _unreachable_database_url()})
    tasks.digest_tick.delay()

    def tick_failure() -> str:
        lines = broken.log().splitlines()
        return next((ln for ln in lines if "digest_tick[" in ln and "raised unexpected" in ln), "")

    wait_until(tick_failure, timeout=30, what="the tick to fail in the worker log")
    assert "ERROR" in tick_failure() and "OperationalError" in tick_failure()
    broken.stop()
    assert not DigestDelivery.objects.exists() and not smtp_server.messages  # nothing half-done
    worker_process_factory(queues="plan,send")
    tasks.digest_tick.delay()  # the next tick: the subscribers are still due
    smtp_server.wait_for(len(users), timeout=30)
    wait_until(_settled(len(users)), timeout=20, what="deliveries to settle")
    _exactly_once(smtp_server, _emails(users))


def test_a_tick_far_behind_sends_one_digest_not_one_per_missed_day(celery_worker, smtp_server, fresh_papers):
    """Beat was down for three days: each subscriber gets one digest, and is next due tomorrow."""
    users = bulk_subscribers(4, prefix="o", due_at=timezone.now() - dt.timedelta(days=3))
    tasks.digest_tick.delay()
    smtp_server.wait_for(4, timeout=30)
    wait_until(_settled(len(users)), timeout=20, what="deliveries to settle")
    tasks.digest_tick.delay()
    time.sleep(1.0)
    _exactly_once(smtp_server, _emails(users))
    from recommender.models import Profile

    for profile in Profile.objects.filter(user_id__in=users):
        assert profile.next_digest_at > timezone.now()


def test_a_reply_lost_after_the_final_dot_is_in_doubt_not_resent(celery_worker, smtp_server, fresh_papers, settings):
    """The server took the message (it read the final dot) but its "250" never arrived in time.

    Content scanning on relays can take longer than ``EMAIL_TIMEOUT``. The
    message is then at the server: retrying it would deliver it twice.
    """
    settings.EMAIL_TIMEOUT = 1
    users = bulk_subscribers(3, prefix="t")
    slow_once = []

    def slow_scan(envelope):
        if "t1@" in envelope.rcpt_tos[0] and not slow_once:
            slow_once.append(1)
            time.sleep(2.0)  # longer than the client waits; then accepted
        return None

    smtp_server.reply_for = slow_scan
    tasks.digest_tick.delay()
    wait_until(_settled(len(users)), timeout=40, what="deliveries to settle")
    time.sleep(3.0)  # time for a (wrong) retry to arrive
    _exactly_once(smtp_server, _emails(users))
    row = DigestDelivery.objects.get(user__email="t1@example.org")
    assert row.status == DeliveryStatus.FAILED and row.error.startswith("in-doubt"), (row.status, row.error)
    assert DigestDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 2
