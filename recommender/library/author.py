""" "My own papers": an arXiv author query (``au:`` on the export API); nothing is saved here.

The view shows what the query found and saves only the ids the user then
confirms (``services.ids_import``), so a common name never fills a library
with a namesake's papers. ORCID works lists are not supported yet.
"""

from __future__ import annotations

import re

from django.conf import settings

from ..ingest import arxiv_api
from ..ingest.entries import PaperEntry
from ..ingest.fetch import fetch
from .tasks import api_url, arxiv_delay, politeness_wait

MAX_RESULTS = 50
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
