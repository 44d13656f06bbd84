"""Serve recommendations from the active model version (one ranking for web and digest).

This module owns the Django side of ranking: which papers are candidates,
what each user has told us (folded in fresh on every call, so votes cast
since the last training count at once and brand-new users are ranked
without a retrain), their category and keyword/author rules, and the
human-readable reason for each pick. Scoring itself is
``HybridRecommender.recommend_for_rows``; before any model is trained a
content-only fallback (tf-idf similarity + trending + categories) keeps the
service useful from the first vote.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from ..models import Interaction, ModelVersion, Paper, Profile
from ..ranking import REASON_TRENDING
from ..ranking.content_only import content_only_rank
from ..ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS
from .dataset import paper_text

CANDIDATE_DAYS = 7
MAX_CANDIDATES = 2000
DIVERSITY = 0.3
# Papers matching an "include" keyword or author get this many prior units.
INCLUDE_BOOST = 3.0
CHECK_ACTIVE_EVERY_S = 30.0

VERBS = {"save": "saved", "upvote": "upvoted", "thumbs_up": "liked", "click": "opened"}


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    reason: str


# --- the active model, cached per process ----------------------------------------

_lock = threading.Lock()
_cache: dict = {"version_id": None, "model": None, "paper_ids": None, "col": None, "checked_at": 0.0}


def active_model(*, refresh: bool = False):
    """Return ``(version_id, model, paper_ids, col_of)`` for the active version, or None.

    The active id is re-read at most every ``CHECK_ACTIVE_EVERY_S`` seconds;
    the artifact is loaded only when it changed (activation or rollback).
    """
    from .services import artifact_unpack

    now = time.monotonic()
    with _lock:
        if not refresh and now - _cache["checked_at"] < CHECK_ACTIVE_EVERY_S:
            return _cached()
        _cache["checked_at"] = now
        active_id = ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()
        if active_id is None:
            _cache.update(version_id=None, model=None, paper_ids=None, col=None)
            return None
        if active_id != _cache["version_id"]:
            artifact = ModelVersion.objects.filter(pk=active_id).values_list("artifact", flat=True).first()
            model, _, paper_ids = artifact_unpack(artifact)
            _memoize_candidate_work(model)
            col = {int(p): j for j, p in enumerate(paper_ids.tolist())}
            _cache.update(version_id=active_id, model=model, paper_ids=paper_ids, col=col)
        return _cached()


CANDIDATE_MEMO_SIZE = 8
# A candidate set's dense similarity block can reach ~120 MB (3e7 float32 cells): bound the memo by bytes too.
CANDIDATE_MEMO_BYTES = 256 * 2**20


def _memo_nbytes(value) -> int:
    """Bytes held by one memo entry's arrays (dense blocks and sparse matrices)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(item)
        elif hasattr(item, "nbytes"):
            total += int(item.nbytes)
        elif hasattr(item, "data") and hasattr(item, "indices"):  # scipy sparse
            total += int(item.data.nbytes + item.indices.nbytes + item.indptr.nbytes)
    return total


def _memoize_candidate_work(model) -> None:
    """Compute what depends only on the candidates (their tf-idf and neighbour graph) once per candidate set.

    A morning's digest batches (200 subscribers each) all rank the same new
    papers; without this every batch re-encoded ~1,000 abstracts and rebuilt
    their neighbour graph against every training paper, which cost more than
    ranking the batch's users. The memo is per process and per loaded model
    (it lives on the model object), keyed by the texts themselves, so it can
    never serve another candidate set's work; a few recent sets are kept.
    """
    encode, graphs = model.encoder_.transform_sparse, model._graphs
    memo: OrderedDict = OrderedDict()
    lock = threading.Lock()

    def remember(key, compute):
        with lock:
            if key in memo:
                memo.move_to_end(key)
                return memo[key][1]
        value = compute()
        with lock:
            memo[key] = value
            while len(memo) > 1 and (
                len(memo) > CANDIDATE_MEMO_SIZE or sum(_memo_nbytes(v[1]) for v in memo.values()) > CANDIDATE_MEMO_BYTES
            ):
                memo.popitem(last=False)
        return value[1]

    def transform_sparse(content):
        if not isinstance(content, list | tuple) or not all(isinstance(t, str) for t in content):
            return encode(content)
        key = ("tfidf", tuple(content))
        return remember(key, lambda: (None, encode(content)))

    def neighbour_graphs(X, centroid=True):
        # Keyed by the (memoised, hence identical) tf-idf object; kept alive in the entry.
        key = ("graphs", id(X), bool(centroid))
        with lock:
            entry = memo.get(key)
            if entry is not None and entry[0] is not X:
                del memo[key]
        return remember(key, lambda: (X, graphs(X, centroid)))

    model.encoder_.transform_sparse = transform_sparse
    model._graphs = neighbour_graphs


