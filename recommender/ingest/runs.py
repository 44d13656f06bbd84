"""Run bookkeeping (``IngestRun``) and the one step after a run's commit: "papers changed".

The run row is written outside the ingest transaction so that a failure is
recorded even though the run's writes roll back. After a successful commit,
``papers_changed`` derives what depends on the papers, in this order: the
extractive TL;DR, then LLM TL;DRs and translations (queued after commit, only
when a model is configured), then the trending scores. None of these fails the
run: the papers are in, and the next ingestion refills what is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from ..models import IngestRun, Paper, RunStatus
from ..papers.trending import trending_refresh
from ..summaries.extractive import summarize
from ..summaries.tasks import summaries_fill_after_commit
from .entries import IngestError

if TYPE_CHECKING:
    from .collect import Collected
    from .services import UpsertCounts

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000


def ingest_runs_interrupted_close(*, source: str) -> int:
    """Mark runs of ``source`` still "running" after the hard task time limit as failed (their worker died).

    Nothing of such a run was written (the writes are one transaction); without
    this the admin would show it running forever.
    """
    limit = int(getattr(settings, "CELERY_TASK_TIME_LIMIT", None) or 900)
    now = timezone.now()
    return IngestRun.objects.filter(
        source=source, status=RunStatus.RUNNING, started_at__lt=now - dt.timedelta(seconds=limit)
    ).update(
        status=RunStatus.FAILED,
        error="interrupted: the worker stopped before recording the outcome (e.g. killed or restarted)",
        finished_at=now,
    )


def run_start(*, source: str, params: dict) -> IngestRun:
    """Close the source's orphaned runs, then record this one as running (outside any transaction)."""
    ingest_runs_interrupted_close(source=source)
    return IngestRun.objects.create(source=source, params=params, status=RunStatus.RUNNING)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, IngestError):
        return str(exc)
    return " ".join(f"{exc.__class__.__name__}: {exc}".split())[:500]


def run_failed(run: IngestRun, exc: BaseException) -> None:
    """Record the failure's one-line reason; the caller re-raises."""
    run.status = RunStatus.FAILED
    run.error = _one_line(exc)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    # INFO, not WARNING: callers report the error (the task logs it, the command prints it).
    logger.info("ingest %s failed (run %s): %s", run.source, run.pk, run.error)


def run_succeeded(run: IngestRun, counts: UpsertCounts, collected: Collected) -> None:
    """Record the counts, and the number of requests and the collector's note when there are any."""
    run.status = RunStatus.SUCCEEDED
    run.entries, run.created, run.updated, run.unchanged = (
        counts.entries,
        counts.created,
        counts.updated,
        counts.unchanged,
    )
    if collected.note or collected.requests:
        run.params = {
            **run.params,
            "requests": collected.requests,
            **({"note": collected.note} if collected.note else {}),
        }
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "ingest %s: %s entries, %s created, %s updated, %s unchanged",
        run.source,
        counts.entries,
        counts.created,
        counts.updated,
        counts.unchanged,
    )


def papers_changed(counts: UpsertCounts, *, source: str, refresh_trending: bool = True) -> None:
    """After commit: TL;DR → translations → trending for what the run changed (see the module docstring)."""
    if counts.tldr_ids:
        try:
            paper_tldr_fill(arxiv_ids=counts.tldr_ids)
        except Exception:  # the papers are in; an empty tldr is refilled by the next run
            logger.exception("tldr fill after ingest %s failed", source)
    if counts.changed_ids or counts.tldr_ids:
        # LLM TL;DRs and translations, once per paper and language (only when a model is configured).
        summaries_fill_after_commit(arxiv_ids=[*counts.changed_ids, *counts.tldr_ids])
    if counts.changed and refresh_trending:
        try:
            trending_refresh()
        except Exception:  # the papers are in; a stale trending score is not worth failing the run
            logger.exception("trending refresh after ingest %s failed", source)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def paper_tldr_fill(*, arxiv_ids: list[str]) -> int:
    """Write a one-sentence extractive ``tldr`` for the given papers; return how many changed.

    Runs after the ingest transaction has committed: summaries are derived
    data, and keeping them out of the transaction keeps it short. A paper whose
    fill is interrupted keeps an empty ``tldr``, which the next ingestion fills.
    """
    written = 0
    for ids in _chunks(list(arxiv_ids), CHUNK_SIZE):
        papers = list(Paper.objects.filter(arxiv_id__in=ids).only("id", "abstract", "tldr"))
        changed = []
        for paper in papers:
            tldr = (summarize(paper.abstract) or "") if paper.abstract else ""
            if tldr != paper.tldr:
                paper.tldr = tldr
                changed.append(paper)
        if changed:
            Paper.objects.bulk_update(changed, ["tldr"], batch_size=500)
        written += len(changed)
    return written
