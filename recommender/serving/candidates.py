"""Which papers are candidates, what serving needs to know about them, and their cached model work.

``load_candidates`` reads the candidate papers' trending scores once per request and their text
(for the model, categories and lower-cased text for the readers' rules) once per version of them.
``prepared_for`` returns the model's ``PreparedCandidates`` for a candidate set (tf-idf, neighbour
graph, factors, MMR similarities), computed once per set and kept in a size-bounded LRU: a
morning's digest batches and every For you page rank the same recent papers, and that work costs
more than ranking a batch of readers. The key is the model version plus the candidate columns and
texts themselves, so an entry can never serve another candidate set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache
from django.utils import timezone

from ..models import Paper
from ..ranking import PreparedCandidates
from ..training.dataset import paper_text
from .active import ActiveModel, on_change

CANDIDATE_DAYS = 7
MAX_CANDIDATES = 2000
CANDIDATE_MEMO_SIZE = 8
# A candidate set's dense similarity block can reach ~120 MB (3e7 float32 cells): bound the memo by bytes too.
CANDIDATE_MEMO_BYTES = 256 * 2**20
WORD_INDEXES = 4
FIELD_SETS = 4  # candidate sets whose papers' text is kept (For you's window, the digest's, a topic preview's)


def candidate_ids_default(*, now: dt.datetime | None = None) -> list[int]:
    """Papers of the last ``CANDIDATE_DAYS`` days of announcements (newest first)."""
    now = now or timezone.now()
    since = (now - dt.timedelta(days=CANDIDATE_DAYS)).date()
    ids = list(
        Paper.objects.filter(announced_on__gte=since)
        .order_by("-announced_on", "-trending_score")
        .values_list("id", flat=True)[:MAX_CANDIDATES]
    )
    if not ids:  # nothing announced recently (e.g. a fresh install): use what is trending
        ids = list(Paper.objects.order_by("-trending_score", "-id").values_list("id", flat=True)[:MAX_CANDIDATES])
    return ids


@dataclass
class Candidates:
    """The candidate papers of one request, in ranking order (one position per paper)."""

    ids: np.ndarray
    texts: list[str]
    titles: dict[int, str]
    primary: list[str]
    categories: list[set[str]]
    haystacks: list[str]  # lower-cased title + abstract, for keyword rules
    authors: list[str]  # lower-cased "; "-joined authors, for author rules
    trending: np.ndarray


@dataclass(frozen=True)
class _Fields:
    """What a candidate set's papers say (texts, titles, categories, authors): read once per version of them."""

    texts: list[str]
    titles: dict[int, str]
    primary: list[str]
    categories: list[set[str]]
    haystacks: list[str]
    authors: list[str]


_fields: LRUCache = LRUCache(maxsize=FIELD_SETS)


def load_candidates(ids: list[int]) -> Candidates:
    """The papers ``ids`` (duplicates and missing ids dropped) with what ranking and rules read.

    Every request reads the candidates' trending scores and modification times (three small columns); their
    text and fields are read again only when a paper of the set changed since (an ingest merge stamps
    ``modified_at``): reading and lower-casing 2,000 abstracts was a third of a For you page's CPU at 100k
    papers. The field objects are shared read-only between requests, as the model's prepared work is.
    """
    rows = {
        pk: (score, modified)
        for pk, score, modified in Paper.objects.filter(pk__in=ids).values_list("id", "trending_score", "modified_at")
    }
    # One position per paper: a repeated id would otherwise be ranked (and shown) twice.
    ordered = [i for i in dict.fromkeys(int(i) for i in ids) if i in rows]
    key = (tuple(ordered), max((rows[i][1] for i in ordered), default=None))
    with _lock:
        fields = _fields.get(key)
    if fields is None:
        fields, ordered = _read_fields(ordered)
        with _lock:
            if key[0] == tuple(ordered):  # not when a paper was deleted between the two reads
                _fields[key] = fields
    return Candidates(
        ids=np.array(ordered, dtype=np.int64),
        texts=fields.texts,
        titles=fields.titles,
        primary=fields.primary,
        categories=fields.categories,
        haystacks=fields.haystacks,
        authors=fields.authors,
        trending=np.log1p(np.array([max(rows[i][0], 0.0) for i in ordered], dtype=np.float32)),
    )


def _read_fields(ordered: list[int]) -> tuple[_Fields, list[int]]:
    """The text and fields of ``ordered`` (one query), and ``ordered`` without any paper gone meanwhile."""
    rows = {
        r[0]: r
        for r in Paper.objects.filter(pk__in=ordered).values_list(
            "id", "title", "abstract", "authors", "primary_category", "categories"
        )
    }
    ordered = [i for i in ordered if i in rows]
    data = [rows[i] for i in ordered]
    fields = _Fields(
        texts=[paper_text(r[1], r[2]) for r in data],
        titles={r[0]: r[1] for r in data},
        primary=[r[4] or (r[5].split() or [""])[0] for r in data],
        categories=[set(r[5].split()) | ({r[4]} if r[4] else set()) for r in data],
        haystacks=[f"{r[1]} {r[2]}".lower() for r in data],
        authors=["; ".join(r[3] or []).lower() for r in data],
    )
    return fields, ordered


# --- the model's work per candidate set ------------------------------------------------

