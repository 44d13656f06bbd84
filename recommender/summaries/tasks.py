"""Celery task that fills TL;DRs and translations after an ingestion (queue ``ingest``).

Thin: JSON-safe ids in, ``services.summaries_fill`` does the work and never
raises for model failures (it falls back and retries on the next fill).
Database hiccups are retried here with backoff; a fill is idempotent, so a
redelivered or retried task redoes nothing that is already stored.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import DatabaseError, transaction

from .llm import configured
from .services import summaries_fill as fill

logger = logging.getLogger(__name__)

TASK_SUMMARIES_FILL = "recommender.summaries.tasks.summaries_fill"
# Seconds a fill task takes new papers for; one LLM call can still take LLM_MAX_ATTEMPTS x LLM_TIMEOUT.
RUN_SECONDS = 240


@shared_task(
    name=TASK_SUMMARIES_FILL,
    autoretry_for=(DatabaseError,),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def summaries_fill(arxiv_ids: list[str] | None = None, languages: list[str] | None = None) -> dict:
    """TL;DRs and translations for ``arxiv_ids`` (default: recent papers) in subscribers' languages.

    A fill stops taking new papers after ``RUN_SECONDS`` (well inside the task time limit, even
    with a slow model) and enqueues the rest as a new task, so a big day is done in slices.
    """

    result = fill(arxiv_ids=arxiv_ids, languages=languages, deadline=time.monotonic() + RUN_SECONDS)
    if result.remaining and not (result.budget_exhausted or result.stopped):
        summaries_fill.delay(arxiv_ids=result.remaining, languages=languages)
    return {**result.as_dict(), "remaining": len(result.remaining)}


def summaries_fill_after_commit(*, arxiv_ids: list[str]) -> None:
    """Enqueue a fill for these papers once the current transaction commits (at once outside one).

    Only when a model is configured: without one the extractive TL;DRs written
    at ingestion are all there is, and there is nothing to translate with.
    """

    if not (arxiv_ids and configured()):
        return
    ids = sorted(set(arxiv_ids))

    def enqueue() -> None:
        try:
            summaries_fill.delay(arxiv_ids=ids)
        except Exception:  # the broker is down: the papers are in, the next ingestion enqueues again
            logger.exception("could not enqueue the summaries fill for %s papers", len(ids))

    transaction.on_commit(enqueue)
