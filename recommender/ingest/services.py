"""The write side of ingestion: merge parsed entries into ``Paper`` rows, run whole ingestions.

``paper_upsert_many`` merges ``PaperEntry`` objects into one row per arXiv id
with bulk queries (one SELECT, one bulk INSERT and one bulk UPDATE per chunk)
and counts created / updated / unchanged rows; a row is only written when a
value actually changes, so re-ingesting a feed is a no-op.

``ingest_run`` orchestrates one ingestion: it records an ``IngestRun`` (kept
outside the transaction so a failure is recorded even though its writes are
rolled back), fetches or reads every page first, then writes everything in one
``transaction.atomic`` block together with the conditional-GET validators.

The merge rules themselves are pure functions in ``merge.py``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.utils import timezone

from ..models import IngestRun, Paper
from . import announce
from .collect import COLLECTORS, DEFAULT_URLS, Options, feed_states_save, probe
from .collect import IngestUnavailable as IngestUnavailable  # re-exported: callers catch it from here
from .entries import PaperEntry, PermanentIngestError
from .merge import MERGE_FIELDS, derive_announcement, iso, merge, snapshot
from .runs import paper_tldr_fill as paper_tldr_fill  # re-exported: bench/ingest.py
from .runs import papers_changed, run_failed, run_start, run_succeeded

SOURCES = ("arxiv-rss", "arxiv-api", "arxiv-oai", "hf-daily")
CHUNK_SIZE = 1000

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "sample"
SAMPLE_RSS = SAMPLE_DIR / "arxiv_rss_sample.xml"
SAMPLE_HF = SAMPLE_DIR / "hf_daily_sample.json"


@dataclass
class UpsertCounts:
    entries: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: list[str] = field(default_factory=list)
    # Papers whose abstract is new or changed: their TL;DR is (re)made after commit.
    tldr_ids: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.created + self.updated


def _setting(name: str, default):
    return settings.PAPERBOY.get(name, default)


# --- the bulk upsert (the merge rules: merge.py) -----------------------------------------


def arxiv_holidays() -> frozenset[dt.date]:
    """``ARXIV_HOLIDAYS``: announcement days without a listing (``announce.py``)."""
    try:
        return announce.holidays_parse(_setting("ARXIV_HOLIDAYS", []))
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert_new(papers: list[Paper]) -> None:
    """Insert new rows: ``COPY`` on PostgreSQL (several times faster than a multi-row INSERT), else bulk_create."""
    if connection.vendor != "postgresql":
        Paper.objects.bulk_create(papers, batch_size=500)
        return
    fields = [f for f in Paper._meta.concrete_fields if not f.primary_key and not f.generated]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Paper._meta.db_table)
    # Each value is its field's pre_save(instance, add=True), as bulk_create takes it (auto_now(_add) stamp
    # the instance); Field.pre_save itself is a plain getattr, so only fields that override it are called.
    # psycopg adapts str/int/float/date/datetime itself; only JSON needs encoding.
    plan = [(f.attname, _own_pre_save(f), isinstance(f, models.JSONField)) for f in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for paper in papers:
            copy.write_row([_copy_value(paper, name, pre_save, is_json) for name, pre_save, is_json in plan])


def _own_pre_save(field: models.Field):
    """The field's ``pre_save`` when its class overrides ``Field.pre_save`` (a plain getattr), else None."""
    return field.pre_save if type(field).pre_save is not models.Field.pre_save else None


def _copy_value(paper: Paper, name: str, pre_save, is_json: bool):
    value = pre_save(paper, True) if pre_save else getattr(paper, name)
    return json.dumps(value) if is_json and value is not None else value


def _merge_all(
    paper: Paper,
    entries: list[PaperEntry],
    source: str,
    *,
    is_new: bool,
    holidays: frozenset[dt.date],
    counts: UpsertCounts,
) -> None:
    """Fold one id's entries into its row (``merge.py``), date it, and note whether it needs a TL;DR."""
    old_abstract = paper.abstract
    for entry in entries:
        merge(paper, entry, source, is_new=is_new and not paper.title)
    derive_announcement(paper, holidays)
    if paper.abstract and (paper.abstract != old_abstract or not paper.tldr):
        counts.tldr_ids.append(paper.arxiv_id)


def paper_upsert_many(*, entries: Iterable[PaperEntry], source: str) -> UpsertCounts:
    """Merge ``entries`` into ``Paper`` rows (one per arXiv id) and return what changed.

    Duplicate ids within ``entries`` are merged (the highest version wins).
    Bulk queries per chunk of ``CHUNK_SIZE`` ids; rows are written only when a
    merged value differs from the stored one. ``tldr_ids`` in the result lists
    papers that need a TL;DR (``paper_tldr_fill``).
    """
    if source not in SOURCES:
        raise PermanentIngestError(f"unknown source {source!r}")
    grouped: dict[str, list[PaperEntry]] = {}
    counts = UpsertCounts()
    for entry in entries:
        counts.entries += 1
        grouped.setdefault(entry.arxiv_id, []).append(entry)
    now = timezone.now()
    holidays = arxiv_holidays()
    for ids in _chunks(list(grouped), CHUNK_SIZE):
        existing = {p.arxiv_id: p for p in Paper.objects.filter(arxiv_id__in=ids)}
        to_create, to_update = [], []
        for arxiv_id in ids:
            paper = existing.get(arxiv_id)
            if paper is None:
                paper = Paper(arxiv_id=arxiv_id, versions=[], authors=[], sources=[], ai_keywords=[])
                _merge_all(paper, grouped[arxiv_id], source, is_new=True, holidays=holidays, counts=counts)
                to_create.append(paper)
                continue
            before = snapshot(paper)
            _merge_all(paper, grouped[arxiv_id], source, is_new=False, holidays=holidays, counts=counts)
            if snapshot(paper) != before:
                paper.modified_at = now
                to_update.append(paper)
            else:
                counts.unchanged += 1
        if to_create:
            _insert_new(to_create)
        if to_update:
            Paper.objects.bulk_update(to_update, [*MERGE_FIELDS, "modified_at"], batch_size=250)
        counts.created += len(to_create)
        counts.updated += len(to_update)
        counts.changed_ids.extend(p.arxiv_id for p in to_create + to_update)
    return counts


