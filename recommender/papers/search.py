"""Search over the whole archive: keyword (full-text), semantic (LSA) and their blend.

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

Semantic search is an LSA index (hashed unigrams, sublinear tf-idf, truncated
SVD, cosine similarity) over titles and abstracts, built per process, cached
on disk as ``.npz`` (no pickle) so every web worker loads instead of refitting,
and rebuilt when the archive changes. It sits behind ``SemanticIndex`` so it
can later switch to the recommender's own content encoder.

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
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Max, Q

from ..models import SEARCH_CONFIG, Paper

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_TERMS = 12
RRF_K = 60  # the constant from Cormack et al. 2009; damps the head of each list
# Semantic relevance floor, measured on the recorded feeds (155 papers) with every title word as a query
# (docs/web.md, "Search relevance"): the cosine of a query to a paper that does not contain its word is
# below 0.15 in 99.3% of pairs, while 88% of the papers that contain the word score at least 0.15.
SEMANTIC_FLOOR = 0.15
# ... and at least half the best match's cosine: a title query scores ~0.94 with its own paper and at most
# 0.43 with any paper sharing no word with it, so a strong match does not drag in the topic's neighbours.
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


class SemanticIndex(Protocol):
    """What the web app needs from an embedding index (LSA today, the recommender's encoder later)."""

    def search(self, query: str, n: int) -> list[int]: ...

    def similar(self, paper_id: int, n: int) -> list[int]: ...


N_FEATURES = 2**18
N_COMPONENTS = 128
FIT_SAMPLE = 20_000
SIGNATURE_TTL = 30.0  # seconds between checks that the archive changed
CHUNK = 5_000
WORD_PATTERN = r"(?u)\b\w\w+\b"


INDEX_VERSION = 2  # part of the archive signature: a change of tokenisation rebuilds every cached index
_WORD_RE = re.compile(WORD_PATTERN)


def _singular(word: str) -> str:
    """Fold an English plural onto its singular ("transformers" -> "transformer", "studies" -> "study").

    The keyword index stems (Porter, FTS5 / PostgreSQL); without this the
    semantic index knew "transformer" and "transformers" as unrelated words.
    """
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def lsa_tokens(text: str) -> list[str]:
    """Lower-cased words of two or more characters, English stop words dropped, plurals folded."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [_singular(w) for w in _WORD_RE.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def word_fingerprint(word: str) -> int:
    """A 64-bit hash of a word, independent of the hashing trick's columns (collisions: ~n²/2⁶⁴)."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big", signed=True)


def _known(vocabulary: np.ndarray, word: str) -> bool:
    at = int(np.searchsorted(vocabulary, word_fingerprint(word)))
    return at < len(vocabulary) and int(vocabulary[at]) == word_fingerprint(word)


def _vocabulary(texts) -> np.ndarray:
    words = {w for text in texts for w in lsa_tokens(text)}
    return np.unique(np.fromiter((word_fingerprint(w) for w in words), dtype=np.int64, count=len(words)))


def _hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=N_FEATURES, alternate_sign=False, norm=None, tokenizer=lsa_tokens, token_pattern=None
    )


