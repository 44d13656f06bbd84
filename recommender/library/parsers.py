"""Library files to ``LibraryEntry`` objects: BibTeX, RIS, a Zotero/Mendeley CSV export, or pasted text.

Pure: bytes in, entries out, or a ``LibraryError`` whose message a user can act
on. A file is read whole or refused whole: binary data, an undecodable text,
more than ``max_entries`` entries, or one BibTeX block that does not parse
(the import writes nothing then, so a half-read library never half-lands).

arXiv ids are found wherever reference managers put them: ``eprint`` (with
``archivePrefix = {arXiv}``), ``url``, ``doi`` (``10.48550/arXiv.NNNN``),
``note``, ``howpublished``, ``journal = {arXiv preprint arXiv:NNNN}``, Zotero's
``Extra`` column, abs/pdf URLs and bare ids in pasted text; both identifier
schemes, versions dropped (``recommender.arxiv_ids`` is the one definition).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from .. import arxiv_ids
from .normalise import split_authors

FORMATS = ("bibtex", "ris", "csv", "text")
MAX_FIELD_CHARS = 20_000  # a longer field is cut before searching it for an id
MAX_ENTRY_CHARS = 256_000  # one BibTeX entry (abstracts included) is a few kB; the parser is slow on megabytes

_ID = arxiv_ids.ID_PATTERN
# An id with its context: an arXiv URL, the arXiv DOI prefix, or "arXiv:". Safe in any field.
_STRONG_RE = re.compile(
    rf"(?:(?i:arxiv\.org/(?:abs|pdf|html)/)|(?i:10\.48550/arxiv\.)|(?i:arxiv:\s*))(?P<id>{_ID})(?:v(?P<v>\d{{1,4}}))?(?!\d)"
)
# A bare id: only in fields that hold nothing else (eprint) or that say "arXiv" (journal = {arXiv preprint ...}).
_BARE_RE = re.compile(rf"(?<![\w.\-/])(?P<id>{_ID})(?:v(?P<v>\d{{1,4}}))?(?!\d)")
_YEAR_RE = re.compile(r"(?<!\d)(19\d\d|20\d\d|2100)(?!\d)")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# Fields searched for an id (never title, abstract or keywords: those cite other papers).
ID_FIELDS = (
    "eprint",
    "arxivid",
    "arxiv_id",
    "arxiv",
    "url",
    "doi",
    "note",
    "annote",
    "howpublished",
    "journal",
    "journaltitle",
    "booktitle",
    "number",
    "pages",
    "eid",
    "volume",
    "publisher",
    "institution",
    "series",
    "extra",
    "notes",
    "publication title",
    "archive location",
    "urls",
)
BARE_FIELDS = frozenset({"eprint", "arxivid", "arxiv_id", "arxiv", "arxiv id"})


class LibraryError(ValueError):
    """The file cannot be imported; the message says why, in words for the person who uploaded it."""


@dataclass
class LibraryEntry:
    """One reference: where it is in the file, what identifies it."""

    ref: str  # the BibTeX key, "line 12", "record 3": how the report names it
    title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    arxiv_id: str = ""


def find_id(value: str, *, bare: bool = False) -> str:
    """The first arXiv id (no version) in ``value``; bare ids only when ``bare``; '' if none."""
    value = (value or "")[:MAX_FIELD_CHARS]
    for pattern in (_STRONG_RE, _BARE_RE) if bare else (_STRONG_RE,):
        for match in pattern.finditer(value):
            if arxiv_ids.is_arxiv_id(match.group("id")):
                return match.group("id")
    return ""


def id_from_fields(fields: dict[str, str]) -> str:
    """The arXiv id an entry's fields carry (lower-case field names), or ''."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").strip().lower()
    for name in ID_FIELDS + tuple(BARE_FIELDS):
        value = fields.get(name)
        if not value:
            continue
        bare = (name in BARE_FIELDS and prefix == "arxiv") or "arxiv" in value[:MAX_FIELD_CHARS].lower()
        found = find_id(value, bare=bare)
        if found:
            return found
    return ""


def year_of(value: str) -> int | None:
    match = _YEAR_RE.search(value or "")
    return int(match.group(1)) if match else None


# --- decoding and detection -------------------------------------------------------------


