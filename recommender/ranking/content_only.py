"""The ranker used before any model is trained: tf-idf similarity to liked papers plus a prior.

Serving falls back to it on a fresh install (no interactions to train on yet),
so the first votes already change what a subscriber sees. It lives here, next
to the model, so that it obeys the same list contract (unique positions, never
an excluded one, padded with -1) and is tested by the same property tests.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from . import REASON_NONE, REASON_TRENDING
from .selection import top_n

CONTENT_WEIGHT = 3.0
PRIOR_WEIGHT = 0.3
# A pick is "similar to" a liked paper only above this cosine; below it the prior explains it.
REASON_SIMILARITY = 0.1


def content_only_rank(
    *,
    candidate_texts: Sequence[str],
    liked_texts: Sequence[str],
    liked: Sequence[Sequence[int]],
    excluded: np.ndarray,
    prior: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top ``n`` candidate positions per user: ``3 * max cosine to a liked paper + 0.3 * prior``.

    ``liked[r]`` lists user ``r``'s liked papers as indices into ``liked_texts``;
    ``excluded`` and ``prior`` are (users x candidates). Returns ``(positions,
    scores, reasons)`` of shape (users x n): positions into the candidates
    (-1 padding, score -inf), reasons an index into ``liked_texts`` or
    ``REASON_TRENDING`` / ``REASON_NONE``.
    """
    n_users, m = len(liked), len(candidate_texts)
    sim, best = _similarity_to_liked(candidate_texts, liked_texts, liked)
    total = CONTENT_WEIGHT * sim + PRIOR_WEIGHT * np.asarray(prior, dtype=np.float32).reshape(n_users, m)
    total = np.where(np.asarray(excluded, dtype=bool).reshape(n_users, m), -np.inf, total)
    pos = top_n(total, n)
    picked = np.take_along_axis(total, pos, axis=1)
    valid = np.isfinite(picked)
    k = pos.shape[1]
    positions = np.full((n_users, n), -1, dtype=np.int64)
    scores = np.full((n_users, n), -np.inf, dtype=np.float32)
    reasons = np.full((n_users, n), REASON_NONE, dtype=np.int64)
    positions[:, :k] = np.where(valid, pos, -1)
    scores[:, :k] = np.where(valid, picked, -np.inf)
    similar = np.take_along_axis(sim, pos, axis=1) > REASON_SIMILARITY
    why = np.where(similar, np.take_along_axis(best, pos, axis=1), REASON_TRENDING)
    reasons[:, :k] = np.where(valid, why, REASON_NONE)
    return positions, scores, reasons


def _similarity_to_liked(candidate_texts, liked_texts, liked) -> tuple[np.ndarray, np.ndarray]:
    """Per user and candidate: the best cosine to one of their liked papers, and which one (-1: none)."""
    n_users, m = len(liked), len(candidate_texts)
    sim = np.zeros((n_users, m), dtype=np.float32)
    best = np.full((n_users, m), -1, dtype=np.int64)
    if m == 0 or not any(len(mine) for mine in liked):
        return sim, best
    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1)
    try:
        X = vec.fit_transform(list(candidate_texts) + list(liked_texts))
    except ValueError:  # nothing but stop words: no content signal at all
        return sim, best
    C, L = X[:m], X[m:]
    for r, mine in enumerate(liked):
        mine = np.asarray(mine, dtype=np.int64)
        if len(mine) == 0:
            continue
        S = (C @ L[mine].T).toarray()
        sim[r] = S.max(axis=1)
        best[r] = mine[S.argmax(axis=1)]
    return sim, best