def _cached():
    if _cache["model"] is None:
        return None
    return _cache["version_id"], _cache["model"], _cache["paper_ids"], _cache["col"]


def reset_cache() -> None:
    """Forget everything this process cached: the model, the similar-papers pool, word indexes.

    The pool is keyed by (model version, newest paper id); both can be reused
    by another data set (e.g. SQLite ids after a rolled-back test), so a reset
    must drop it too.
    """
    with _lock:
        _cache.update(version_id=None, model=None, paper_ids=None, col=None, checked_at=0.0)
    with _pool_lock:
        _pool.update(key=None, ids=None, emb=None)
    _word_indexes.clear()
    _fallback_vectorizer["vec"] = None


# --- candidates and user state ---------------------------------------------------


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
class _Candidates:
    ids: np.ndarray
    texts: list[str]
    titles: dict[int, str]
    primary: list[str]
    categories: list[set[str]]
    haystacks: list[str]  # lower-cased title + abstract, for keyword rules
    authors: list[str]  # lower-cased "; "-joined authors, for author rules
    trending: np.ndarray


def _load_candidates(ids: list[int]) -> _Candidates:
    rows = {
        r[0]: r
        for r in Paper.objects.filter(pk__in=ids).values_list(
            "id", "title", "abstract", "authors", "primary_category", "categories", "trending_score"
        )
    }
    # One position per paper: a repeated id would otherwise be ranked (and shown) twice.
    ordered = [i for i in dict.fromkeys(int(i) for i in ids) if i in rows]
    data = [rows[i] for i in ordered]
    return _Candidates(
        ids=np.array(ordered, dtype=np.int64),
        texts=[paper_text(r[1], r[2]) for r in data],
        titles={r[0]: r[1] for r in data},
        primary=[r[4] or (r[5].split() or [""])[0] for r in data],
        categories=[set(r[5].split()) | ({r[4]} if r[4] else set()) for r in data],
        haystacks=[f"{r[1]} {r[2]}".lower() for r in data],
        authors=["; ".join(r[3] or []).lower() for r in data],
        trending=np.log1p(np.array([max(r[6], 0.0) for r in data], dtype=np.float32)),
    )


_WORD = re.compile(r"\w+")
_word_indexes: OrderedDict = OrderedDict()


def _word_index(texts: list[str]) -> dict[str, list[int]]:
    """Word -> positions of the texts containing it; built once per candidate list (a few kept)."""
    entry = _word_indexes.get(id(texts))
    if entry is not None and entry[0] is texts:
        return entry[1]
    index: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        for word in set(_WORD.findall(text)):
            index[word].append(i)
    _word_indexes[id(texts)] = (texts, index)
    while len(_word_indexes) > 4:
        _word_indexes.popitem(last=False)
    return index


def _matches(terms: list[str], texts: list[str]) -> np.ndarray:
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


# --- public API --------------------------------------------------------------------


