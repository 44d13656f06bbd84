"""Candidate selection helpers shared by every ranker: exclusion and top-n.

Owning these in one place keeps the contract identical across the production
model and the baselines: excluded items are never returned, an id listed twice
among the candidates is returned at most once, ties are broken by candidate
position (deterministic), short lists are padded with id -1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

Exclude = Sequence[np.ndarray] | sp.spmatrix | np.ndarray | None


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


def repeated_candidates(candidates: np.ndarray) -> np.ndarray:
    """Boolean per candidate: True where the same id already occurred earlier in the list.

    A candidate listed twice is one candidate: only its first position may be
    returned, so a list can never hold one paper twice.
    """
    candidates = np.asarray(candidates)
    repeated = np.ones(len(candidates), dtype=bool)
    repeated[np.unique(candidates, return_index=True)[1]] = False
    return repeated


def exclusion_mask(exclude: Exclude, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray | None:
    """Boolean (len(rows) x len(candidates)) mask of the candidates that must not be returned.

    ``exclude`` is one array of item ids per user (indexed by the entries of ``rows``), a sparse
    users x items matrix (non-zero = excluded), or a boolean users x candidates array (True =
    excluded; the cheapest form when the caller already holds one). Every position of an excluded
    id is masked, and so are repeated candidates (see :func:`repeated_candidates`). None when
    nothing is masked.
    """
    rows = np.asarray(rows)
    candidates = np.asarray(candidates, dtype=np.int64)
    repeated = repeated_candidates(candidates)
    if exclude is None:
        return np.broadcast_to(repeated, (len(rows), len(candidates))).copy() if repeated.any() else None
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.ndim != 2 or exclude.shape[1] != len(candidates):
            raise ValueError("a boolean exclude mask must be users x candidates")
        return exclude[rows] | repeated[None, :]
    mask = np.zeros((len(rows), len(candidates)), dtype=bool)
    mask |= repeated[None, :]
    if sp.issparse(exclude):
        E = sp.csr_matrix(exclude)[rows]
        in_range = (candidates >= 0) & (candidates < E.shape[1])
        if in_range.any():
            mask[:, in_range] |= E[:, candidates[in_range]].toarray() != 0
        return mask
    lists = [np.asarray(exclude[u], dtype=np.int64).ravel() for u in rows]
    items = np.concatenate(lists) if lists else np.zeros(0, np.int64)
    if len(items) == 0 or len(candidates) == 0:
        return mask
    row_of = np.repeat(np.arange(len(rows)), [len(x) for x in lists])
    # only an id's first position needs marking: its repeats are masked above
    pos = first_positions(candidates, items)
    hit = pos >= 0
    mask[row_of[hit], pos[hit]] = True
    return mask


def first_positions(candidates: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Position of each of ``items`` among ``candidates`` (its first occurrence), -1 when absent.

    A lookup table over the id range when that is small (ids are model columns: papers + a day's
    new ones), a binary search otherwise.
    """
    lo, hi = int(candidates.min()), int(candidates.max())
    if lo >= 0 and hi <= max(4 * len(candidates), 1 << 20):
        table = np.full(hi + 2, -1, dtype=np.int64)  # the last cell (-1) answers every id outside
        ids, first = np.unique(candidates, return_index=True)
        table[ids] = first
        return table[np.clip(items, -1, hi + 1)]
    pos = np.full(len(items), -1, dtype=np.int64)
    inside = (items >= lo) & (items <= hi)
    order = np.argsort(candidates, kind="stable")
    at = np.searchsorted(candidates[order], items[inside], side="left")
    found = candidates[order][np.minimum(at, len(order) - 1)] == items[inside]
    pos[np.flatnonzero(inside)[found]] = order[at[found]]
    return pos


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
