"""Search over the whole archive: keyword (full-text), semantic (the content encoder) and their blend.

Keyword search runs in the database so it stays fast on the full archive:

* PostgreSQL: ``Paper.search_vector``, a stored ``GeneratedField`` (title
  weighted A, abstract B; the ``paper_search_vector`` migration adds its GIN
  index), matched and ranked through ``django.contrib.postgres.search``
  (``SearchQuery``, ``SearchRank``: ``ts_rank``, 3x cheaper than
  ``ts_rank_cd`` on abstracts, same order in practice). No raw SQL.
* SQLite: an FTS5 external-content table kept in step by triggers, ranked by
  ``bm25`` (title weighted 3x). Django has no API for FTS5, so this part is
  raw SQL; ``Paper.search_vector`` is NULL there.
* Anything else: a ranked ``icontains`` fallback.

``search_index_ensure`` (re)creates the SQLite structures; it is idempotent
and runs in migrations 0003 and ``paper_search_vector`` and after every
``migrate`` (``post_migrate`` in ``recommender/signals.py``), because
Django's SQLite schema editor rebuilds a table to alter it, dropping its
triggers.

Semantic search embeds the archive with the recommender's content encoder
(``ranking.content.ContentEncoder`` through ``ranking.content_index.ContentIndex``):
the served model's own encoder, which the caller passes (``encoder=``: this
layer cannot import serving, so the layers above hand it down), or, before
any model exists, one fitted on the archive with the settings
training gives the model (``catalogue_encoder``; passing it back, or None,
means the archive's own index). So a query, a paper's similar papers and the
recommender (the content-only ranker too) read papers the same way. Each (archive state, encoder) index is
built once per process (at most ``INDEX_CACHE_SIZE`` held), saved as ``.npz``
(no pickle) under ``var/search`` so every web worker loads instead of
re-embedding, and rebuilt when the archive changes.

Semantic results stop at a relevance floor (``SEMANTIC_FLOOR``, ``SEMANTIC_RELATIVE``):
without it every paper sharing any latent dimension with the query had a
positive cosine, so "transformer" returned half the archive. ``search`` blends
the keyword hits and the semantic hits with reciprocal rank fusion, so the
blend holds exactly the papers that match the words, the meaning, or both,
and ``search_hits`` says which for each. This module only returns paper ids;
the caller fetches rows through ``selectors``.
"""

# ruff: noqa: S608 - the FTS5 SQL interpolates only module constants (table names); user text is always a parameter.
from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cachetools import LRUCache
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Max, Q

from ..models import SEARCH_CONFIG, Paper
from ..ranking.artifact import atomic_write_bytes, load_arrays, save_arrays
from ..ranking.content import ContentEncoder
from ..ranking.content_index import ContentIndex, encoder_digest

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
RRF_K = 60  # the constant from Cormack et al. 2009; damps the head of each list
# Semantic relevance floor, measured on the recorded feeds (155 papers) with every title word as a query
# (docs/web.md, "Search relevance"): the cosine of a query to a paper that does not contain its word (or
# its singular / plural) is below 0.10 in 99.5% of pairs, while 93% of the papers that contain it score at
# least 0.10.
SEMANTIC_FLOOR = 0.10
# ... and at least half the best match's cosine: a title query scores ~0.97 with its own paper and at most
# 0.26 with any paper sharing no word with it, so a strong match does not drag in the topic's neighbours.
SEMANTIC_RELATIVE = 0.5
MODES = ("blend", "keyword", "semantic")

FTS_TABLE = "recommender_paper_fts"
# Rank at most this many matches (the newest): ranking reads every matching row's text,
# so a query matching half the archive would otherwise cost hundreds of milliseconds.
RANK_WINDOW = 500


def query_terms(query: str) -> list[str]:
    """Split a user query into at most ``MAX_TERMS`` word tokens (no operators survive)."""
    return re.findall(r"\w+", query[:MAX_QUERY_CHARS].lower())[:MAX_TERMS]


# --- Keyword search ------------------------------------------------------------------


