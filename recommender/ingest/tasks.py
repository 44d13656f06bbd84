"""Celery task for scheduled ingestion (django-celery-beat runs it; schedules in ``recommender/schedules.py``).

Thin: JSON-safe arguments in, ``ingest_run`` does the work. Transient
failures (network, timeouts, 5xx) are retried with exponential backoff, or
after the server's ``Retry-After`` when it sends one; permanent failures
(malformed or hostile documents, 4xx) are not retried. Either way the failed
attempt is recorded as an ``IngestRun``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from celery import shared_task

from ..schedules import TASK_INGEST
from .entries import PermanentIngestError, TransientIngestError
from .services import ingest_run

logger = logging.getLogger(__name__)

MAX_RETRIES = 6
BACKOFF_BASE = 60  # seconds; doubles per attempt
BACKOFF_CAP = 6 * 3600


def retry_countdown(*, retries: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``retries + 1``: the server's wish, else jittered backoff."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), BACKOFF_CAP)
    delay = min(BACKOFF_BASE * 2**retries, BACKOFF_CAP)
    return delay * random.uniform(0.8, 1.2)


@shared_task(name=TASK_INGEST, bind=True, max_retries=MAX_RETRIES)
def ingest_source(
    self,
    source: str,
    url: str | None = None,
    categories: list[str] | None = None,
    date: str | None = None,
    limit: int | None = 1000,
) -> dict:
    """Ingest ``source`` ("arxiv-rss", "hf-daily", ...); return the run's counts."""

    try:
        run = ingest_run(
            source=source,
            url=url,
            categories=categories,
            date=dt.date.fromisoformat(date) if date else None,
            limit=limit,
        )
    except TransientIngestError as exc:
        countdown = retry_countdown(retries=self.request.retries, retry_after=exc.retry_after)
        logger.warning("ingest %s: %s; retry %s in %.0fs", source, exc, self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown) from None
    except PermanentIngestError as exc:
        logger.error("ingest %s failed permanently: %s", source, exc)
        raise
    return {
        "run": run.pk,
        "entries": run.entries,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
    }
