"""The merge rules: fold a parsed ``PaperEntry`` into a ``Paper`` in memory (pure: no queries, no I/O).

A row gathers what every source says:
- arXiv sources (RSS, API, OAI) are authoritative for bibliographic fields when
  they report the same or a newer version than the row holds; Hugging Face only
  fills bibliographic fields that are still empty.
- An empty value never blanks a field another source filled.
- ``versions`` keeps every version seen with its date; ``version`` is the highest.
- The announcement (type and day) follows the latest announcement; on the same
  day "new" beats "cross" beats "replace" beats "replace-cross".
- Only the RSS feed states announcement days. A paper no feed has dated gets
  the day arXiv's schedule gives its first version's submission time
  (``announce.py``, holidays from ``ARXIV_HOLIDAYS``), so papers known only
  from the API or OAI-PMH reach digests; a stated day replaces a derived one,
  never the other way round.

``services.paper_upsert_many`` loads and writes the rows; this module only decides values.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from . import announce
from .entries import PaperEntry

if TYPE_CHECKING:  # annotations only: the rules work on any object with Paper's attributes
    from ..models import Paper

ARXIV_SOURCES = {"arxiv-rss", "arxiv-api", "arxiv-oai"}
ANNOUNCE_RANK = {"new": 4, "cross": 3, "replace": 2, "replace-cross": 1, "": 0}

# Fields the merge may change; compared before/after to tell "updated" from "unchanged".
MERGE_FIELDS = [
    "version",
    "versions",
    "title",
    "abstract",
    "authors",
    "primary_category",
    "categories",
    "announce_type",
    "announced_on",
    "submitted_at",
    "updated_at",
    "comments",
    "doi",
    "journal_ref",
    "license",
    "sources",
    "hf_upvotes",
    "hf_comments",
    "hf_published_on",
    "ai_summary",
    "ai_keywords",
    "github_repo",
    "github_stars",
]
BIBLIOGRAPHIC = ["title", "abstract", "comments", "doi", "journal_ref", "license"]


def iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def snapshot(paper: Paper) -> tuple:
    """The merged fields' values, to tell an updated row from an unchanged one."""
    return tuple(getattr(paper, name) for name in MERGE_FIELDS)


def merge(paper: Paper, entry: PaperEntry, source: str, *, is_new: bool) -> None:
    """Fold ``entry`` into ``paper`` in memory, following the module's merge rules (in this order)."""
    newer = is_new or entry.version is None or entry.version >= (paper.version or 0)
    override = source in ARXIV_SOURCES and newer
    _merge_bibliographic(paper, entry, override=override)
    _merge_version_list(paper, entry)
    _merge_dates(paper, entry)
    merge_announcement(paper, entry, stated=day_stated(paper))
    _merge_hf(paper, entry)
    if source not in (paper.sources or []):
        paper.sources = [*(paper.sources or []), source]


def _merge_bibliographic(paper: Paper, entry: PaperEntry, *, override: bool) -> None:
    """An authoritative, same-or-newer entry overrides; any other only fills empty fields."""
    for name in BIBLIOGRAPHIC:
        value = getattr(entry, name)
        if value and (override or not getattr(paper, name)):
            setattr(paper, name, value)
    if entry.authors and (override or not paper.authors):
        paper.authors = list(entry.authors)
    if entry.categories and (override or not paper.categories):
        paper.categories = " ".join(entry.categories)
        paper.primary_category = entry.primary_category or entry.categories[0]


def _merge_version_list(paper: Paper, entry: PaperEntry) -> None:
    if entry.version or entry.version_dates:
        paper.versions = merge_versions(paper.versions, entry.version_dates, entry.version)
        paper.version = max([paper.version or 1] + [v["version"] for v in paper.versions])


def merge_versions(current: list, found: dict[int, dt.date], version: int | None) -> list:
    """Every version seen, each with the first date any source gave it, sorted by number."""
    by_version: dict[int, str | None] = {}
    for item in current or []:
        if isinstance(item, dict) and isinstance(item.get("version"), int):
            by_version[item["version"]] = item.get("date")
    if version and version not in by_version:
        by_version[version] = None
    for number, day in found.items():
        if by_version.get(number) is None:
            by_version[number] = iso(day)
    return [{"version": number, "date": by_version[number]} for number in sorted(by_version)]


def _merge_dates(paper: Paper, entry: PaperEntry) -> None:
    """The earliest submission and the latest update any source reports."""
    if entry.submitted_at and (paper.submitted_at is None or entry.submitted_at < paper.submitted_at):
        paper.submitted_at = entry.submitted_at
    if entry.updated_at and (paper.updated_at is None or entry.updated_at > paper.updated_at):
        paper.updated_at = entry.updated_at


def _merge_hf(paper: Paper, entry: PaperEntry) -> None:
    """Hugging Face fields take the latest non-empty values; the first publication day stays."""
    if entry.hf_upvotes is not None:
        paper.hf_upvotes = entry.hf_upvotes
    if entry.hf_comments is not None:
        paper.hf_comments = entry.hf_comments
    if entry.hf_published_on and (paper.hf_published_on is None or entry.hf_published_on < paper.hf_published_on):
        paper.hf_published_on = entry.hf_published_on
    for name in ("ai_summary", "github_repo"):
        if getattr(entry, name):
            setattr(paper, name, getattr(entry, name))
    if entry.ai_keywords:
        paper.ai_keywords = list(entry.ai_keywords)
    if entry.github_stars is not None:
        paper.github_stars = entry.github_stars


def day_stated(paper: Paper) -> bool:
    """Whether ``paper.announced_on`` came from a feed (RSS), not from the schedule."""
    return paper.announced_on is not None and "arxiv-rss" in (paper.sources or [])


def merge_announcement(paper: Paper, entry: PaperEntry, *, stated: bool) -> None:
    """The latest stated announcement wins (module rules); a stated day replaces a derived one."""
    if entry.announced_on:
        if not stated or entry.announced_on > paper.announced_on:
            paper.announced_on = entry.announced_on
            paper.announce_type = entry.announce_type or paper.announce_type
        elif entry.announced_on == paper.announced_on and (
            ANNOUNCE_RANK.get(entry.announce_type, 0) > ANNOUNCE_RANK.get(paper.announce_type, 0)
        ):
            paper.announce_type = entry.announce_type
    elif entry.announce_type and not paper.announce_type:
        paper.announce_type = entry.announce_type


def derive_announcement(paper: Paper, holidays: frozenset[dt.date]) -> None:
    """Give a paper no feed has dated the day of its first version by arXiv's schedule (``announce.py``)."""
    if paper.submitted_at is not None and not day_stated(paper):
        paper.announced_on = announce.announcement_day(paper.submitted_at, holidays=holidays)
