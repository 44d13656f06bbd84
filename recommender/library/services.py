"""The write side of library import: parse, match, save, and queue the ids the catalogue lacks.

One import is all-or-nothing: the file is parsed and matched whole before
anything is written, then every save is written in one transaction, and the
fetch of missing ids is queued after commit. Imported papers become ``save``
interactions with source ``import``: the strongest positive kind
(``ranking.weights``), folded into the user's ranking on the next call of
``recommend_for_users`` (For you, the digest) without retraining. Importing
the same file again writes nothing (the saves exist; duplicates are counted).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max

from ..models import Interaction, InteractionKind, InteractionSource, Paper, Topic
from . import matching, parsers

logger = logging.getLogger(__name__)

FETCH_BATCH = 100  # ids per export-API request (id_list), one request per batch, politeness delay between

_catalogue_lock = threading.Lock()
_catalogue_cache: dict[str, object] = {}


def _setting(name: str, default):
    return settings.PAPERBOY.get(name, default)


def limits() -> dict[str, int]:
    return {
        "max_bytes": int(_setting("LIBRARY_MAX_BYTES", 5 * 1024 * 1024)),
        "max_entries": int(_setting("LIBRARY_MAX_ENTRIES", 10_000)),
    }


@dataclass
class ImportReport:
    """What one import did, for the result page and the command."""

    format: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    saved: int = 0  # new saves written now
    already_saved: int = 0
    queued: list[str] = field(default_factory=list)
    not_found: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "counts": self.counts,
            "saved": self.saved,
            "already_saved": self.already_saved,
            "queued": self.queued,
            "not_found": [list(x) for x in self.not_found],
            "duplicates": [list(x) for x in self.duplicates],
            "note": self.note,
        }

    def lines(self) -> list[str]:
        """The report as text lines (the command prints these)."""
        c = self.counts
        out = [
            f"format: {self.format}",
            f"entries read: {c.get('entries', 0)}",
            f"matched by id: {c.get('matched_by_id', 0)}",
            f"matched by title: {c.get('matched_by_title', 0)}",
            f"fetched (queued from arXiv): {c.get('fetched', 0)}",
            f"not found: {c.get('not_found', 0)}",
            f"duplicates: {c.get('duplicates', 0)}",
            f"saved now: {self.saved} (already in your library: {self.already_saved})",
        ]
        out += [f"  not found: {ref}: {reason}" for ref, reason in self.not_found]
        out += [f"  duplicate: {ref}: {reason}" for ref, reason in self.duplicates]
        if self.note:
            out.append(f"note: {self.note}")
        return out


# --- the catalogue ------------------------------------------------------------------------------


def catalogue_load() -> matching.Catalogue:
    """Every paper as a matching catalogue, rebuilt only when papers were added or changed.

    Kept per process, keyed by (count, latest ``modified_at``): one aggregate
    query per import when nothing changed.
    """
    stamp_row = Paper.objects.aggregate(n=Count("id"), latest=Max("modified_at"))
    stamp = (stamp_row["n"], stamp_row["latest"])
    with _catalogue_lock:
        if _catalogue_cache.get("stamp") == stamp:
            return _catalogue_cache["catalogue"]  # type: ignore[return-value]
    rows = Paper.objects.order_by().values_list("id", "arxiv_id", "title", "authors", "submitted_at")
    catalogue = matching.Catalogue(
        matching.CatalogueItem(
            pk=pk,
            arxiv_id=arxiv_id,
            title=title,
            authors=tuple(a for a in (authors or []) if isinstance(a, str)),
            year=submitted.year if submitted else None,
        )
        for pk, arxiv_id, title, authors, submitted in rows.iterator(chunk_size=5000)
    )
    with _catalogue_lock:
        _catalogue_cache.update(stamp=stamp, catalogue=catalogue)
    return catalogue


# --- saving -----------------------------------------------------------------------------------


def saves_record(*, user, paper_ids: list[int], topic: Topic | None = None) -> tuple[int, int]:
    """Save ``paper_ids`` for ``user`` (source import) in bulk; ``(new, already saved)``.

    Like ``interactions.services.interaction_record`` for a save, a save
    replaces a "not interested" on the same paper, and a save cast again
    under a topic moves to that topic (without one, it stays where it was).
    ``topic`` None saves account-wide: the papers count for every topic.
    """
    wanted = list(dict.fromkeys(paper_ids))
    if not wanted:
        return 0, 0
    with transaction.atomic():
        saves = Interaction.objects.filter(user=user, kind=InteractionKind.SAVE, paper_id__in=wanted)
        existing = set(saves.values_list("paper_id", flat=True))
        if topic is not None:
            saves.exclude(topic=topic).update(topic=topic)
        fresh = [pid for pid in wanted if pid not in existing]
        Interaction.objects.filter(user=user, kind=InteractionKind.NOT_INTERESTED, paper_id__in=fresh).delete()
        Interaction.objects.bulk_create(
            [
                Interaction(
                    user=user, paper_id=pid, kind=InteractionKind.SAVE, source=InteractionSource.IMPORT, topic=topic
                )
                for pid in fresh
            ],
            batch_size=500,
            ignore_conflicts=True,
        )
    return len(fresh), len(existing)


def _queue_fetch(*, user_id: int, arxiv_ids: list[str], topic: Topic | None = None) -> None:
    from .tasks import library_fetch  # here: tasks imports this module

    topic_id = topic.pk if topic is not None else None
    for start in range(0, len(arxiv_ids), FETCH_BATCH):
        batch = arxiv_ids[start : start + FETCH_BATCH]
        transaction.on_commit(lambda b=batch: library_fetch.delay(user_id, b, topic_id))


def _report(kind: str, result: matching.MatchResult) -> ImportReport:
    return ImportReport(
        format=kind,
        counts=result.counts(),
        queued=result.to_fetch,
        not_found=[(o.ref, o.reason) for o in result.of("not_found")],
        duplicates=[(o.ref, o.reason) for o in result.of("duplicate")],
    )


def library_import(
    *, user, data: bytes, filename: str = "", kind: str = "", topic: Topic | None = None, fetch: bool = True
) -> ImportReport:
    """Import one library file for ``user``; raise ``parsers.LibraryError`` (nothing written) if it is unusable.

    ``topic`` (one of the user's): the saves count for that topic only; None: for every topic.
    ``fetch=False`` leaves ``report.queued`` to the caller (the command's ``--wait``) instead of the worker.
    """
    kind, entries = parsers.parse(data, filename=filename, kind=kind, **limits())
    result = matching.match(catalogue_load(), entries)
    report = _report(kind, result)
    with transaction.atomic():
        report.saved, report.already_saved = saves_record(user=user, paper_ids=result.matched_pks, topic=topic)
        if fetch:
            _queue_fetch(user_id=user.pk, arxiv_ids=report.queued, topic=topic)
    if topic is not None:
        report.note = f"saved under your topic “{topic.name}”"
    logger.info("library import for user %s: %s", user.pk, report.counts)
    return report


def ids_import(*, user, arxiv_ids: list[str], fetch: bool = True) -> ImportReport:
    """Save the papers ``arxiv_ids`` (e.g. confirmed "my own papers"); missing ones are fetched, then saved.

    ``fetch=False`` leaves ``report.queued`` to the caller, as in ``library_import``.
    """
    entries = [parsers.LibraryEntry(ref=f"arXiv:{i}", arxiv_id=i) for i in arxiv_ids]
    result = matching.match(catalogue_load(), entries)
    report = _report("ids", result)
    with transaction.atomic():
        report.saved, report.already_saved = saves_record(user=user, paper_ids=result.matched_pks)
        if fetch:
            _queue_fetch(user_id=user.pk, arxiv_ids=report.queued)
    return report
