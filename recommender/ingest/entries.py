"""What every parser returns and every ingestion error is.

``PaperEntry`` is the source-neutral record a parser produces from one feed
item; the write side (``services.py``) merges entries into ``Paper`` rows.
The error classes carry whether a failure is worth retrying, so the Celery
task can decide without knowing which source or layer raised it.

This module must stay free of Django and network code: parsers import it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from .. import arxiv_ids


class IngestError(Exception):
    """An ingestion failure with a one-line, human-readable reason."""

    transient = False

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        # One line, bounded: it goes into IngestRun.error and the command's output.
        message = " ".join(str(message).split())[:500]
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status  # the HTTP status when the server answered one, so callers need not parse the text


class PermanentIngestError(IngestError):
    """Retrying will not help: malformed or hostile document, 4xx, bad arguments."""


class TransientIngestError(IngestError):
    """Worth retrying later: network failure, timeout, 5xx, 429/503 (maybe with Retry-After)."""

    transient = True


class DocumentError(PermanentIngestError):
    """The document itself is malformed, hostile, too large or of the wrong kind."""


class SourceError(PermanentIngestError):
    """The source answered with an error document (arXiv API error entry, OAI-PMH error)."""


@dataclass
class PaperEntry:
    """One paper as reported by one source; ``None`` / empty means "not reported"."""

    arxiv_id: str
    version: int | None = None
    title: str = ""
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    primary_category: str = ""
    categories: list[str] = field(default_factory=list)
    announce_type: str = ""
    announced_on: dt.date | None = None
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # {version: date of that version} when the source knows them (OAI arXivRaw).
    version_dates: dict[int, dt.date] = field(default_factory=dict)
    comments: str = ""
    doi: str = ""
    journal_ref: str = ""
    license: str = ""
    # Hugging Face daily papers
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    hf_published_on: dt.date | None = None
    ai_summary: str = ""
    ai_keywords: list[str] = field(default_factory=list)
    github_repo: str = ""
    github_stars: int | None = None


# --- identifiers ---------------------------------------------------------------------


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Return ``(id_without_version, version or None)`` from an id, abs URL or OAI identifier."""
    text = (raw or "").strip()
    for prefix in ("oai:arXiv.org:", "arXiv:", "arxiv:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if "/abs/" in text:
        text = text.split("/abs/", 1)[1]
    text = text.split("?", 1)[0].split("#", 1)[0].strip("/ ")
    parsed = arxiv_ids.parse(text)  # both schemes: 2403.02233, hep-th/9901001 (recommender/arxiv_ids.py)
    if parsed is None:
        shown = raw if len(raw or "") <= 60 else raw[:60] + "..."
        raise DocumentError(f"invalid arXiv identifier {shown!r}")
    return parsed


# --- text ------------------------------------------------------------------------------

# C0/C1 controls other than whitespace (PostgreSQL rejects NUL; the rest is noise).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(value: object, *, limit: int | None = None) -> str:
    """Return ``value`` as plain text: controls dropped, whitespace collapsed, optionally cut.

    Markup and LaTeX are kept verbatim; escaping is the templates' job.
    Lone surrogates (possible in JSON) are replaced so every database accepts the text.
    """
    if value is None:
        return ""
    text = str(value)
    if text.isascii():  # the common case: no surrogates, mojibake or composition to fix
        text = " ".join(_CONTROL_RE.sub(" ", text).split())
    else:
        text = text.encode("utf-8", "replace").decode("utf-8")
        text = _undo_mojibake(text)
        text = _CONTROL_RE.sub(" ", text)
        text = unicodedata.normalize("NFC", " ".join(text.split()))
    if limit is not None and len(text) > limit:
        text = text[:limit]
    return text


_MOJIBAKE_RE = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")


def _undo_mojibake(text: str) -> str:
    """Repair UTF-8 that was decoded as Latin-1 upstream ("RamÃ\xadrez" -> "Ramírez").

    Only when the whole string round-trips, so genuine Latin-1 text is left alone.
    """
    if not _MOJIBAKE_RE.search(text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


_AUTHOR_SPLIT_RE = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*;\s*")


def split_authors(value: str) -> list[str]:
    """Split an arXiv author string ("A, B, and C") into names."""
    text = clean_text(value)
    # Affiliations in parentheses may contain commas; drop them before splitting.
    text = re.sub(r"\([^()]*\)", "", text)
    return [name for name in (clean_text(n) for n in _AUTHOR_SPLIT_RE.split(text)) if name]


def clean_categories(values: list[str], *, limit: int = 512) -> list[str]:
    """Deduplicate categories (order kept) and keep the space-joined string within ``limit``."""
    out: list[str] = []
    total = 0
    for value in values:
        for cat in clean_text(value).split():
            if cat in out or len(cat) > 32:
                continue
            if total + len(cat) + (1 if out else 0) > limit:
                return out
            total += len(cat) + (1 if out else 0)
            out.append(cat)
    return out