def search_index_ensure(*, using=None) -> None:
    """Create SQLite's FTS5 table and the triggers that keep it in step, if missing (a no-op elsewhere).

    PostgreSQL needs nothing here: its vector is a model field (``Paper.search_vector``).
    """
    conn = using or connection
    if conn.vendor != "sqlite":
        return
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s)",
            [f"{FTS_TABLE}_ai", f"{FTS_TABLE}_ad", f"{FTS_TABLE}_au"],
        )
        if cur.fetchone()[0] == 3:
            return
        cur.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(title, abstract, "
            "content='recommender_paper', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        insert = f"INSERT INTO {FTS_TABLE}(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);"
        delete = (
            f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, abstract) "
            "VALUES ('delete', old.id, old.title, old.abstract);"
        )
        cur.execute(f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON recommender_paper BEGIN {insert} END")
        cur.execute(f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON recommender_paper BEGIN {delete} END")
        cur.execute(
            f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE OF title, abstract ON recommender_paper "
            f"BEGIN {delete} {insert} END"
        )
        # Triggers were missing, so the index may be stale: rebuild it from the table.
        cur.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


_sqlite_ready: set[str] = set()


def _db_key() -> str:
    db = connection.settings_dict
    return hashlib.sha256(
        f"{db.get('ENGINE')}|{db.get('HOST')}|{db.get('PORT')}|{db.get('NAME')}".encode()
    ).hexdigest()[:12]


def _sqlite_fts_ready() -> bool:
    """True when the FTS table and its triggers exist (checked once per process and database).

    The ``post_migrate`` receiver keeps them in place; this is the fallback
    for a database migrated by an older release.
    """
    key = _db_key()
    if key in _sqlite_ready:
        return True
    try:
        search_index_ensure()
    except Exception:  # FTS5 missing from this SQLite build: use the fallback
        logger.exception("could not create the SQLite FTS5 search index")
        return False
    _sqlite_ready.add(key)
    return True


def keyword_search(*, query: str, n: int = 50) -> list[int]:
    """Paper ids matching all query words (or, failing that, any), best first."""
    terms = query_terms(query)
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return _pg_search(terms, n, "&") or _pg_search(terms, n, "|")
    if connection.vendor == "sqlite" and _sqlite_fts_ready():
        return _fts5_search(terms, n, " ") or _fts5_search(terms, n, " OR ")
    return _icontains_search(terms, n)


def _pg_search(terms: list[str], n: int, op: str) -> list[int]:
    # Every term is a \w+ word, so the terms joined by & or | are the whole tsquery (to_tsquery: "raw").
    query = SearchQuery(f" {op} ".join(terms), config=SEARCH_CONFIG, search_type="raw")
    newest = Paper.objects.filter(search_vector=query).order_by("-id").values("id")[:RANK_WINDOW]
    ranked = (
        Paper.objects.filter(id__in=newest)
        .annotate(rank=SearchRank(F("search_vector"), query, normalization=1))
        .order_by("-rank", "-id")
        .values_list("id", flat=True)
    )
    return list(ranked[:n])


def _fts5_search(terms: list[str], n: int, op: str) -> list[int]:
    # Each term is a quoted FTS5 string, so no user text is parsed as syntax.
    match = op.join(f'"{t}"' for t in terms)
    with connection.cursor() as cur:
        # The rowid of the RANK_WINDOW-th newest match bounds the ranked set (a rowid range is cheap in FTS5).
        cur.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s ORDER BY rowid DESC LIMIT 1 OFFSET %s",
            [match, RANK_WINDOW - 1],
        )
        row = cur.fetchone()
        cur.execute(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s AND rowid >= %s "
            f"ORDER BY bm25({FTS_TABLE}, 3.0, 1.0) LIMIT %s",
            [match, row[0] if row else 0, n],
        )
        return [r[0] for r in cur.fetchall()]


def _icontains_search(terms: list[str], n: int) -> list[int]:
    cond = Q()
    for t in terms:
        cond |= Q(title__icontains=t) | Q(abstract__icontains=t)
    rows = Paper.objects.filter(cond).values_list("id", "title", "abstract")[: n * 10]
    scored = []
    for pid, title, abstract in rows:
        title, abstract = title.lower(), abstract.lower()
        scored.append((sum(3 * (t in title) + (t in abstract) for t in terms), pid))
    scored.sort(reverse=True)
    return [pid for _, pid in scored[:n]]


# --- Semantic search -----------------------------------------------------------------

FIT_SAMPLE = 20_000  # papers the catalogue encoder is fitted on, and whose words the index knows
SIGNATURE_TTL = 30.0  # seconds between checks that the archive changed
CHUNK = 5_000
INDEX_VERSION = 3  # part of the archive signature: a change of the index's recipe rebuilds every cached one
INDEX_CACHE_SIZE = 2  # indexes per process: the served model's encoder's, and the catalogue's
SAVE_MIN_PAPERS = 1000  # smaller archives embed faster than they load: not saved
# The catalogue encoder (before any model exists) reads papers as training's model will: HybridRecommender's
# content settings with training's min_df (tests/papers/test_semantic_index.py keeps them equal).
CATALOGUE_ENCODER = {
    "n_features": 2**18,
    "ngram_range": (1, 2),
    "char_ngrams": "auto",
    "min_df": 1,
    "n_components": 128,
    "random_state": 0,
}


def index_text(title: str, abstract: str) -> str:
    """What the index embeds of a paper: the title twice (it says what the paper is about), then the abstract."""
    return f"{title} {title} {abstract}"


def _archive_texts() -> tuple[list[int], list[str]]:
    """Every paper's id and index text, newest first (so equal similarities favour the newer paper)."""
    ids: list[int] = []
    texts: list[str] = []
    for pid, title, abstract in Paper.objects.order_by("-id").values_list("id", "title", "abstract").iterator(CHUNK):
        ids.append(pid)
        texts.append(index_text(title, abstract))
    return ids, texts


def semantic_build(*, encoder: ContentEncoder | None = None) -> ContentIndex:
    """Embed the archive with ``encoder`` (the served model's), or with one fitted on (a sample of) it."""
    started = time.monotonic()
    ids, texts = _archive_texts()
    if not ids:
        return ContentIndex.empty()
    sample = np.random.default_rng(0).choice(len(ids), size=min(FIT_SAMPLE, len(ids)), replace=False)
    sample_texts = [texts[i] for i in np.sort(sample)]
    if encoder is None:
        try:
            encoder = ContentEncoder(**CATALOGUE_ENCODER).fit(sample_texts)
        except ValueError:  # not one word to fit on
            return ContentIndex.empty()
    index = ContentIndex.build(encoder, ids, texts, vocabulary_texts=sample_texts)
    logger.info("semantic index: %d papers in %.1fs", len(ids), time.monotonic() - started)
    return index


def _archive_signature() -> str:
    # Two index look-ups. A deleted paper does not change it: results skip ids that no longer exist.
    agg = Paper.objects.aggregate(max_id=Max("id"), changed=Max("modified_at"))
    changed = agg["changed"].timestamp() if agg["changed"] else 0
    return f"v{INDEX_VERSION}-{_db_key()}-{agg['max_id']}-{changed}"


def _cache_dir() -> Path:
    return Path(settings.VAR_DIR) / "search"


def _cache_path(name: str) -> Path:
    return _cache_dir() / f"semantic-{hashlib.sha256(name.encode()).hexdigest()[:20]}.npz"


def _load(path: Path, encoder: ContentEncoder | None) -> ContentIndex | None:
    if not path.exists():
        return None
    try:
        return ContentIndex.from_arrays(load_arrays(path.read_bytes()), encoder)
    except (OSError, ValueError, KeyError):
        logger.warning("ignoring unreadable search cache %s", path)
        return None


def _save(path: Path, index: ContentIndex, *, with_encoder: bool) -> None:
    # atomic (temporary file + os.replace): other workers never read half a file
    atomic_write_bytes(path, save_arrays(index.to_arrays(with_encoder=with_encoder)))
    # Files are content-addressed by archive and encoder; prune the ones nobody wrote for an hour.
    for old in path.parent.glob("semantic-*.npz"):
        if old != path and time.time() - old.stat().st_mtime > 3600:
            old.unlink(missing_ok=True)


def _index_for(encoder: ContentEncoder | None, signature: str) -> ContentIndex:
    """The index of this archive state and encoder: from disk (another worker built it) or built now."""
    path = _cache_path(f"{signature}-{'catalogue' if encoder is None else encoder_digest(encoder)}")
    index = _load(path, encoder)
    if index is None:
        index = semantic_build(encoder=encoder)
        if len(index.ids) >= SAVE_MIN_PAPERS:
            _save(path, index, with_encoder=encoder is None)
    if encoder is None and index.encoder is not None:
        _catalogue_encoders.add(index.encoder)
    return index


@dataclass(eq=False)
class _Cached:
    encoder: ContentEncoder | None  # what the caller passed (None: the catalogue's own)
    index: ContentIndex
    signature: str
    checked_at: float


_indexes: LRUCache = LRUCache(maxsize=INDEX_CACHE_SIZE)  # id(encoder) -> _Cached
# The encoders fitted on the archive for its own index: one handed back (serving reads papers with it before
# any model exists) means that index, not a second embedding of the archive under its digest.
_catalogue_encoders: weakref.WeakSet = weakref.WeakSet()
_lock = threading.Lock()


def semantic_index(encoder: ContentEncoder | None = None) -> ContentIndex:
    """The archive embedded by ``encoder`` (the served model's, from the caller) or, without one (or with
    ``catalogue_encoder()``'s), by an encoder fitted on the archive; per process, rebuilt (or loaded from disk)
    when the archive changed."""
    with _lock:
        if encoder is not None and encoder in _catalogue_encoders:
            encoder = None
        entry = _indexes.get(id(encoder))
        if entry is not None and entry.encoder is not encoder:  # an id reused by another object
            entry = None
        if entry is not None and time.monotonic() - entry.checked_at < SIGNATURE_TTL:
            return entry.index
        signature = _archive_signature()
        if entry is None or entry.signature != signature:
            entry = _Cached(encoder, _index_for(encoder, signature), signature, 0.0)
            _indexes[id(encoder)] = entry
        entry.checked_at = time.monotonic()
        return entry.index


def catalogue_encoder() -> ContentEncoder | None:
    """The encoder fitted on the archive, which reads papers before any model exists; None for an archive
    without a word to fit on.

    It is the archive index's own (``semantic_index()``): fitted once per archive state and process, or
    loaded with the index another worker saved, never per call.
    """
    return semantic_index().encoder


def semantic_index_reset() -> None:
    """Forget the in-process indexes (tests, or after bulk loads)."""
    with _lock:
        _indexes.clear()
        _catalogue_encoders.clear()


def semantic_search(*, query: str, n: int = 50, encoder: ContentEncoder | None = None) -> list[int]:
    """Papers at or above the relevance floor, most similar to ``query`` first (none for unknown words)."""
    if not query_terms(query):
        return []
    return semantic_index(encoder).search(query, n, floor=SEMANTIC_FLOOR, relative=SEMANTIC_RELATIVE)


def similar_by_content(
    *, paper_id: int, n: int = 5, exclude_ids: Iterable[int] = (), encoder: ContentEncoder | None = None
) -> list[int]:
    """The ``n`` papers closest in content to ``paper_id``, never it nor ``exclude_ids`` (full while the archive
    lasts); [] for an unknown paper."""
    paper = Paper.objects.filter(pk=paper_id).values_list("title", "abstract").first()
    if paper is None:
        return []
    return semantic_index(encoder).similar(paper_id, n, exclude=exclude_ids, text=index_text(*paper))


# --- Blend ---------------------------------------------------------------------------


def rrf(rankings: list[list[int]], *, k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the lists, best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda pid: (-scores[pid], -pid))


@dataclass(frozen=True)
class Hit:
    """One search result and what it matched: the query's words (keyword index), its meaning (semantic), or both."""

    paper_id: int
    words: bool
    meaning: bool

    @property
    def label(self) -> str:
        return " · ".join(name for name, on in (("matched words", self.words), ("similar meaning", self.meaning)) if on)


def search_hits(*, query: str, mode: str = "blend", n: int = 100, encoder: ContentEncoder | None = None) -> list[Hit]:
    """Results for ``query`` best first, each saying what it matched.

    Keyword and semantic mode rank by their own index; the blend fuses both
    lists (reciprocal rank fusion), so it holds exactly the papers that match
    the words or the meaning. Both lists are computed in every mode so that
    each result can say whether it matched the other way too. ``encoder`` is the one serving reads papers
    with (``serving.content_encoder()``: the served model's, else ``catalogue_encoder()``); None is the latter.
    """
    words = keyword_search(query=query, n=n)
    meaning = semantic_search(query=query, n=n, encoder=encoder)
    ranked = {"keyword": words, "semantic": meaning}.get(mode) or rrf([words, meaning])[:n]
    in_words, in_meaning = set(words), set(meaning)
    return [Hit(pid, pid in in_words, pid in in_meaning) for pid in ranked]


def search(*, query: str, mode: str = "blend", n: int = 100, encoder: ContentEncoder | None = None) -> list[int]:
    """Paper ids for ``query`` best first: keyword, semantic, or both fused."""
    if mode == "keyword":
        return keyword_search(query=query, n=n)
    if mode == "semantic":
        return semantic_search(query=query, n=n, encoder=encoder)
    return [hit.paper_id for hit in search_hits(query=query, mode=mode, n=n, encoder=encoder)]
