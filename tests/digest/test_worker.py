"""Real Celery workers on real Redis: a batch is sent, retried after a 4xx, and survives a SIGKILL mid-batch."""

from __future__ import annotations

import collections
import datetime as dt
import time

import pytest
from django.utils import timezone

from recommender.digest.tasks import digest_tick
from recommender.models import DeliveryStatus, DigestDelivery, Profile
from tests.conftest import wait_until
from tests.factories import subscriber

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _subscribers(n: int, prefix: str):
    users = [subscriber(f"{prefix}{i}@example.org") for i in range(n)]
    Profile.objects.filter(user__in=users).update(next_digest_at=timezone.now() - dt.timedelta(minutes=1))
    return users


def test_worker_sends_a_batch_and_retries_a_4xx(celery_worker, smtp_server, papers_today):
    users = _subscribers(3, "batch")
    greylisted = []

    def greylist(envelope):
        if "batch1@" in envelope.rcpt_tos[0] and not greylisted:
            greylisted.append(1)
            return "421 4.3.2 Service not available, try again"
        return None

    smtp_server.reply_for = greylist
    digest_tick.delay()
    messages = smtp_server.wait_for(3, timeout=40)
    assert sorted(m["To"] for m in messages) == sorted(u.email for u in users)
    wait_until(lambda: DigestDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 3, what="3 sent rows")
    retried = DigestDelivery.objects.get(user=users[1])
    assert greylisted and retried.attempts == 2
    time.sleep(0.5)
    assert len(smtp_server.messages) == 3


def test_sigkill_mid_batch_then_restart_delivers_each_digest_exactly_once(
    worker_process_factory, smtp_server, papers_today
):
    users = _subscribers(50, "crash")
    smtp_server.reply_for = lambda envelope: time.sleep(0.08)  # a slow server: the batch takes seconds
    env = {"DIGEST_LEASE_SECONDS": "2"}
    worker = worker_process_factory(queues="plan,send", extra_env=env)
    digest_tick.delay()
    try:
        smtp_server.wait_for(15, timeout=60)
    except AssertionError:
        pytest.fail("the worker sent too little before the kill:\n" + worker.log()[-3000:])
    worker.kill()
    at_kill = len(smtp_server.messages)
    assert at_kill < 50, "the batch finished before the kill; make it slower"
    time.sleep(2.5)  # let the lease of the in-flight claim expire
    restarted = worker_process_factory(queues="plan,send", extra_env=env)
    digest_tick.delay()  # the next beat tick reconciles and re-enqueues what was left
    try:
        wait_until(
            lambda: not DigestDelivery.objects.filter(status__in=["pending", "sending"]).exists(),
            timeout=60,
            what="every delivery to settle",
        )
    except AssertionError:
        pytest.fail("deliveries did not settle:\n" + restarted.log()[-3000:])
    time.sleep(0.5)
    counts = collections.Counter(m["To"] for m in smtp_server.messages)
    missing = sorted({u.email for u in users} - set(counts))
    assert not missing, f"someone got no digest: {missing} " + repr(
        list(
            DigestDelivery.objects.filter(user__email__in=missing).values(
                "status", "error", "skip_reason", "message_id"
            )
        )
    )
    assert set(counts.values()) == {1}, f"someone got two: {[k for k, v in counts.items() if v > 1]}"
    rows = collections.Counter(DigestDelivery.objects.values_list("status", flat=True))
    # At most the single in-flight message is "in doubt" (recorded failed, not resent).
    assert rows["sent"] >= 49 and rows["sent"] + rows["failed"] == 50
    for row in DigestDelivery.objects.filter(status="failed"):
        assert row.error.startswith("in-doubt")
