"""Collaborative factors: implicit's ALS for training, the same least squares for folding users in.

Training goes through ``implicit`` (confidence ``alpha * r``, negatives as negative confidence).
Fold-in solves implicit's user step for users who were not in training (or whose rows changed
since), item factors fixed: ``(YtY + reg I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u p_u``. It is
batched and vectorised in float64 (implicit's ``recalculate_user`` solves the same system in
float32; float64 keeps the scores of a stored model exactly as they were).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .scoring import half

LARGE_FACTORS = 128
LARGE_ITERATIONS = 10
# float64 cells of one fold-in batch (padded item factors + the systems): ~64 MB
_FOLD_IN_CELLS = 2**23


def fit_als(
    C: sp.csr_matrix,
    *,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    random_state: int,
    num_threads: int,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(user_factors, item_factors)`` (float16-rounded float32) of implicit ALS on confidences ``C``.

    ``start`` continues from given factors (the final fit after the inner validation fit, on the
    same users and items, starts close to its solution).
    """
    from implicit.cpu.als import AlternatingLeastSquares  # implicit's import is slow: only when training

    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors,
            regularization=regularization,
            alpha=alpha,
            iterations=iterations,
            calculate_training_loss=False,
            random_state=random_state,
            num_threads=num_threads,
        )
        if start is not None:
            model.user_factors, model.item_factors = start[0].copy(), start[1].copy()
        model.fit(C, show_progress=False)
    return half(model.user_factors), half(model.item_factors)


def gram(item_factors: np.ndarray, regularization: float) -> np.ndarray:
    """``Y^T Y + reg I`` in float64: the part of every user's system that does not depend on the user."""
    Y = item_factors.astype(np.float64)
    return Y.T @ Y + regularization * np.eye(Y.shape[1])


def fold_in(C: sp.csr_matrix, item_factors: np.ndarray, YtY: np.ndarray) -> np.ndarray:
    """User factors (users x f, float32) for confidence rows ``C`` (negative = disliked), items fixed.

    Users are solved in batches of similar row length, padded, with one batched solve per batch.
    """
    C = sp.csr_matrix(C)
    f = item_factors.shape[1]
    out = np.zeros((C.shape[0], f), dtype=np.float32)
    counts = np.diff(C.indptr)
    users = np.flatnonzero(counts > 0)
    if len(users) == 0:
        return out
    users = users[np.argsort(counts[users], kind="stable")]
    start = 0
    while start < len(users):
        longest = int(counts[users[min(len(users) - 1, start)]])
        size = max(1, _FOLD_IN_CELLS // ((longest + f) * f))
        # rows are sorted by length: the batch's longest row is its last
        stop = min(len(users), start + size)
        while stop - start > 1 and (int(counts[users[stop - 1]]) + f) * f * (stop - start) > _FOLD_IN_CELLS:
            stop = start + max(1, (stop - start) // 2)
        out[users[start:stop]] = _solve_batch(C, users[start:stop], item_factors, YtY)
        start = stop
    return out


def _solve_batch(C: sp.csr_matrix, users: np.ndarray, item_factors: np.ndarray, YtY: np.ndarray) -> np.ndarray:
    counts = np.diff(C.indptr)[users]
    width = int(counts.max())
    slot = np.arange(width)[None, :] < counts[:, None]  # (k, width): real entries, the rest padding
    flat = (C.indptr[users][:, None] + np.arange(width)[None, :])[slot]
    idx = np.zeros(slot.shape, dtype=np.int64)
    conf = np.zeros(slot.shape, dtype=np.float64)
    idx[slot], conf[slot] = C.indices[flat], C.data[flat]
    Yi = item_factors.astype(np.float64)[idx]  # (k, width, f)
    c = np.abs(conf)
    w = np.where(slot, c - 1.0, 0.0)
    A = YtY[None] + np.matmul(np.swapaxes(Yi * w[..., None], 1, 2), Yi)
    b = np.einsum("kwf,kw->kf", Yi, np.where(conf > 0, c, 0.0))
    return np.linalg.solve(A, b[..., None])[..., 0].astype(np.float32)
