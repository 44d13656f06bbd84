"""Rank papers for readers, find similar papers, and say why each was picked.

This module owns the Django side of ranking: what each user has told us (folded in fresh on every
call, so votes cast since the last training count at once and brand-new users are ranked without
a retrain), their category and keyword/author rules, and the human-readable reason for each pick.
Scoring itself is ``HybridRecommender.recommend_for_rows`` over cached ``PreparedCandidates``;
before any model is trained the content-only ranker (``ranking.content_only``) keeps the service
useful from the first vote.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from cachetools import LRUCache

from ..models import Interaction, Paper
from ..ranking import REASON_TRENDING
from ..ranking.content_only import content_only_rank
from ..ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS
from ..subscriptions.topics import topics_default_for_users
from ..training.dataset import paper_text
from . import active, candidates
from .active import ActiveModel, active_model
from .candidates import Candidates, candidate_ids_default, load_candidates, matches, model_columns, prepared_for

DIVERSITY = 0.3
# Papers matching an "include" keyword or author get this many prior units.
INCLUDE_BOOST = 3.0

VERBS = {"save": "saved", "upvote": "upvoted", "thumbs_up": "liked", "click": "opened"}


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    reason: str


def reset_cache() -> None:
    """Forget everything this process cached: the model, candidate work, the similar-papers pool.

    The pool is keyed by (model version, newest paper id); both can be reused by another data set
    (e.g. SQLite ids after a rolled-back test), so a reset must drop it too.
    """
    active.forget()
    candidates.forget()
    _forget_pool()


def warm_up() -> bool:
    """Load the active model and prepare the default candidates now (at process start); True if a model serves.

    Called by ``digest_site/wsgi.py``: the first For you of a fresh worker then costs what every
    later one does. Failures are logged by ``active.warm_up``; without a model nothing is prepared.
    """
    if not active.warm_up():
        return False
    served = active_model()
    cands = load_candidates(candidate_ids_default())
    if served is not None and len(cands.ids):
        prepared_for(served, model_columns(served, cands.ids), cands.texts, diversity=DIVERSITY)
    return True


# --- recommend ------------------------------------------------------------------------


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
    cands = load_candidates(candidate_ids if candidate_ids is not None else candidate_ids_default())
    if len(cands.ids) == 0:
        return {u: [] for u in user_ids}
    # Each reader's default topic: its filters have the names a profile's had (one row per reader).
    topics = topics_default_for_users(user_ids=user_ids)
    events: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for uid, pid, kind in Interaction.objects.filter(user_id__in=user_ids).values_list("user_id", "paper_id", "kind"):
        events[uid].append((pid, kind))
    excluded, prior = _rules(user_ids, events, topics, cands, exclude_ids or {})

    served = active_model()
    if served is not None:
        ids, scores, reasons = _rank_with_model(served, user_ids, events, topics, cands, excluded, prior, n)
    else:
        ids, scores, reasons = _rank_content_only(user_ids, events, topics, cands, excluded, prior, n)

    liked_titles = _titles_for({int(x) for x in reasons.ravel() if x >= 0})
    out: dict[int, list[Recommendation]] = {}
    for r, uid in enumerate(user_ids):
        kinds = _strongest_positive(events.get(uid, []))
        wanted = set(topics[uid].categories) if uid in topics else set()
        recs = []
        for pos, score, reason in zip(ids[r], scores[r], reasons[r], strict=True):
            if pos < 0 or not np.isfinite(score):
                continue
            text = reason_text(int(reason), cands, int(pos), liked_titles, kinds, wanted)
            recs.append(Recommendation(paper_id=int(cands.ids[pos]), score=float(score), reason=text))
        out[uid] = recs
    return out


def _rules(user_ids, events, topics, cands: Candidates, exclude_ids) -> tuple[np.ndarray, np.ndarray]:
    """``(excluded, prior)`` (users x candidates): what each user must not see, and trending + include boosts."""
    pos_of = {int(p): j for j, p in enumerate(cands.ids.tolist())}
    m = len(cands.ids)
    excluded = np.zeros((len(user_ids), m), dtype=bool)
    prior = np.tile(cands.trending, (len(user_ids), 1))
    for r, uid in enumerate(user_ids):
        seen = {pid for pid, _ in events.get(uid, [])} | set(exclude_ids.get(uid, ()))
        for pid in seen:
            if pid in pos_of:
                excluded[r, pos_of[pid]] = True
        topic = topics.get(uid)
        if topic is None:
            continue
        if topic.categories:
            wanted = set(topic.categories)
            excluded[r] |= np.array([not (c & wanted) for c in cands.categories], dtype=bool)
        excluded[r] |= matches(topic.exclude_keywords, cands.haystacks)
        excluded[r] |= matches(topic.exclude_authors, cands.authors)
        boost = matches(topic.include_keywords, cands.haystacks) | matches(topic.include_authors, cands.authors)
        prior[r] += INCLUDE_BOOST * boost
    return excluded, prior


def _interaction_rows(served: ActiveModel, user_ids, events) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Positive and negative confidence rows of the users over the model's training columns."""
    pr, pc, pv, nr, nc, nv = [], [], [], [], [], []
    for r, uid in enumerate(user_ids):
        for pid, kind in events.get(uid, []):
            j = served.col.get(pid)
            if j is None or kind not in KIND_WEIGHTS:
                continue
            if kind in NEGATIVE_KINDS:
                nr.append(r), nc.append(j), nv.append(KIND_WEIGHTS[kind])
            else:
                pr.append(r), pc.append(j), pv.append(KIND_WEIGHTS[kind])
    shape = (len(user_ids), served.model.n_items_)
    P = sp.csr_matrix((np.array(pv, dtype=np.float32), (pr, pc)), shape=shape)
    N = sp.csr_matrix((np.array(nv, dtype=np.float32), (nr, nc)), shape=shape)
    return P, N


