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

from . import abstracts, planning, services

logger = logging.getLogger(__name__)


class DigestRetry(Exception):
    """Some digests of the batch met a transient error; the task is retried for them."""


def _sends_enqueue(user_ids: list[int], *, moment: dt.datetime) -> None:
    """Enqueue the send batches of ``user_ids`` once the current transaction commits.

    Readers who chose translated abstracts go in batches of their own, sent after their abstracts are made
    (``digest_abstracts_then_send``); nobody else waits.
    """
    waiting = abstracts.readers_with_abstracts(user_ids=user_ids)
    for batch in services.batches([uid for uid in user_ids if uid not in waiting]):
        transaction.on_commit(lambda b=batch: digest_send_batch.delay(user_ids=b, now=moment.isoformat()))
    for batch in services.batches(sorted(waiting)):
        transaction.on_commit(
            lambda b=batch: digest_abstracts_then_send.delay(user_ids=b, now=moment.isoformat(), queued=time.time())
        )


@shared_task(name="recommender.digest.tasks.digest_tick", ignore_result=True)
def digest_tick(now: str | None = None) -> int:
    """The plan phase's start (queue ``plan``): open everyone due, fan their planning out in chunks.

    One ``digest_plan_chunk`` task per chunk of unplanned deliveries, so the plan worker's processes rank
    chunks side by side and each chunk's sends start as soon as it commits; then the batches a lost task
    left behind. Returns how many chunks were enqueued.
    """
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    chunks, stranded = services.digest_open(now=moment)
    for chunk in chunks:
        digest_plan_chunk.delay(delivery_ids=chunk, now=moment.isoformat())
    _sends_enqueue(stranded, moment=moment)
    return len(chunks)


@shared_task(name="recommender.digest.tasks.digest_plan_chunk", ignore_result=True)
def digest_plan_chunk(delivery_ids: list[int], now: str) -> int:
    """Plan one chunk of deliveries (queue ``plan``): rank, store the selections, enqueue their sends.

    Idempotent (only rows still unplanned are written); a lost chunk is planned by the next tick.
    Returns how many users were enqueued.
    """
    moment = dt.datetime.fromisoformat(now)
    result = planning.deliveries_plan(
        now=moment, delivery_ids=delivery_ids, on_planned=lambda uids: _sends_enqueue(uids, moment=moment)
    )
    return len(result.planned)


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
