"""Diversity re-ranking: maximal marginal relevance over content embeddings.

Kept apart from the scoring model because it only needs final scores and
item vectors: it stops a digest from showing five near-duplicates of the same
paper (e.g. several versions of one preprint series) by trading a little
relevance for novelty with respect to what is already in the list.
"""

from __future__ import annotations

import numpy as np

from .selection import top_n


def mmr(
    scores: np.ndarray,
    embeddings: np.ndarray | None,
    n: int,
    diversity: float,
    pool_size: int | None = None,
    similarity: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy MMR selection of ``n`` positions per row of ``scores``.

    ``embeddings`` are L2-normalised rows aligned with the columns of
    ``scores``; alternatively ``similarity`` is a precomputed (m x m)
    candidate similarity matrix (used when given). Each step picks ``argmax (1 - diversity) * rel - diversity *
    max_sim_to_selected``, where ``rel`` is the score min-max scaled within the
    row's candidate pool (the ``pool_size`` best by score). ``diversity=0``
    returns the plain top ``n``.
    """
    if diversity <= 0 or n <= 1:
        return top_n(scores, n)
    n_rows, m = scores.shape
    pool_size = min(m, pool_size or max(4 * n, 50))
    pool = top_n(scores, pool_size)  # (U, L)
    k = min(n, pool_size)
    rel = np.take_along_axis(scores, pool, axis=1).astype(np.float64)
    finite = np.isfinite(rel)
    lo = np.where(finite, rel, np.inf).min(axis=1, keepdims=True)
    hi = np.where(finite, rel, -np.inf).max(axis=1, keepdims=True)
    rel = np.where(finite, (rel - lo) / np.maximum(hi - lo, 1e-12), -np.inf)
    taken_rel = np.float64(-np.inf)
    # Once a row's finite scores are used up, the rest of its pool (excluded, -inf) is still
    # preferred to a position already taken: argmax over an all -inf row returns 0, which used to
    # repeat the best paper for every remaining slot. So a non-finite score counts as the lowest
    # float (far below any similarity penalty: they tie and the first in the pool wins), a taken
    # position as -inf. The caller drops the non-finite.
    value_rel = np.where(finite, (1.0 - diversity) * np.where(finite, rel, 0.0), np.finfo(np.float64).min)
    if similarity is None:
        emb = embeddings[pool]  # (U, L, d)
    chosen = np.zeros((n_rows, k), dtype=np.int64)
    max_sim = np.zeros((n_rows, pool_size))
    rows = np.arange(n_rows)
    for step in range(k):
        pick = np.argmax(value_rel - diversity * max_sim, axis=1)
        chosen[:, step] = pick
        value_rel[rows, pick] = taken_rel
        if step + 1 == k:
            break
        picked = pool[rows, pick]
        if similarity is not None:
            sims = similarity[picked[:, None], pool]  # (U, L): the new pick against the pool
        else:
            sims = np.einsum("ud,uld->ul", embeddings[picked], emb)
        max_sim = np.maximum(max_sim, sims)
    return np.take_along_axis(pool, chosen, axis=1)
