"""Celery tasks for digests: the 5-minute tick and the batch sender (thin; logic in ``services``).

The tick never schedules "tomorrow at 8" with an ETA: who is due is decided
from ``Profile.next_digest_at`` at every tick, so restarts, deploys and a
lost broker never lose or double a digest.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import services


class DigestRetry(Exception):
    """Some digests of the batch met a transient error; the task is retried for them."""


@shared_task(name="recommender.digest.tasks.digest_tick", ignore_result=True)
def digest_tick(now: str | None = None) -> int:
    """The plan phase (queue ``plan``): who is due, rank and store their digests, enqueue the sends.

    Each planned chunk's batches are enqueued as soon as it commits, so sending overlaps the planning of
    the next chunks; then the batches a lost task left behind. Returns how many users were enqueued.
    """
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    enqueued: set[int] = set()

    def enqueue(user_ids: list[int]) -> None:
        fresh = [uid for uid in user_ids if uid not in enqueued]
        enqueued.update(fresh)
        for batch in services.batches(fresh):
            transaction.on_commit(lambda b=batch: digest_send_batch.delay(user_ids=b, now=moment.isoformat()))

    enqueue(services.digest_plan(now=moment, on_planned=enqueue))
    return len(enqueued)


@shared_task(
    bind=True,
    name="recommender.digest.tasks.digest_send_batch",
    ignore_result=True,
    autoretry_for=(DigestRetry,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=6,
)
def digest_send_batch(self, user_ids: list[int], now: str | None = None) -> dict:
    """The send phase (queue ``send``): send one batch of planned digests; never ranks, never loads a model.

    Rows already sent are skipped on a retry because claims are atomic.
    """
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    final = self.request.retries >= self.max_retries
    result = services.digest_send_batch(user_ids=user_ids, now=moment, final_attempt=final)
    if result.retry:  # transient errors, or the circuit breaker stopped the batch: retried with backoff
        raise DigestRetry(f"{len(result.retry)} digests to retry" + (f"; {result.breaker}" if result.breaker else ""))
    return {"sent": len(result.sent), "skipped": len(result.skipped), "failed": len(result.failed)}