@dataclass
class LsaIndex:
    """Unit-length LSA vectors for every paper, and the projection to embed new text."""

    ids: np.ndarray  # int64 paper ids, row order of ``vectors``
    vectors: np.ndarray  # float32 (n_papers, k), L2-normalised
    cols: np.ndarray  # int64 hash columns seen while fitting
    idf: np.ndarray  # float32 idf of those columns
    components: np.ndarray  # float32 (k, len(cols))
    signature: str
    vocabulary: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # sorted word fingerprints
    _col_pos: np.ndarray | None = field(default=None, repr=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        return _project(_hasher().transform(texts), self.cols, self.idf, self.components)

    def embed_query(self, text: str) -> np.ndarray:
        """One text, without slicing the whole hash space (the common, latency-bound case)."""
        if self._col_pos is None:
            pos = np.full(N_FEATURES, -1, dtype=np.int64)
            pos[self.cols] = np.arange(len(self.cols))
            self._col_pos = pos
        # Only words the index was fitted on: a made-up word would otherwise take the column of a
        # real word it collides with in the hash space (a few percent of them on a small archive).
        known = [t for t in lsa_tokens(text) if _known(self.vocabulary, t)]
        counts = _hasher().transform([" ".join(known)])
        where = self._col_pos[counts.indices]
        keep = where >= 0
        where, tf = where[keep], counts.data[keep].astype(np.float32)
        if not len(where):
            return np.zeros(self.vectors.shape[1], dtype=np.float32)
        w = (1.0 + np.log(tf)) * self.idf[where]
        v = self.components[:, where] @ (w / np.linalg.norm(w))
        norm = np.linalg.norm(v)
        return (v / norm if norm else v).astype(np.float32)

    def search(self, query: str, n: int) -> list[int]:
        """The papers at or above the relevance floor, most similar first (none for an unknown vocabulary)."""
        if not len(self.ids) or not query_terms(query):
            return []
        q = self.embed_query(query)
        if not q.any():
            return []
        scores = self.vectors @ q
        floor = max(SEMANTIC_FLOOR, SEMANTIC_RELATIVE * float(scores.max()))
        scores[scores < floor] = -np.inf
        return self._top(scores, n, exclude=None)

    def scores(self, query: str) -> dict[int, float]:
        """``{paper id: cosine}`` of ``query`` with every paper (tests and diagnostics)."""
        q = self.embed_query(query)
        return dict(zip(self.ids.tolist(), (self.vectors @ q).tolist(), strict=True))

    def similar(self, paper_id: int, n: int) -> list[int]:
        rows = np.flatnonzero(self.ids == paper_id)
        if not len(rows):
            return []
        return self._top(self.vectors @ self.vectors[rows[0]], n, exclude=rows[0])

    def _top(self, scores: np.ndarray, n: int, exclude) -> list[int]:
        if exclude is not None:
            scores[exclude] = -np.inf
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [int(self.ids[i]) for i in top if scores[i] > 0]


def _project(counts, cols: np.ndarray, idf: np.ndarray, components: np.ndarray) -> np.ndarray:
    x = counts[:, cols].astype(np.float32)
    x.data = 1.0 + np.log(x.data)  # sublinear tf
    x = x.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    v = np.asarray(x @ components.T, dtype=np.float32) / norms[:, None]
    vn = np.linalg.norm(v, axis=1)
    vn[vn == 0] = 1.0
    return (v / vn[:, None]).astype(np.float32)


def lsa_build(*, signature: str = "") -> LsaIndex:
    """Fit LSA on (a sample of) the archive and embed every paper."""
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD

    started = time.monotonic()
    ids: list[int] = []
    texts: list[str] = []
    for pid, title, abstract in Paper.objects.order_by("id").values_list("id", "title", "abstract").iterator(CHUNK):
        ids.append(pid)
        texts.append(f"{title} {title} {abstract}")  # the title twice: it says what the paper is about
    hasher = _hasher()
    if not ids:
        empty = np.zeros((0, 1), dtype=np.float32)
        return LsaIndex(np.zeros(0, np.int64), empty, np.zeros(1, np.int64), np.ones(1, np.float32), empty.T, signature)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(ids), size=min(FIT_SAMPLE, len(ids)), replace=False)
    fit_texts = [texts[i] for i in sample]
    counts = hasher.transform(fit_texts).tocsc()
    df = np.diff(counts.indptr)
    cols = np.flatnonzero(df).astype(np.int64)
    idf = (np.log((1 + len(sample)) / (1 + df[cols])) + 1.0).astype(np.float32)
    x = counts[:, cols].astype(np.float32).tocsr()
    x.data = 1.0 + np.log(x.data)
    x = sparse.csr_matrix(x.multiply(idf[None, :]))
    k = max(1, min(N_COMPONENTS, x.shape[0] - 1, x.shape[1] - 1))
    if x.shape[0] > 1 and x.shape[1] > 1:
        components = TruncatedSVD(n_components=k, random_state=0).fit(x).components_.astype(np.float32)
    else:
        components = np.ones((1, len(cols)), dtype=np.float32)
    vectors = np.vstack(
        [_project(hasher.transform(texts[i : i + CHUNK]), cols, idf, components) for i in range(0, len(texts), CHUNK)]
    )
    logger.info("LSA index: %d papers, %d dims in %.1fs", len(ids), k, time.monotonic() - started)
    vocabulary = _vocabulary(fit_texts)
    return LsaIndex(np.asarray(ids, np.int64), vectors, cols, idf, components, signature, vocabulary)


