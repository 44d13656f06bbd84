"""Parse arXiv export API responses (``export.arxiv.org/api/query``, Atom 1.0).

The API reports errors as a feed holding one entry whose id is under
``/api/errors``; that becomes a ``SourceError`` with arXiv's own message.
``parse_page`` also returns the OpenSearch counters the fetch side needs to
page with ``start`` / ``max_results``. Pure: bytes in, dataclasses out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .entries import DocumentError, PaperEntry, SourceError, clean_categories, clean_text, split_arxiv_id
from .safexml import parse_xml, text_of

ATOM = "http://www.w3.org/2005/Atom"
NS = {
    "atom": ATOM,
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}


@dataclass
class ApiPage:
    entries: list[PaperEntry] = field(default_factory=list)
    total_results: int = 0
    start_index: int = 0
    items_per_page: int = 0


def parse_iso_datetime(value: str) -> dt.datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DocumentError(f"invalid date {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _int(root, path: str) -> int:
    text = text_of(root.find(path, NS)).strip()
    try:
        return int(text) if text else 0
    except ValueError:
        raise DocumentError(f"invalid {path.split(':')[-1]} {text[:20]!r}") from None


def parse_page(data: bytes) -> ApiPage:
    """Return one page of API results with its paging counters."""
    root = parse_xml(data, what="arXiv API Atom feed")
    if root.tag != f"{{{ATOM}}}feed":
        raise DocumentError(f"not an Atom feed (root element <{root.tag[:60]}>)")
    page = ApiPage(
        total_results=_int(root, "opensearch:totalResults"),
        start_index=_int(root, "opensearch:startIndex"),
        items_per_page=_int(root, "opensearch:itemsPerPage"),
    )
    for element in root.iterfind("atom:entry", NS):
        entry_id = text_of(element.find("atom:id", NS)).strip()
        if "/api/errors" in entry_id:
            message = clean_text(text_of(element.find("atom:summary", NS))) or entry_id
            raise SourceError(f"arXiv API error: {message}")
        page.entries.append(_entry(element, entry_id))
    return page


def parse(data: bytes) -> list[PaperEntry]:
    """Return the entries of one API response."""
    return parse_page(data).entries


def _entry(element, entry_id: str) -> PaperEntry:
    arxiv_id, version = split_arxiv_id(entry_id)
    published = parse_iso_datetime(text_of(element.find("atom:published", NS)))
    updated = parse_iso_datetime(text_of(element.find("atom:updated", NS)))
    primary = element.find("arxiv:primary_category", NS)
    primary_category = clean_text(primary.get("term", "") if primary is not None else "", limit=32)
    categories = clean_categories(
        [primary_category] + [c.get("term", "") for c in element.iterfind("atom:category", NS)]
    )
    version_dates: dict[int, dt.date] = {}
    if published:
        version_dates[1] = published.date()
    if version and updated:
        version_dates[version] = updated.date()
    return PaperEntry(
        arxiv_id=arxiv_id,
        version=version,
        title=clean_text(text_of(element.find("atom:title", NS))),
        abstract=clean_text(text_of(element.find("atom:summary", NS))),
        authors=[
            name
            for name in (clean_text(text_of(a.find("atom:name", NS))) for a in element.iterfind("atom:author", NS))
            if name
        ],
        primary_category=categories[0] if categories else "",
        categories=categories,
        submitted_at=published,
        updated_at=updated or published,
        version_dates=version_dates,
        comments=clean_text(text_of(element.find("arxiv:comment", NS))),
        doi=clean_text(text_of(element.find("arxiv:doi", NS)), limit=255),
        journal_ref=clean_text(text_of(element.find("arxiv:journal_ref", NS))),
    )
