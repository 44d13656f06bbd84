"""Celery tasks for digests: the 5-minute tick and the batch sender (thin; logic in ``services``).

The tick never schedules "tomorrow at 8" with an ETA: who is due is decided
from ``Profile.next_digest_at`` at every tick, so restarts, deploys and a
lost broker never lose or double a digest.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import abstracts, services

logger = logging.getLogger(__name__)


class DigestRetry(Exception):
    """Some digests of the batch met a transient error; the task is retried for them."""


@shared_task(name="recommender.digest.tasks.digest_tick", ignore_result=True)
def digest_tick(now: str | None = None) -> int:
    """The plan phase (queue ``plan``): who is due, rank and store their digests, enqueue the sends.

    Each planned chunk's batches are enqueued as soon as it commits, so sending overlaps the planning of
    the next chunks; then the batches a lost task left behind. Readers who chose translated abstracts go in
    batches of their own, sent after their abstracts are made (``digest_abstracts_then_send``); nobody
    else waits. Returns how many users were enqueued.
    """
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    enqueued: set[int] = set()

    def enqueue(user_ids: list[int]) -> None:
        fresh = [uid for uid in user_ids if uid not in enqueued]
        enqueued.update(fresh)
        waiting = abstracts.readers_with_abstracts(user_ids=fresh)
        for batch in services.batches([uid for uid in fresh if uid not in waiting]):
            transaction.on_commit(lambda b=batch: digest_send_batch.delay(user_ids=b, now=moment.isoformat()))
        for batch in services.batches(sorted(waiting)):
            transaction.on_commit(
                lambda b=batch: digest_abstracts_then_send.delay(user_ids=b, now=moment.isoformat(), queued=time.time())
            )

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


@shared_task(name="recommender.digest.tasks.digest_abstracts_then_send", ignore_result=True)
def digest_abstracts_then_send(user_ids: list[int], now: str | None = None, queued: float | None = None) -> dict:
    """Make the translated abstracts these readers' planned digests show, then enqueue their send (queue ``send``).

    The fill never raises for the model and stops at the wait allowed (``abstracts.ABSTRACT_WAIT_SECONDS``
    from ``queued``). The send is enqueued whatever happened to the fill: a digest with its English abstract
    beats a late one.
    """
    try:
        result = abstracts.digest_abstracts_fill(user_ids=user_ids, started=queued).as_dict()
    except Exception:  # a database error or a bug: logged, and the readers still get their digest now
        logger.exception("translated abstracts for %s readers failed; sending without them", len(user_ids))
        result = {}
    digest_send_batch.delay(user_ids=user_ids, now=now)
    return {key: result.get(key, 0) for key in ("abstracts", "abstracts_cached", "abstracts_rejected")}