def decode(data: bytes) -> str:
    """Text of an upload: UTF-8 (with or without BOM), else Windows-1252; binary data is refused."""
    if b"\x00" in data[:65536] or b"\x00" in data[-65536:]:
        raise LibraryError("This looks like a binary file, not a library export (BibTeX, RIS, CSV or text).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise LibraryError("The file is not text in UTF-8 or Windows-1252; export it again as UTF-8.")
    if len(_CONTROL_RE.findall(text[:65536])) > 8:
        raise LibraryError("This looks like a binary file, not a library export (BibTeX, RIS, CSV or text).")
    return text


_BIB_START_RE = re.compile(r"^[ \t]*@[A-Za-z]+[ \t]*[{(]", re.M)
_RIS_START_RE = re.compile(r"^TY  - ", re.M)


def detect(text: str, filename: str = "") -> str:
    """``bibtex``, ``ris``, ``csv`` or ``text``, from the file name's extension, else from the content."""
    name = (filename or "").lower()
    for suffix, kind in ((".bib", "bibtex"), (".bibtex", "bibtex"), (".ris", "ris"), (".csv", "csv")):
        if name.endswith(suffix):
            return kind
    if _BIB_START_RE.search(text[:200_000]):
        return "bibtex"
    if _RIS_START_RE.search(text[:200_000]):
        return "ris"
    first = text.lstrip().split("\n", 1)[0].lower()
    if "title" in first and ("," in first or "\t" in first or ";" in first):
        return "csv"
    return "text"


def _check_count(count: int, max_entries: int) -> None:
    if count > max_entries:
        raise LibraryError(
            f"The file holds {count:,} entries; one import takes at most {max_entries:,}. Split it and import each part"
            "."
        )


# --- BibTeX -----------------------------------------------------------------------------------


def parse_bibtex(text: str, *, max_entries: int) -> list[LibraryEntry]:
    """Every ``@entry`` of a BibTeX file; one unreadable block refuses the whole file."""
    import bibtexparser
    from bibtexparser.model import DuplicateBlockKeyBlock, Entry

    starts = [m.start() for m in _BIB_START_RE.finditer(text)]
    _check_count(len(starts), max_entries)
    _check_entry_sizes(text, starts)
    try:
        library = bibtexparser.parse_string(text)
    except Exception as exc:  # the parser's own errors are not a documented hierarchy
        raise LibraryError(f"The BibTeX file could not be read: {' '.join(str(exc).split())[:200]}") from None
    blocks = list(library.entries)
    for block in library.failed_blocks:
        if isinstance(block, DuplicateBlockKeyBlock) and isinstance(block.ignore_error_block, Entry):
            blocks.append(block.ignore_error_block)  # a repeated key is a duplicate, not a broken file
            continue
        line = (block.start_line or 0) + 1
        error = getattr(block, "error", None)
        reason = " ".join(str(error or "").split())[:200] or type(error).__name__.replace("Error", " error").lower()
        raise LibraryError(f"The BibTeX file could not be read: the block at line {line} is broken ({reason}).")
    _check_count(len(blocks), max_entries)
    return [_bib_entry(block) for block in blocks]


def _check_entry_sizes(text: str, starts: list[int]) -> None:
    """Refuse an entry longer than ``MAX_ENTRY_CHARS``: no real one is, and the parser's time grows with it."""
    bounds = [*starts, len(text)]
    for begin, end in zip(bounds, bounds[1:], strict=False):
        if end - begin > MAX_ENTRY_CHARS:
            line = text.count("\n", 0, begin) + 1
            raise LibraryError(
                f"The BibTeX entry at line {line} is {(end - begin) / 1e3:.0f} kB long; entries of more than "
                f"{MAX_ENTRY_CHARS // 1000} kB are refused (this is not an export of a reference manager)."
            )


def _bib_entry(block) -> LibraryEntry:
    fields = {f.key.lower(): str(f.value) for f in block.fields}
    return LibraryEntry(
        ref=block.key or f"line {block.start_line + 1}",
        title=fields.get("title", "").strip(),
        authors=split_authors(fields.get("author", "")),
        year=year_of(fields.get("year", "") or fields.get("date", "")),
        arxiv_id=id_from_fields(fields),
    )


# --- RIS ----------------------------------------------------------------------------------------


_RIS_TEXT_KEYS = {
    "url": ("urls", "url", "link_to_pdf", "file_attachments1"),
    "doi": ("doi",),
    "note": ("notes", "note", "research_notes"),
    "journal": ("journal_name", "secondary_title", "alternate_title1", "alternate_title3", "publisher"),
    "number": ("number", "accession_number", "id"),
}


def parse_ris(text: str, *, max_entries: int) -> list[LibraryEntry]:
    """Every ``TY``...``ER`` record of a RIS file."""
    import rispy

    _check_count(len(_RIS_START_RE.findall(text)), max_entries)
    try:
        records = rispy.loads(text)
    except Exception as exc:  # rispy raises plain IOError/ValueError subclasses on broken records
        raise LibraryError(f"The RIS file could not be read: {' '.join(str(exc).split())[:200]}") from None
    if not records and text.strip():
        raise LibraryError("The RIS file holds no complete record (each starts with 'TY  - ' and ends with 'ER  - ').")
    return [_ris_entry(i, record) for i, record in enumerate(records, start=1)]


def _flat(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value or "")


def _ris_entry(number: int, record: dict) -> LibraryEntry:
    fields = {name: " ".join(_flat(record.get(k)) for k in keys) for name, keys in _RIS_TEXT_KEYS.items()}
    authors = []
    for key in ("authors", "first_authors", "secondary_authors"):
        authors += [str(a) for a in record.get(key) or []]
    return LibraryEntry(
        ref=f"record {number}",
        title=_flat(record.get("title") or record.get("primary_title") or record.get("translated_title")).strip(),
        authors=authors,
        year=year_of(_flat(record.get("year") or record.get("publication_year") or record.get("date"))),
        arxiv_id=id_from_fields(fields),
    )


# --- CSV (Zotero, Mendeley) ------------------------------------------------------------------


_CSV_TITLE = ("title",)
_CSV_AUTHORS = ("author", "authors", "creators", "creator")
_CSV_YEAR = ("publication year", "year", "date", "issued")


def parse_csv(text: str, *, max_entries: int) -> list[LibraryEntry]:
    """One entry per row of a CSV export with a header row (Zotero's or Mendeley's columns)."""
    # Quoted fields may span lines (abstracts): the exact count is checked once the rows are read.
    if text.count("\n") > 20 * max_entries:
        _check_count(text.count("\n"), max_entries)
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = {(name or "").strip().lower(): name for name in (reader.fieldnames or [])}
    if not (set(columns) & (set(_CSV_TITLE) | set(ID_FIELDS) | BARE_FIELDS)):
        raise LibraryError("The CSV file has no Title, URL, DOI or arXiv ID column in its first row.")
    entries = []
    try:
        for row in reader:
            entries.append(_csv_entry(reader.line_num, {k: (row.get(v) or "") for k, v in columns.items()}))
    except csv.Error as exc:
        raise LibraryError(f"The CSV file could not be read at line {reader.line_num}: {exc}") from None
    _check_count(len(entries), max_entries)
    return entries


def _first(row: dict[str, str], names: tuple[str, ...]) -> str:
    return next((row[n] for n in names if row.get(n)), "")


def _csv_entry(line: int, row: dict[str, str]) -> LibraryEntry:
    authors_text = _first(row, _CSV_AUTHORS)
    authors = [a.strip() for a in (authors_text.split(";") if ";" in authors_text else split_authors(authors_text))]
    return LibraryEntry(
        ref=f"line {line}",
        title=_first(row, _CSV_TITLE).strip(),
        authors=[a for a in authors if a],
        year=year_of(_first(row, _CSV_YEAR)),
        arxiv_id=id_from_fields(row),
    )


# --- pasted text ------------------------------------------------------------------------------


def parse_text(text: str, *, max_entries: int) -> list[LibraryEntry]:
    """Every arXiv id, abs or pdf URL in pasted text (several per line allowed); other lines are titles."""
    lines = text.splitlines()
    _check_count(sum(1 for line in lines if line.strip()), max_entries)
    entries: list[LibraryEntry] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        found = [m.group("id") for m in _STRONG_RE.finditer(line[:MAX_FIELD_CHARS])]
        found += [m.group("id") for m in _BARE_RE.finditer(line[:MAX_FIELD_CHARS])]
        ids = [i for i in dict.fromkeys(found) if arxiv_ids.is_arxiv_id(i)]
        if ids:
            entries += [LibraryEntry(ref=f"line {number}", arxiv_id=i) for i in ids]
        else:
            entries.append(LibraryEntry(ref=f"line {number}", title=line[:1000]))
    _check_count(len(entries), max_entries)
    return entries


PARSERS = {"bibtex": parse_bibtex, "ris": parse_ris, "csv": parse_csv, "text": parse_text}


def parse(data: bytes, *, filename: str = "", kind: str = "", max_bytes: int, max_entries: int) -> tuple[str, list]:
    """``(format, entries)`` of an upload; ``LibraryError`` if it is too big, binary, malformed or empty."""
    if len(data) > max_bytes:
        raise LibraryError(
            f"The file is {len(data) / 1e6:.1f} MB; one import takes at most {max_bytes / 1e6:.1f} MB. Split it."
        )
    text = decode(data)
    if not text.strip():
        raise LibraryError("The file is empty.")
    kind = kind or detect(text, filename)
    if kind not in PARSERS:
        raise LibraryError(f"Unknown format {kind!r}: choose one of {', '.join(FORMATS)}.")
    entries = PARSERS[kind](text, max_entries=max_entries)
    if not entries:
        raise LibraryError(f"No entries found in this {kind} file.")
    return kind, entries
