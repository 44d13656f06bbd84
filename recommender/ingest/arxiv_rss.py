"""Parse arXiv's daily announcement feeds (``rss.arxiv.org/rss/<cats>``, RSS 2.0).

Each item's description starts ``arXiv:<id>v<N> Announce Type: <type>`` and
continues ``Abstract: ...``; the channel's ``pubDate`` is the announcement
day. Weekend and holiday feeds have a channel and no items: an empty list,
not an error. Pure: bytes in, ``PaperEntry`` list out.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

from .entries import DocumentError, PaperEntry, clean_categories, clean_text, split_arxiv_id, split_authors
from .safexml import parse_xml, text_of

NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "arxiv": "http://arxiv.org/schemas/atom",
}
ANNOUNCE_TYPES = {"new", "cross", "replace", "replace-cross"}
_HEAD_RE = re.compile(
    r"^\s*arXiv:(?P<id>\S+?)\s+Announce\s+Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.DOTALL,
)


def parse_rfc822_date(value: str) -> dt.date | None:
    """Return the calendar date of an RFC 822 date in its own time zone (arXiv announces in US Eastern)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        raise DocumentError(f"invalid pubDate {value[:60]!r}") from None


def parse(data: bytes, *, announced_on: dt.date | None = None) -> list[PaperEntry]:
    """Return the entries of one RSS announcement feed; ``announced_on`` overrides the feed's dates."""
    root = parse_xml(data, what="arXiv RSS feed")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise DocumentError(f"not an RSS 2.0 feed (root element <{root.tag[:40]}>)")
    channel_day = parse_rfc822_date(text_of(channel.find("pubDate")))
    entries = []
    for item in channel.iterfind("item"):
        entries.append(_entry(item, announced_on=announced_on, channel_day=channel_day))
    return entries


def _entry(item, *, announced_on: dt.date | None, channel_day: dt.date | None) -> PaperEntry:
    description = text_of(item.find("description"))
    match = _HEAD_RE.match(description)
    guid = text_of(item.find("guid")).strip()
    if match:
        arxiv_id, version = split_arxiv_id(match.group("id"))
        announce_type = match.group("type").lower()
        abstract = match.group("abstract")
    elif guid:
        arxiv_id, version = split_arxiv_id(guid)
        announce_type, abstract = "", description
    else:
        raise DocumentError("RSS item without an arXiv id (no 'arXiv:<id>' description and no guid)")
    explicit = clean_text(text_of(item.find("arxiv:announce_type", NS))).lower()
    announce_type = explicit or announce_type
    if announce_type not in ANNOUNCE_TYPES:
        announce_type = ""
    day = announced_on or parse_rfc822_date(text_of(item.find("pubDate"))) or channel_day
    categories = clean_categories([text_of(c) for c in item.iterfind("category")])
    return PaperEntry(
        arxiv_id=arxiv_id,
        version=version,
        title=clean_text(text_of(item.find("title"))),
        abstract=clean_text(abstract),
        authors=split_authors(text_of(item.find("dc:creator", NS))),
        primary_category=categories[0] if categories else "",
        categories=categories,
        announce_type=announce_type,
        announced_on=day,
        version_dates={version: day} if version and day else {},
        license=clean_text(text_of(item.find("dc:rights", NS)), limit=255),
    )