def papers_announced_on_fill(*, chunk_size: int = CHUNK_SIZE) -> int:
    """Give every paper without an announcement day the one its first version's submission time gets.

    The backfill for rows ingested from the API or OAI-PMH before days were
    derived (``manage.py announced_on_fill``). Idempotent: it only touches rows
    whose day is missing, so a second run changes nothing and returns 0.
    """
    holidays = arxiv_holidays()
    missing = Paper.objects.filter(announced_on__isnull=True, submitted_at__isnull=False).order_by("pk")
    filled, last = 0, 0
    while papers := list(missing.filter(pk__gt=last).only("id", "submitted_at", "announced_on")[:chunk_size]):
        for paper in papers:
            paper.announced_on = announce.announcement_day(paper.submitted_at, holidays=holidays)
        Paper.objects.bulk_update(papers, ["announced_on"], batch_size=500)
        filled += len(papers)
        last = papers[-1].pk
    return filled


def ingest_run(
    *,
    source: str,
    url: str | None = None,
    path: str | Path | None = None,
    categories: list[str] | None = None,
    date: dt.date | None = None,
    delay: float | None = None,
    limit: int | None = 1000,
    metadata_prefix: str = "arXivRaw",
    timeout: float | None = None,
    conditional: bool = True,
    refresh_trending: bool = True,
) -> IngestRun:
    """Ingest one source all-or-nothing and return its ``IngestRun`` (raise ``IngestError`` on failure).

    ``url`` or ``path`` overrides the source's default location; ``delay`` is
    the pause between paged requests (arXiv asks for 3 s); ``timeout`` bounds
    connecting and each read.
    """
    if source not in SOURCES:
        raise PermanentIngestError(f"unknown source {source!r} (choose from {', '.join(SOURCES)})")
    if url and path:
        raise PermanentIngestError("give either a URL or a file, not both")
    if metadata_prefix not in ("arXiv", "arXivRaw"):
        raise PermanentIngestError(f"unsupported OAI metadataPrefix {metadata_prefix!r} (arXiv or arXivRaw)")
    opts = Options(
        source=source,
        url=url,
        path=str(path) if path else None,
        categories=list(categories or []),
        date=date,
        delay=float(_setting("ARXIV_DELAY_SECONDS", 3.0) if delay is None else delay),
        limit=limit or None,
        metadata_prefix=metadata_prefix,
        connect_timeout=timeout if timeout is not None else float(_setting("INGEST_CONNECT_TIMEOUT", 10.0)),
        read_timeout=timeout if timeout is not None else float(_setting("INGEST_READ_TIMEOUT", 60.0)),
        conditional=conditional,
        max_bytes=int(_setting("INGEST_MAX_BYTES", 50 * 1024 * 1024)),
        user_agent=str(_setting("USER_AGENT", "Paperboy")),
    )
    params = {
        key: value
        for key, value in {
            "url": url,
            "file": str(path) if path else None,
            "categories": opts.categories or None,
            "date": iso(date),
            "limit": opts.limit if source in ("arxiv-api", "arxiv-oai") else None,
            "metadata_prefix": metadata_prefix if source == "arxiv-oai" else None,
        }.items()
        if value is not None
    }
    # Created outside the atomic block: it must survive the rollback of a failed run.
    run = run_start(source=source, params=params)
    try:
        collected = COLLECTORS[source](opts)
        with transaction.atomic():
            counts = paper_upsert_many(entries=collected.entries, source=source)
            feed_states_save(collected.fetched)
    except Exception as exc:
        run_failed(run, exc)
        raise
    run_succeeded(run, counts, collected)
    papers_changed(counts, source=source, refresh_trending=refresh_trending)
    return run


def ingest_sample(*, day: dt.date | None = None) -> list[IngestRun]:
    """Ingest the bundled sample RSS feed and Hugging Face listing, dated ``day`` (default: today, UTC).

    Dating them today makes the offline demo look like this morning's announcements.
    """
    day = day or timezone.now().date()
    return [
        ingest_run(source="arxiv-rss", path=SAMPLE_RSS, date=day),
        ingest_run(source="hf-daily", path=SAMPLE_HF, date=day),
    ]


def ingest_live(*, timeout: float) -> list[IngestRun]:
    """Ingest today's arXiv RSS for the configured categories and Hugging Face daily papers.

    Raises ``IngestUnavailable`` within about ``timeout`` seconds when the network is unreachable.
    """
    rss_base = _setting("ARXIV_RSS_URL", DEFAULT_URLS["arxiv-rss"])
    hf_url = _setting("HF_DAILY_URL", DEFAULT_URLS["hf-daily"])
    probe(rss_base, timeout)
    runs = [ingest_run(source="arxiv-rss", timeout=timeout)]
    probe(hf_url, timeout)
    runs.append(ingest_run(source="hf-daily", timeout=timeout))
    return runs