_lock = threading.Lock()
# key -> (prepared, {(column, text): position}); the positions let a new set reuse an old set's candidates
_prepared: LRUCache = LRUCache(
    maxsize=CANDIDATE_MEMO_BYTES,
    # at least 1/CANDIDATE_MEMO_SIZE of the budget each: never more than CANDIDATE_MEMO_SIZE entries
    getsizeof=lambda entry: max(entry[0].nbytes, CANDIDATE_MEMO_BYTES // CANDIDATE_MEMO_SIZE),
)


def model_columns(served: ActiveModel, paper_ids: np.ndarray) -> np.ndarray:
    """Model column of each paper; papers new since training get fresh columns after the known ones."""
    cols = np.empty(len(paper_ids), dtype=np.int64)
    fresh = served.model.n_items_
    for j, pid in enumerate(paper_ids.tolist()):
        known = served.col.get(pid)
        if known is None:
            known, fresh = fresh, fresh + 1
        cols[j] = known
    return cols


def prepared_for(served: ActiveModel, cand_cols: np.ndarray, texts: list[str], *, diversity: float):
    """The served model's ``PreparedCandidates`` for these columns and texts (cached).

    A set seen before is returned as it is. A new set (the day's new papers arrived, trending
    reordered the window, the digest's set instead of For you's) reuses every candidate of the
    most overlapping cached set whose column and text match, and prepares only the others: at
    100k papers preparing 2,000 candidates from scratch costs seconds, a handful of new ones
    milliseconds. Each candidate's work does not depend on the others, so the result is the one
    a fresh preparation gives.
    """
    key = (served.version_id, float(diversity), cand_cols.tobytes(), tuple(texts))
    with _lock:
        hit = _prepared.get(key)
        entries = [(k, v) for k, v in _prepared.items() if k[0] == served.version_id]
    if hit is not None and hit[0].model is served.model:
        return hit[0]
    prepared = _assemble(served, cand_cols, texts, entries)
    if diversity > 0:
        prepared = prepared.with_similarity()
    where = {(int(c), t): j for j, (c, t) in enumerate(zip(cand_cols.tolist(), texts, strict=True))}
    with _lock, contextlib.suppress(ValueError):  # larger than the whole budget: used once, not kept
        _prepared[key] = (prepared, where)
    return prepared


def _assemble(served: ActiveModel, cand_cols: np.ndarray, texts: list[str], entries) -> PreparedCandidates:
    """Prepare ``cand_cols`` from the best-overlapping cached set plus fresh work for the rest."""
    model = served.model
    wanted = list(zip(cand_cols.tolist(), texts, strict=True))
    found: list[int | None] = [None] * len(wanted)
    best = None
    for prepared, where in (value for _, value in entries if value[0].model is model):
        hits = [where.get(w) for w in wanted]
        if sum(h is not None for h in hits) > sum(h is not None for h in found):
            best, found = prepared, hits
    reused = [i for i, h in enumerate(found) if h is not None]
    missing = [i for i, h in enumerate(found) if h is None]
    # every piece keeps its dense cosines whenever the blend uses the centroid, so pieces join exactly
    centroid = bool(model.blend_[:, 1].any())
    if not reused:
        return model.prepare_candidates(cand_cols, candidate_content=texts, centroid=centroid)
    parts = [best.take(np.array([found[i] for i in reused], dtype=np.int64))]
    order = np.empty(len(wanted), dtype=np.int64)
    order[reused] = np.arange(len(reused))
    if missing:
        parts.append(
            model.prepare_candidates(
                cand_cols[missing], candidate_content=[texts[i] for i in missing], centroid=centroid
            )
        )
        order[missing] = len(reused) + np.arange(len(missing))
    whole = parts[0] if len(parts) == 1 else PreparedCandidates.concat(parts)
    return whole.take(order)


def cached_sets() -> int:
    """How many candidate sets' work is held (for tests and the admin's health figures)."""
    with _lock:
        return len(_prepared)


def forget() -> None:
    """Drop every cached candidate set and word index."""
    with _lock:
        _prepared.clear()
        _word_indexes.clear()
        _fields.clear()


on_change(forget)


# --- readers' keyword and author rules -----------------------------------------------

_WORD = re.compile(r"\w+")
_word_indexes: LRUCache = LRUCache(maxsize=WORD_INDEXES)


def _word_index(texts: list[str]) -> dict[str, list[int]]:
    """Word -> positions of the texts containing it; built once per candidate list (a few kept)."""
    with _lock:
        entry = _word_indexes.get(id(texts))
    if entry is not None and entry[0] is texts:
        return entry[1]
    index: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        for word in set(_WORD.findall(text)):
            index[word].append(i)
    with _lock:
        _word_indexes[id(texts)] = (texts, index)
    return index


def matches(terms: list[str], texts: list[str]) -> np.ndarray:
    """Boolean per text: any of ``terms`` occurs as a whole word/phrase."""
    terms = [t.strip().lower() for t in terms if t and t.strip()]
    found = np.zeros(len(texts), dtype=bool)
    if not terms:
        return found
    # ``\bterm\b`` for a term made of word characters matches exactly a whole word of the text, so
    # single words are looked up in an inverted index instead of scanning every abstract per subscriber.
    words = [t for t in terms if _WORD.fullmatch(t)]
    if words:
        index = _word_index(texts)
        for word in words:
            found[index.get(word, [])] = True
    phrases = [t for t in terms if not _WORD.fullmatch(t)]
    if phrases:
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(t) for t in phrases) + r")\b")
        found |= np.array([bool(pattern.search(t)) for t in texts], dtype=bool)
    return found


def matching_term(terms: list[str], text: str) -> str | None:
    """The first of ``terms`` that ``text`` (lower-cased) contains as a whole word/phrase, as ``matches`` reads it."""
    for term in terms or ():
        needle = (term or "").strip().lower()
        if needle and re.search(rf"\b{re.escape(needle)}\b", text):
            return term.strip()
    return None