def recommend_for_users(
    *,
    user_ids: list[int],
    candidate_ids: list[int] | None = None,
    n: int = 10,
    exclude_ids: dict[int, set[int]] | None = None,
) -> dict[int, list[Recommendation]]:
    """Rank candidates for each user: model + trending prior + their rules; reasons included.

    Papers the user rated, hid or opened are excluded, as are ``exclude_ids``
    (e.g. already sent), papers outside their categories (when they chose
    some) and papers matching their exclude keywords/authors.
    """
    user_ids = [int(u) for u in user_ids]
    if not user_ids:
        return {}
    cands = _load_candidates(candidate_ids if candidate_ids is not None else candidate_ids_default())
    if len(cands.ids) == 0:
        return {u: [] for u in user_ids}
    profiles = {p.user_id: p for p in Profile.objects.filter(user_id__in=user_ids)}
    events: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for uid, pid, kind in Interaction.objects.filter(user_id__in=user_ids).values_list("user_id", "paper_id", "kind"):
        events[uid].append((pid, kind))

    pos_of = {int(p): j for j, p in enumerate(cands.ids.tolist())}
    m = len(cands.ids)
    excluded = np.zeros((len(user_ids), m), dtype=bool)
    prior = np.tile(cands.trending, (len(user_ids), 1))
    for r, uid in enumerate(user_ids):
        seen = {pid for pid, _ in events.get(uid, [])} | set((exclude_ids or {}).get(uid, ()))
        for pid in seen:
            if pid in pos_of:
                excluded[r, pos_of[pid]] = True
        profile = profiles.get(uid)
        if profile is None:
            continue
        if profile.categories:
            wanted = set(profile.categories)
            excluded[r] |= np.array([not (c & wanted) for c in cands.categories], dtype=bool)
        excluded[r] |= _matches(profile.exclude_keywords, cands.haystacks)
        excluded[r] |= _matches(profile.exclude_authors, cands.authors)
        boost = _matches(profile.include_keywords, cands.haystacks) | _matches(profile.include_authors, cands.authors)
        prior[r] += INCLUDE_BOOST * boost

    served = active_model()
    if served is not None:
        ids, scores, reasons = _rank_with_model(served, user_ids, events, profiles, cands, excluded, prior, n)
    else:
        ids, scores, reasons = _rank_content_only(user_ids, events, profiles, cands, excluded, prior, n)

    liked_titles = _titles_for({int(x) for x in reasons.ravel() if x >= 0})
    out: dict[int, list[Recommendation]] = {}
    for r, uid in enumerate(user_ids):
        kinds = {pid: kind for pid, kind in sorted(events.get(uid, []), key=lambda e: KIND_WEIGHTS.get(e[1], 0))}
        wanted = set(profiles[uid].categories) if uid in profiles else set()
        recs = []
        for pos, score, reason in zip(ids[r], scores[r], reasons[r], strict=True):
            if pos < 0 or not np.isfinite(score):
                continue
            pid = int(cands.ids[pos])
            recs.append(
                Recommendation(
                    paper_id=pid,
                    score=float(score),
                    reason=_reason_text(int(reason), cands, pos, liked_titles, kinds, wanted),
                )
            )
        out[uid] = recs
    return out


def _rank_with_model(served, user_ids, events, profiles, cands, excluded, prior, n):
    """Fold every user in from their current interactions and score with the model."""
    _, model, paper_ids, col = served
    n_known = model.n_items_
    cand_cols = np.empty(len(cands.ids), dtype=np.int64)
    fresh = n_known
    for j, pid in enumerate(cands.ids.tolist()):
        if pid in col:
            cand_cols[j] = col[pid]
        else:
            cand_cols[j] = fresh
            fresh += 1
    pr, pc, pv, nr, nc, nv = [], [], [], [], [], []
    for r, uid in enumerate(user_ids):
        for pid, kind in events.get(uid, []):
            j = col.get(pid)
            if j is None or kind not in KIND_WEIGHTS:
                continue
            if kind in NEGATIVE_KINDS:
                nr.append(r), nc.append(j), nv.append(KIND_WEIGHTS[kind])
            else:
                pr.append(r), pc.append(j), pv.append(KIND_WEIGHTS[kind])
    shape = (len(user_ids), n_known)
    P = sp.csr_matrix((np.array(pv, dtype=np.float32), (pr, pc)), shape=shape)
    N = sp.csr_matrix((np.array(nv, dtype=np.float32), (nr, nc)), shape=shape)
    categories = [(profiles[u].categories if u in profiles else None) for u in user_ids]
    exclude = [cand_cols[np.flatnonzero(row)] for row in excluded]
    ids, scores, reasons = model.recommend_for_rows(
        P,
        cand_cols,
        n=n,
        negative_rows=N,
        categories=categories,
        candidate_content=cands.texts,
        exclude=exclude,
        prior=prior,
        diversity=DIVERSITY,
        return_reasons=True,
    )
    # Map model columns back to candidate positions and liked columns to paper ids.
    pos_of_col = {int(c): j for j, c in enumerate(cand_cols.tolist())}
    pos = np.vectorize(lambda c: pos_of_col.get(int(c), -1), otypes=[np.int64])(ids) if ids.size else ids
    reason_ids = np.where(reasons >= 0, paper_ids[np.clip(reasons, 0, len(paper_ids) - 1)], reasons)
    return pos, scores, reason_ids


