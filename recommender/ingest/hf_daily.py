"""Parse Hugging Face daily papers (``huggingface.co/api/daily_papers?date=``, JSON).

Adds the community layer to arXiv papers: upvotes, comment count, the AI
summary and keywords, the GitHub repository and its stars. The JSON is
untrusted: every field is type-checked, numbers are clamped to what the
database stores, and only ``https://github.com/`` links are kept.
Pure: bytes in, ``PaperEntry`` list out.
"""

from __future__ import annotations

import datetime as dt

from ..paper_links import code_url
from .entries import DocumentError, PaperEntry, SourceError, clean_text, split_arxiv_id
from .safexml import parse_json

INT_MAX = 2**31 - 1  # IntegerField on PostgreSQL


def _count(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DocumentError(f"Hugging Face daily papers: {what} is not a number ({str(value)[:20]!r})")
    return max(0, min(int(value), INT_MAX))


def _day(value: object) -> dt.date | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise DocumentError("Hugging Face daily papers: a date is not a string")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise DocumentError(f"Hugging Face daily papers: invalid date {value[:30]!r}") from None


def _dict(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise DocumentError(f"Hugging Face daily papers: {what} is not an object")
    return value


def _github(value: object) -> str:
    """Keep only what the page shows and the click follows (one rule: ``recommender.paper_links.code_url``)."""
    return code_url(clean_text(value) if isinstance(value, str) else "")


def parse(data: bytes, *, published_on: dt.date | None = None) -> list[PaperEntry]:
    """Return one entry per listed paper; ``published_on`` overrides the listing date."""
    document = parse_json(data, what="Hugging Face daily papers JSON")
    if isinstance(document, dict) and "error" in document:
        raise SourceError(f"Hugging Face API error: {clean_text(document.get('error'), limit=200)}")
    if not isinstance(document, list):
        raise DocumentError("Hugging Face daily papers: expected a JSON list of papers")
    entries = []
    for item in document:
        item = _dict(item, "a listed item")
        paper = _dict(item.get("paper"), "an item's paper")
        raw_id = paper.get("id")
        if not isinstance(raw_id, str):
            raise DocumentError("Hugging Face daily papers: a paper has no string id")
        arxiv_id, version = split_arxiv_id(raw_id)
        authors = paper.get("authors") or []
        if not isinstance(authors, list):
            raise DocumentError("Hugging Face daily papers: authors is not a list")
        keywords = paper.get("ai_keywords") or []
        if not isinstance(keywords, list):
            raise DocumentError("Hugging Face daily papers: ai_keywords is not a list")
        listed_on = published_on or _day(paper.get("submittedOnDailyAt")) or _day(item.get("publishedAt"))
        entries.append(
            PaperEntry(
                arxiv_id=arxiv_id,
                version=version,
                title=clean_text(paper.get("title") or item.get("title")),
                abstract=clean_text(paper.get("summary") or item.get("summary")),
                authors=[
                    name
                    for name in (clean_text(a.get("name")) for a in authors if isinstance(a, dict))
                    if name and len(name) <= 300
                ],
                submitted_at=None,
                hf_upvotes=_count(paper.get("upvotes", 0), "upvotes"),
                hf_comments=_count(item.get("numComments", 0), "numComments"),
                hf_published_on=listed_on,
                ai_summary=clean_text(paper.get("ai_summary")),
                ai_keywords=[k for k in (clean_text(k, limit=100) for k in keywords if isinstance(k, str)) if k][:50],
                github_repo=_github(paper.get("githubRepo")),
                github_stars=_count(paper.get("githubStars"), "githubStars"),
            )
        )
    return entries
