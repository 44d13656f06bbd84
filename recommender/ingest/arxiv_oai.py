"""Parse arXiv OAI-PMH ``ListRecords`` pages and ``GetRecord`` answers (metadataPrefix ``arXiv`` and ``arXivRaw``).

A ``GetRecord`` answer (one paper, ``verb=GetRecord&identifier=oai:arXiv.org:<id>``)
is a one-record page without a resumption token.

``arXivRaw`` carries every version with its date; ``arXiv`` carries only the
creation and last-update dates (no version number). OAI errors become
``SourceError``s, except ``noRecordsMatch``, which is an empty harvest.
``parse_page`` returns the ``resumptionToken`` for the fetch side to follow.
Pure: bytes in, dataclasses out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from .entries import DocumentError, PaperEntry, SourceError, clean_categories, clean_text, split_arxiv_id, split_authors
from .safexml import parse_xml, text_of

OAI = "http://www.openarchives.org/OAI/2.0/"
RAW = "http://arxiv.org/OAI/arXivRaw/"
ARXIV = "http://arxiv.org/OAI/arXiv/"
NS = {"oai": OAI, "raw": RAW, "arxiv": ARXIV}


@dataclass
class OaiPage:
    entries: list[PaperEntry] = field(default_factory=list)
    resumption_token: str = ""
    complete_list_size: int | None = None


def parse_page(data: bytes) -> OaiPage:
    """Return one ``ListRecords`` page and its resumption token (``""`` on the last page), or a ``GetRecord`` record."""
    root = parse_xml(data, what="OAI-PMH response")
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise DocumentError(f"not an OAI-PMH response (root element <{root.tag[:60]}>)")
    if _empty_harvest(root):
        return OaiPage()
    listing = root.find("oai:ListRecords", NS)
    if listing is None:
        listing = root.find("oai:GetRecord", NS)  # the same <record>, alone, and no resumptionToken
    if listing is None:
        raise DocumentError("OAI-PMH response without ListRecords or GetRecord")
    page = OaiPage()
    for record in listing.iterfind("oai:record", NS):
        entry = _record_entry(record)
        if entry is not None:
            page.entries.append(entry)
    token = listing.find("oai:resumptionToken", NS)
    if token is not None:
        page.resumption_token = clean_text(text_of(token))
        size = token.get("completeListSize")
        page.complete_list_size = int(size) if size and size.isdigit() else None
    return page


def _empty_harvest(root) -> bool:
    """Return True for ``noRecordsMatch`` (an empty harvest, not a failure); raise ``SourceError`` for other errors."""
    errors = root.findall("oai:error", NS)
    if not errors:
        return False
    if all(e.get("code", "") == "noRecordsMatch" for e in errors):
        return True
    message = "; ".join(f"{e.get('code', 'error')}: {clean_text(text_of(e))}" for e in errors)
    raise SourceError(f"OAI-PMH error {message}")


def _record_entry(record) -> PaperEntry | None:
    """Return the entry of one ``<record>``, or None for a deleted record or one without metadata."""
    header = record.find("oai:header", NS)
    if header is not None and header.get("status") == "deleted":
        return None
    metadata = record.find("oai:metadata", NS)
    if metadata is None:
        return None
    raw = metadata.find("raw:arXivRaw", NS)
    if raw is not None:
        return _raw_entry(raw)
    plain = metadata.find("arxiv:arXiv", NS)
    if plain is not None:
        return _arxiv_entry(plain)
    raise DocumentError("OAI-PMH record in an unsupported metadata format (use arXiv or arXivRaw)")


def parse(data: bytes) -> list[PaperEntry]:
    """Return the entries of one ``ListRecords`` page or ``GetRecord`` answer."""
    return parse_page(data).entries


def _date(value: str) -> dt.date | None:
    value = clean_text(value)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise DocumentError(f"invalid date {value[:40]!r}") from None


def _rfc822(value: str) -> dt.datetime | None:
    value = clean_text(value)
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise DocumentError(f"invalid version date {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _common(element, ns: str) -> dict:
    categories = clean_categories([text_of(element.find(f"{ns}:categories", NS))])
    return {
        "arxiv_id": split_arxiv_id(text_of(element.find(f"{ns}:id", NS)))[0],
        "title": clean_text(text_of(element.find(f"{ns}:title", NS))),
        "abstract": clean_text(text_of(element.find(f"{ns}:abstract", NS))),
        "primary_category": categories[0] if categories else "",
        "categories": categories,
        "comments": clean_text(text_of(element.find(f"{ns}:comments", NS))),
        # arXivRaw may list several DOIs separated by spaces; the first is the paper's.
        "doi": clean_text(text_of(element.find(f"{ns}:doi", NS))).split(" ")[0][:255],
        "journal_ref": clean_text(text_of(element.find(f"{ns}:journal-ref", NS))),
        "license": clean_text(text_of(element.find(f"{ns}:license", NS)), limit=255),
    }


def _raw_entry(element) -> PaperEntry:
    fields = _common(element, "raw")
    version_dates: dict[int, dt.date] = {}
    stamps: dict[int, dt.datetime] = {}
    for node in element.iterfind("raw:version", NS):
        label = (node.get("version") or "").lstrip("v")
        if not label.isdigit():
            raise DocumentError(f"invalid version label {node.get('version', '')[:20]!r}")
        stamp = _rfc822(text_of(node.find("raw:date", NS)))
        if stamp:
            stamps[int(label)] = stamp
            version_dates[int(label)] = stamp.date()
    latest = max(stamps) if stamps else None
    return PaperEntry(
        **fields,
        version=latest,
        authors=split_authors(text_of(element.find("raw:authors", NS))),
        submitted_at=stamps.get(min(stamps)) if stamps else None,
        updated_at=stamps.get(latest) if latest else None,
        version_dates=version_dates,
    )


def _arxiv_entry(element) -> PaperEntry:
    fields = _common(element, "arxiv")
    authors = []
    for node in element.iterfind("arxiv:authors/arxiv:author", NS):
        name = " ".join(
            part
            for part in (
                clean_text(text_of(node.find("arxiv:forenames", NS))),
                clean_text(text_of(node.find("arxiv:keyname", NS))),
                clean_text(text_of(node.find("arxiv:suffix", NS))),
            )
            if part
        )
        if name:
            authors.append(name)
    created = _date(text_of(element.find("arxiv:created", NS)))
    updated = _date(text_of(element.find("arxiv:updated", NS)))

    def midnight(day):
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) if day else None

    return PaperEntry(
        **fields,
        authors=authors,
        submitted_at=midnight(created),
        updated_at=midnight(updated or created),
        version_dates={1: created} if created else {},
    )