def _rank_content_only(user_ids, events, profiles, cands, excluded, prior, n):
    """Before any model exists: tf-idf similarity to liked papers + trending (``ranking.content_only``)."""
    liked: dict[int, list[int]] = {
        u: [pid for pid, k in events.get(u, []) if k not in NEGATIVE_KINDS and k in KIND_WEIGHTS] for u in user_ids
    }
    rows = Paper.objects.filter(pk__in={p for ps in liked.values() for p in ps}).values_list("id", "title", "abstract")
    liked_text = {pid: paper_text(title, abstract) for pid, title, abstract in rows}
    liked_ids = sorted(liked_text)
    index = {pid: i for i, pid in enumerate(liked_ids)}
    pos, scores, reasons = content_only_rank(
        candidate_texts=cands.texts,
        liked_texts=[liked_text[p] for p in liked_ids],
        liked=[[index[p] for p in dict.fromkeys(liked[u]) if p in index] for u in user_ids],
        excluded=excluded,
        prior=prior,
        n=n,
    )
    # liked-paper indices -> paper ids; the REASON_* codes are negative and stay as they are
    paper_of = np.array(liked_ids or [0], dtype=np.int64)
    reason_ids = np.where(reasons >= 0, paper_of[np.clip(reasons, 0, len(paper_of) - 1)], reasons)
    return pos, scores, reason_ids


def _titles_for(paper_ids: set[int]) -> dict[int, str]:
    return dict(Paper.objects.filter(pk__in=paper_ids).values_list("id", "title")) if paper_ids else {}


def _short(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _reason_text(reason: int, cands: _Candidates, pos: int, liked_titles, kinds, wanted) -> str:
    if reason >= 0 and reason in liked_titles:
        verb = VERBS.get(kinds.get(reason, ""), "liked")
        return f"Similar to “{_short(liked_titles[reason])}” you {verb}"
    category = cands.primary[pos]
    if reason == REASON_TRENDING:
        return f"Trending in {category}" if category else "Trending this week"
    if wanted and (cands.categories[pos] & wanted):
        return f"New in {sorted(cands.categories[pos] & wanted)[0]}, one of your fields"
    return f"Popular in {category}" if category else "Popular this week"


# --- similar papers ------------------------------------------------------------------

_pool_lock = threading.Lock()
_pool: dict = {"key": None, "ids": None, "emb": None}
POOL_SIZE = 5000


def similar_papers(*, paper_id: int, n: int = 5, exclude_ids: Iterable[int] = ()) -> list[int]:
    """Papers whose content is closest to ``paper_id`` among recent and trained papers.

    ``exclude_ids`` (e.g. what the reader hid or voted down) never appear; the list is still ``n`` long
    while the pool lasts.
    """
    paper = Paper.objects.filter(pk=paper_id).values_list("title", "abstract").first()
    if paper is None:
        return []
    served = active_model()
    latest = Paper.objects.order_by("-id").values_list("id", flat=True).first()
    key = (served[0] if served else None, latest)
    with _pool_lock:
        if _pool["key"] != key:
            ids = list(Paper.objects.order_by("-announced_on", "-id").values_list("id", flat=True)[:POOL_SIZE])
            texts = dict(Paper.objects.filter(pk__in=ids).values_list("id", "title"))
            abstracts = dict(Paper.objects.filter(pk__in=ids).values_list("id", "abstract"))
            docs = [paper_text(texts[i], abstracts[i]) for i in ids]
            _pool.update(key=key, ids=np.array(ids, dtype=np.int64), emb=_encode(served, docs, fit=True))
        ids, emb = _pool["ids"], _pool["emb"]
    query = _encode(served, [paper_text(*paper)], fit=False)
    sims = emb @ query.T
    sims = np.asarray(sims.toarray() if sp.issparse(sims) else sims).ravel()
    skip = {int(paper_id), *(int(i) for i in exclude_ids)}
    order = [int(ids[j]) for j in np.argsort(-sims, kind="stable") if int(ids[j]) not in skip]
    return order[:n]


_fallback_vectorizer: dict = {"vec": None}


def _encode(served, docs: list[str], *, fit: bool):
    if served is not None:
        return served[1].encoder_.transform(docs)
    from sklearn.feature_extraction.text import TfidfVectorizer

    if fit or _fallback_vectorizer["vec"] is None:
        vec = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        matrix = vec.fit_transform(docs or ["empty"])
        _fallback_vectorizer["vec"] = vec
        return matrix
    return _fallback_vectorizer["vec"].transform(docs)