def _archive_signature() -> str:
    # Two index look-ups. A deleted paper does not change it: results skip ids that no longer exist.
    agg = Paper.objects.aggregate(max_id=Max("id"), changed=Max("modified_at"))
    changed = agg["changed"].timestamp() if agg["changed"] else 0
    return f"v{INDEX_VERSION}-{_db_key()}-{agg['max_id']}-{changed}"


def _cache_dir() -> Path:
    return Path(settings.VAR_DIR) / "search"


def _cache_path(signature: str) -> Path:
    return _cache_dir() / f"lsa-{hashlib.sha256(signature.encode()).hexdigest()[:20]}.npz"


def _load(signature: str) -> LsaIndex | None:
    path = _cache_path(signature)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            return LsaIndex(f["ids"], f["vectors"], f["cols"], f["idf"], f["components"], signature, f["vocabulary"])
    except (OSError, ValueError, KeyError):
        logger.warning("ignoring unreadable search cache %s", path)
        return None


def _save(index: LsaIndex) -> None:
    path = _cache_path(index.signature)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        ids=index.ids,
        vectors=index.vectors,
        cols=index.cols,
        idf=index.idf,
        components=index.components,
        vocabulary=index.vocabulary,
    )
    os.replace(tmp, path)  # atomic: other workers never read half a file
    # Files are content-addressed by signature; prune the ones nobody used for an hour.
    for old in path.parent.glob("lsa-*.npz"):
        if old != path and time.time() - old.stat().st_mtime > 3600:
            old.unlink(missing_ok=True)


_index: LsaIndex | None = None
_checked_at = 0.0
_lock = threading.Lock()


def semantic_index() -> SemanticIndex:
    """The process's semantic index, rebuilt (or loaded from disk) when the archive changed."""
    global _index, _checked_at
    now = time.monotonic()
    if _index is not None and now - _checked_at < SIGNATURE_TTL:
        return _index
    with _lock:
        signature = _archive_signature()
        _checked_at = time.monotonic()
        if _index is None or _index.signature != signature:
            _index = _load(signature)
            if _index is None:
                _index = lsa_build(signature=signature)
                if len(_index.ids) > 1000:  # small archives refit faster than they load
                    _save(_index)
        return _index


def semantic_index_reset() -> None:
    """Forget the in-process index (tests, or after bulk loads)."""
    global _index, _checked_at
    with _lock:
        _index, _checked_at = None, 0.0


def semantic_search(*, query: str, n: int = 50) -> list[int]:
    return semantic_index().search(query, n)


def similar_by_content(*, paper_id: int, n: int = 5) -> list[int]:
    return semantic_index().similar(paper_id, n)


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


def search_hits(*, query: str, mode: str = "blend", n: int = 100) -> list[Hit]:
    """Results for ``query`` best first, each saying what it matched.

    Keyword and semantic mode rank by their own index; the blend fuses both
    lists (reciprocal rank fusion), so it holds exactly the papers that match
    the words or the meaning. Both lists are computed in every mode so that
    each result can say whether it matched the other way too.
    """
    words = keyword_search(query=query, n=n)
    meaning = semantic_search(query=query, n=n)
    ranked = {"keyword": words, "semantic": meaning}.get(mode) or rrf([words, meaning])[:n]
    in_words, in_meaning = set(words), set(meaning)
    return [Hit(pid, pid in in_words, pid in in_meaning) for pid in ranked]


def search(*, query: str, mode: str = "blend", n: int = 100) -> list[int]:
    """Paper ids for ``query`` best first: keyword, semantic, or both fused."""
    if mode == "keyword":
        return keyword_search(query=query, n=n)
    if mode == "semantic":
        return semantic_search(query=query, n=n)
    return [hit.paper_id for hit in search_hits(query=query, mode=mode, n=n)]
