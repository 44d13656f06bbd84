""" "My own papers": an arXiv author query (``au:`` on the export API) or an ORCID works list; nothing is saved here.

The view shows what was found and saves only the ids the user then confirms
(``services.ids_import``), so a common name never fills a library with a
namesake's papers and a mistyped iD never fills it with a stranger's. ORCID
is read through the public API v3.0 (``ORCID_API_URL``, no key needed) with
the ingest fetcher (byte cap, timeouts), retrying what is transient a few
times within one page load: the reader is waiting.
"""

from __future__ import annotations

import logging
import re

import tenacity
from django.conf import settings

from ..ingest import arxiv_api
from ..ingest.entries import DocumentError, IngestError, PaperEntry, TransientIngestError
from ..ingest.fetch import fetch
from .orcid import OrcidError, OrcidWorks, orcid_normalise, works_parse
from .tasks import api_url, arxiv_delay, politeness_wait

logger = logging.getLogger(__name__)

MAX_RESULTS = 50
ORCID_API_DEFAULT = "https://pub.orcid.org/v3.0"
ORCID_MAX_BYTES = 10 * 1024 * 1024  # a works list of 1,000 works is about 2 MB
ORCID_ATTEMPTS = 3
ORCID_MAX_WAIT = 5.0  # seconds: a Retry-After beyond this within a page load means "try again later"
ORCID_READ_TIMEOUT = 10.0
ORCID_DEADLINE = 20.0  # seconds for one attempt's whole body
_NAME_RE = re.compile(r"^[^\W\d_][\w .'\-]{1,98}$", re.UNICODE)


class AuthorQueryError(ValueError):
    """The name cannot be searched; the message says why."""


def author_query(name: str) -> str:
    """``au:"Jane Doe"`` for a plain personal name; ``AuthorQueryError`` for anything else (no query syntax)."""
    name = " ".join((name or "").split())
    if not _NAME_RE.match(name):
        raise AuthorQueryError("Enter a name as it appears on arXiv, e.g. Jane Doe (letters, spaces, - ' . only).")
    return f'au:"{name}"'


def author_search(*, name: str, max_results: int = MAX_RESULTS) -> list[PaperEntry]:
    """The newest ``max_results`` papers arXiv lists under ``name`` (one export-API request)."""
    url = api_url(
        search_query=author_query(name), sortBy="submittedDate", sortOrder="descending", max_results=max_results
    )
    politeness_wait(delay=arxiv_delay(), give_up=10)
    result = fetch(
        url,
        user_agent=str(settings.PAPERBOY.get("USER_AGENT", "Paperboy")),
        max_bytes=int(settings.PAPERBOY.get("INGEST_MAX_BYTES", 50 * 1024 * 1024)),
        expect="xml",
        connect_timeout=float(settings.PAPERBOY.get("INGEST_CONNECT_TIMEOUT", 10.0)),
        read_timeout=float(settings.PAPERBOY.get("INGEST_READ_TIMEOUT", 20.0)),
    )
    return arxiv_api.parse_page(result.body or b"").entries[:max_results]


# --- ORCID ----------------------------------------------------------------------------------


def orcid_works_url(orcid: str) -> str:
    """``{ORCID_API_URL}/{iD}/works``: the public summaries of every work on the record."""
    base = str(settings.PAPERBOY.get("ORCID_API_URL", ORCID_API_DEFAULT)).rstrip("/")
    return f"{base}/{orcid}/works"


def _hint_or_backoff(retry_state: tenacity.RetryCallState) -> float:
    """Wait what ORCID asked for (``Retry-After``), else a short exponential backoff."""
    hint = getattr(retry_state.outcome.exception(), "retry_after", None)
    if hint is not None:
        return hint
    return tenacity.wait_exponential(multiplier=0.5, max=ORCID_MAX_WAIT)(retry_state)


def _hint_beyond_cap(retry_state: tenacity.RetryCallState) -> bool:
    return retry_state.upcoming_sleep > ORCID_MAX_WAIT


def _works_fetch(url: str) -> bytes:
    """The works document's bytes; transient failures retried (``ORCID_ATTEMPTS``), the last one re-raised."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientIngestError),
        wait=_hint_or_backoff,
        stop=tenacity.stop_after_attempt(ORCID_ATTEMPTS) | _hint_beyond_cap,
        reraise=True,
    )
    result = retrying(
        fetch,
        url,
        user_agent=str(settings.PAPERBOY.get("USER_AGENT", "Paperboy")),
        max_bytes=ORCID_MAX_BYTES,
        expect="json",
        connect_timeout=float(settings.PAPERBOY.get("INGEST_CONNECT_TIMEOUT", 10.0)),
        read_timeout=ORCID_READ_TIMEOUT,
        deadline=ORCID_DEADLINE,
    )
    return result.body or b""


def _orcid_failure(orcid: str, exc: IngestError) -> OrcidError:
    """The one line the reader sees for a failed works request (the cause goes to the log)."""
    logger.info("ORCID works of %s: %s", orcid, exc)
    if isinstance(exc, TransientIngestError):
        return OrcidError("ORCID did not answer just now; please try again in a minute.")
    if isinstance(exc, DocumentError):
        return OrcidError("ORCID answered with something that is not a works list; please try again later.")
    status = exc.status
    if status in (404, 410):
        return OrcidError(f"ORCID has no public record {orcid}: check the iD on orcid.org.")
    return OrcidError(f"ORCID refused the works list of {orcid} (HTTP {status or 'error'}); please try again later.")


def orcid_search(*, orcid: str) -> tuple[str, OrcidWorks]:
    """``(the iD, its arXiv papers)`` from the record's public works; ``OrcidError`` with the reason otherwise.

    ``orcid`` is what the reader typed (the iD or its orcid.org URL): it is checked, check character
    included, before any request.
    """
    orcid = orcid_normalise(orcid)
    try:
        data = _works_fetch(orcid_works_url(orcid))
    except IngestError as exc:
        raise _orcid_failure(orcid, exc) from None
    return orcid, works_parse(data)
