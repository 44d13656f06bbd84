"""Candidate selection helpers shared by every ranker: exclusion and top-n.

Owning these in one place keeps the contract identical across the production
model and the baselines: excluded items are never returned, ties are broken by
candidate position (deterministic), short lists are padded with id -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

Exclude = Sequence[np.ndarray] | sp.spmatrix | None


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Column positions of the ``n`` best scores per row, best first (ties: lower position)."""
    m = scores.shape[1]
    k = min(n, m)
    if k == 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(scores), 1))
    part.sort(axis=1)
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def exclusion_mask(exclude: Exclude, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray | None:
    """Boolean (len(rows) x len(candidates)) mask of excluded candidates.

    ``exclude`` is either one array of item ids per user (indexed by the
    entries of ``rows``) or a sparse users x items matrix (non-zero = excluded).
    """
    if exclude is None:
        return None
    rows = np.asarray(rows)
    mask = np.zeros((len(rows), len(candidates)), dtype=bool)
    if sp.issparse(exclude):
        E = sp.csr_matrix(exclude)[rows]
        in_range = (candidates >= 0) & (candidates < E.shape[1])
        if in_range.any():
            mask[:, in_range] = E[:, candidates[in_range]].toarray() != 0
        return mask
    order = np.argsort(candidates, kind="stable")
    sorted_c = candidates[order]
    for r, u in enumerate(rows):
        items = np.asarray(exclude[u], dtype=np.int64).ravel()
        if len(items) == 0:
            continue
        at = np.searchsorted(sorted_c, items)
        at = np.minimum(at, len(sorted_c) - 1)
        hit = sorted_c[at] == items
        mask[r, order[at[hit]]] = True
    return mask


def select(
    scores: np.ndarray, candidates: np.ndarray, n: int, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` candidate ids and scores per row; excluded / missing -> id -1, score -inf."""
    if mask is not None:
        scores = np.where(mask, -np.inf, scores)
    pos = top_n(scores, n)
    return finish(scores, candidates, pos, n)


def finish(scores: np.ndarray, candidates: np.ndarray, pos: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn selected positions into padded ``(ids, scores)`` arrays."""
    n_rows, k = pos.shape
    ids = np.full((n_rows, n), -1, dtype=np.int64)
    out = np.full((n_rows, n), -np.inf, dtype=np.float32)
    sc = np.take_along_axis(scores, pos, axis=1)
    valid = np.isfinite(sc)
    ids[:, :k] = np.where(valid, candidates[pos], -1)
    out[:, :k] = np.where(valid, sc, -np.inf)
    return ids, out
