"""Fetch the ids an import named but the catalogue lacks, then save them for the importing user.

On the ingest queue (``CELERY_TASK_ROUTES``). One export-API request per task
(``id_list``, at most ``services.FETCH_BATCH`` ids), through the ordinary
``ingest_run`` (an ``IngestRun`` is recorded, TL;DRs and trending follow), so
imported papers are ingested like any other. Politeness: a cache key gates
every library fetch of every worker to one request per ``ARXIV_DELAY_SECONDS``
(arXiv asks for 3 s between calls). Transient failures retry with the ingest
task's backoff; the task is idempotent (saves exist once; known papers are
not fetched again).
"""

from __future__ import annotations

import logging
import time
import urllib.parse

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache

from ..ingest.entries import PermanentIngestError, SourceError, TransientIngestError
from ..ingest.services import DEFAULT_URLS, ingest_run
from ..ingest.tasks import MAX_RETRIES, retry_countdown
from ..models import Paper, Topic
from .services import saves_record

logger = logging.getLogger(__name__)

TASK_LIBRARY_FETCH = "recommender.library.tasks.library_fetch"
GATE_KEY = "library:arxiv-api:gate"
GATE_WAIT_SECONDS = 600  # give up waiting for the gate after this long (the task retries later)


def arxiv_delay() -> float:
    return float(settings.PAPERBOY.get("ARXIV_DELAY_SECONDS", 3.0))


def politeness_wait(*, delay: float, give_up: float = GATE_WAIT_SECONDS) -> None:
    """Block until this worker may call the export API: at most one library request per ``delay`` seconds."""
    if delay <= 0:
        return
    deadline = time.monotonic() + give_up
    while not cache.add(GATE_KEY, 1, timeout=max(1, round(delay))):
        if time.monotonic() > deadline:
            raise TransientIngestError("arXiv politeness gate busy")
        time.sleep(min(0.5, delay))


def id_list_url(arxiv_ids: list[str]) -> str:
    """The export API query for ``arxiv_ids`` (``ARXIV_API_URL``, ``id_list``, one page for all of them)."""
    return api_url(id_list=",".join(arxiv_ids), max_results=len(arxiv_ids))


def api_url(**params) -> str:
    """``ARXIV_API_URL`` with ``params`` added to (or replacing) its query."""

    parts = urllib.parse.urlsplit(settings.PAPERBOY.get("ARXIV_API_URL", DEFAULT_URLS["arxiv-api"]))
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def library_fetch_run(*, user_id: int, arxiv_ids: list[str], topic_id: int | None = None) -> dict:
    """Fetch what is missing of ``arxiv_ids``, then save every one now in the catalogue for ``user_id``
    (under their topic ``topic_id`` when given and still theirs; else account-wide)."""

    known = set(Paper.objects.filter(arxiv_id__in=arxiv_ids).values_list("arxiv_id", flat=True))
    missing = [i for i in dict.fromkeys(arxiv_ids) if i not in known]
    run_id = None
    if missing:
        politeness_wait(delay=arxiv_delay())
        # limit: one page answers an id_list query; never page on (a mirror may report a larger total).
        run = ingest_run(source="arxiv-api", url=id_list_url(missing), limit=len(missing), delay=arxiv_delay())
        run_id = run.pk
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:  # the account was deleted meanwhile: the papers stay in the catalogue, nothing to save
        return {"run": run_id, "fetched": len(missing), "saved": 0}
    pids = list(Paper.objects.filter(arxiv_id__in=arxiv_ids).values_list("id", flat=True))
    topic = Topic.objects.filter(pk=topic_id, user_id=user_id).first() if topic_id is not None else None
    saved, already = saves_record(user=user, paper_ids=pids, topic=topic)
    absent = len(set(arxiv_ids)) - len(pids)
    if absent:
        logger.info("library fetch for user %s: %s ids not on arXiv", user_id, absent)
    return {"run": run_id, "fetched": len(missing), "saved": saved, "already": already, "absent": absent}


@shared_task(name=TASK_LIBRARY_FETCH, bind=True, max_retries=MAX_RETRIES)
def library_fetch(self, user_id: int, arxiv_ids: list[str], topic_id: int | None = None) -> dict:
    try:
        return library_fetch_run(user_id=user_id, arxiv_ids=list(arxiv_ids), topic_id=topic_id)
    except TransientIngestError as exc:
        countdown = retry_countdown(retries=self.request.retries, retry_after=exc.retry_after)
        logger.warning("library fetch: %s; retry %s in %.0fs", exc, self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown) from None
    except PermanentIngestError as exc:
        logger.error("library fetch failed permanently for user %s: %s", user_id, exc)
        raise


# --- "submit a paper" (recommender/library/submit.py) ------------------------------------------

TASK_SUBMIT_FETCH = "recommender.library.tasks.submission_fetch"


def submission_fetch_run(*, user_id: int, arxiv_id: str) -> str:
    """Fetch one submitted id through the export API (the library's fetcher), then credit the submitter.

    Returns the submission's state: "added", "upvoted" (someone else's fetch brought it meanwhile) or
    "not_found" (arXiv answered with no entry, or with an error entry for the id).
    """
    from .submit import submission_credit, submission_state_set  # submit enqueues this task

    if not Paper.objects.filter(arxiv_id=arxiv_id).exists():
        politeness_wait(delay=arxiv_delay())
        try:
            ingest_run(source="arxiv-api", url=id_list_url([arxiv_id]), limit=1, delay=arxiv_delay())
        except SourceError as exc:  # arXiv's error entry ("incorrect id format for …")
            logger.info("submission of %s by user %s: %s", arxiv_id, user_id, exc)
    state = submission_credit(user_id=user_id, arxiv_id=arxiv_id)
    submission_state_set(user_id=user_id, arxiv_id=arxiv_id, state=state)
    return state


@shared_task(name=TASK_SUBMIT_FETCH, bind=True, max_retries=MAX_RETRIES)
def submission_fetch(self, user_id: int, arxiv_id: str) -> str:
    try:
        return submission_fetch_run(user_id=user_id, arxiv_id=arxiv_id)
    except TransientIngestError as exc:
        countdown = retry_countdown(retries=self.request.retries, retry_after=exc.retry_after)
        logger.warning("submission fetch: %s; retry %s in %.0fs", exc, self.request.retries + 1, countdown)
        raise self.retry(exc=exc, countdown=countdown) from None
    except PermanentIngestError:
        from .submit import submission_state_set

        submission_state_set(user_id=user_id, arxiv_id=arxiv_id, state="failed")
        raise