def _rank_with_model(served: ActiveModel, user_ids, events, topics, cands, excluded, prior, n):
    """Fold every user in from their current interactions and score with the model."""
    cand_cols = model_columns(served, cands.ids)
    P, N = _interaction_rows(served, user_ids, events)
    ids, scores, reasons = served.model.recommend_for_rows(
        P,
        n=n,
        negative_rows=N,
        categories=[(topics[u].categories if u in topics else None) for u in user_ids],
        exclude=[cand_cols[np.flatnonzero(row)] for row in excluded],
        prior=prior,
        diversity=DIVERSITY,
        return_reasons=True,
        prepared=prepared_for(served, cand_cols, cands.texts, diversity=DIVERSITY),
    )
    # Map model columns back to candidate positions and liked columns to paper ids.
    pos_of_col = {int(c): j for j, c in enumerate(cand_cols.tolist())}
    pos = np.vectorize(lambda c: pos_of_col.get(int(c), -1), otypes=[np.int64])(ids) if ids.size else ids
    paper_ids = served.paper_ids
    reason_ids = np.where(reasons >= 0, paper_ids[np.clip(reasons, 0, len(paper_ids) - 1)], reasons)
    return pos, scores, reason_ids


def _rank_content_only(user_ids, events, topics, cands, excluded, prior, n):
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


# --- reasons ----------------------------------------------------------------------------


def _titles_for(paper_ids: set[int]) -> dict[int, str]:
    return dict(Paper.objects.filter(pk__in=paper_ids).values_list("id", "title")) if paper_ids else {}


def _short(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def _strongest_positive(events: list[tuple[int, str]]) -> dict[int, str]:
    """Paper id -> the strongest positive thing the reader did with it (a thumbs-down is never "liked")."""
    positive = [(pid, kind) for pid, kind in events if kind in VERBS and kind not in NEGATIVE_KINDS]
    return {pid: kind for pid, kind in sorted(positive, key=lambda e: KIND_WEIGHTS.get(e[1], 0))}


def reason_text(reason: int, cands: Candidates, pos: int, liked_titles, kinds, wanted) -> str:
    """The one line shown with a pick: true for this reader, and saying what it is based on.

    ``reason`` is a paper the reader acted on (named with what they did), or a ``REASON_*`` code. A
    category is named only when it is one of the reader's fields; a reader with none is told the
    pick comes from what readers upvote this week.
    """
    if reason >= 0 and reason in liked_titles and reason in kinds:
        return f"Similar to “{_short(liked_titles[reason])}” you {VERBS[kinds[reason]]}"
    mine = sorted(cands.categories[pos] & wanted)
    if reason == REASON_TRENDING:
        return f"Trending in {mine[0]}, one of your fields" if mine else "Trending: upvoted by many readers this week"
    if mine:
        return f"New in {mine[0]}, one of your fields"
    return "Popular with readers this week"


# --- similar papers ---------------------------------------------------------------------

POOL_SIZE = 5000
_pool_lock = threading.Lock()
_pools: LRUCache = LRUCache(maxsize=1)


def _forget_pool() -> None:
    with _pool_lock:
        _pools.clear()


active.on_change(_forget_pool)


def similar_papers(*, paper_id: int, n: int = 5, exclude_ids: Iterable[int] = ()) -> list[int]:
    """Papers whose content is closest to ``paper_id`` among recent and trained papers.

    ``exclude_ids`` (e.g. what the reader hid or voted down) never appear; the list is still ``n`` long
    while the pool lasts.
    """
    paper = Paper.objects.filter(pk=paper_id).values_list("title", "abstract").first()
    if paper is None:
        return []
    served = active_model()
    ids, emb, encode = _pool(served)
    query = encode([paper_text(*paper)])
    sims = emb @ query.T
    sims = np.asarray(sims.toarray() if sp.issparse(sims) else sims).ravel()
    skip = {int(paper_id), *(int(i) for i in exclude_ids)}
    order = [int(ids[j]) for j in np.argsort(-sims, kind="stable") if int(ids[j]) not in skip]
    return order[:n]


def _pool(served: ActiveModel | None):
    """``(ids, embeddings, encode)`` of the newest ``POOL_SIZE`` papers, per (model version, newest paper)."""
    latest = Paper.objects.order_by("-id").values_list("id", flat=True).first()
    key = (served.version_id if served else None, latest)
    with _pool_lock:
        entry = _pools.get(key)
        if entry is None:
            ids = list(Paper.objects.order_by("-announced_on", "-id").values_list("id", flat=True)[:POOL_SIZE])
            papers = Paper.objects.filter(pk__in=ids).values_list("id", "title", "abstract")
            rows = {i: (title, abstract) for i, title, abstract in papers}
            docs = [paper_text(*rows[i]) for i in ids]
            emb, encode = _encoder(served, docs)
            entry = (np.array(ids, dtype=np.int64), emb, encode)
            _pools[key] = entry
    return entry


def _encoder(served: ActiveModel | None, docs: list[str]):
    """The pool's embeddings and the function that encodes a query paper the same way."""
    if served is not None:
        return served.model.encoder_.transform(docs), served.model.encoder_.transform
    from sklearn.feature_extraction.text import TfidfVectorizer  # only before any model is trained

    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english")
    return vec.fit_transform(docs or ["empty"]), vec.transform
