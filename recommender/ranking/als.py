"""Collaborative factors: implicit's ALS for training, the same least squares for folding users in.

Training goes through ``implicit`` (confidence ``alpha * r``, negatives as negative confidence).
Fold-in solves implicit's user step for users who were not in training (or whose rows changed
since), item factors fixed: ``(YtY + reg I + Y_u^T (C_u - I) Y_u) x_u = Y_u^T C_u p_u``. It is
batched and vectorised in float64 (implicit's ``recalculate_user`` solves the same system in
float32; float64 keeps the scores of a stored model exactly as they were).

The system is not solved as written (one f x f solve per user: ~11 MFLOP at 256 factors, 2.4 ms per
subscriber in the digest plan). With ``B = YtY + reg I`` shared by every user and ``Z = Y B^-1``
computed once per model, the push-through (Woodbury) identity gives the same solution from a system
as small as the user's row: ``x_u = Z_u^T (I + W_u K_u)^-1 p_u`` with ``K_u = Y_u Z_u^T`` (width x
width), ``W_u = C_u - I`` and ``Z_u`` the rows of ``Z`` of the user's papers. For 20-50 interactions
that is ~100x fewer operations, batched over users of similar row length.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from threadpoolctl import ThreadpoolController, threadpool_limits

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


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_blas_thread():
    """A context limiting BLAS to one thread, for products too small to gain from threads.

    Batched row-sized products (fold-in, a block's MMR and reasons) cost 10-20x more CPU with
    OpenBLAS's threads than without on a loaded 2-core machine; the plan phase gets its parallelism
    from processes. The controller scans the loaded libraries once per process (``threadpool_limits``
    rescans on every call: ~10 ms with implicit loaded).
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def gram(item_factors: np.ndarray, regularization: float) -> np.ndarray:
    """``Y^T Y + reg I`` in float64: the part of every user's system that does not depend on the user."""
    Y = item_factors.astype(np.float64)
    return Y.T @ Y + regularization * np.eye(Y.shape[1])


def basis(item_factors: np.ndarray, YtY: np.ndarray) -> np.ndarray:
    """``Z = Y (YtY + reg I)^-1`` (items x f, float64): each paper's factor through the shared part of
    every user's system, computed once per model (``YtY`` from :func:`gram`, symmetric positive definite)."""
    return cho_solve(cho_factor(YtY), item_factors.astype(np.float64).T).T


def fold_in(C: sp.csr_matrix, item_factors: np.ndarray, YtY: np.ndarray, Z: np.ndarray | None = None) -> np.ndarray:
    """User factors (users x f, float32) for confidence rows ``C`` (negative = disliked), items fixed.

    ``YtY`` is :func:`gram`, ``Z`` its :func:`basis` (computed here when not given: pass it when
    folding in many batches). Users are solved in batches of similar row length, padded, with one
    batched solve of row-sized systems per batch.
    """
    C = sp.csr_matrix(C)
    f = item_factors.shape[1]
    out = np.zeros((C.shape[0], f), dtype=np.float32)
    counts = np.diff(C.indptr)
    users = np.flatnonzero(counts > 0)
    if len(users) == 0:
        return out
    if Z is None:
        Z = basis(item_factors, YtY)
    users = users[np.argsort(counts[users], kind="stable")]
    start = 0
    while start < len(users):
        # rows are sorted by length: the batch's longest row is its last
        stop = min(len(users), start + max(1, _FOLD_IN_CELLS // _cells(int(counts[users[start]]), f)))
        while stop - start > 1 and _cells(int(counts[users[stop - 1]]), f) * (stop - start) > _FOLD_IN_CELLS:
            stop = start + max(1, (stop - start) // 2)
        out[users[start:stop]] = _solve_batch(C, users[start:stop], item_factors, Z)
        start = stop
    return out


def _cells(width: int, f: int) -> int:
    """float64 cells one user of row length ``width`` takes in a batch (its rows of Y and Z, its system)."""
    return width * (2 * f + width + 2)


def _solve_batch(C: sp.csr_matrix, users: np.ndarray, item_factors: np.ndarray, Z: np.ndarray) -> np.ndarray:
    counts = np.diff(C.indptr)[users]
    width = int(counts.max())
    slot = np.arange(width)[None, :] < counts[:, None]  # (k, width): real entries, the rest padding
    flat = (C.indptr[users][:, None] + np.arange(width)[None, :])[slot]
    idx = np.zeros(slot.shape, dtype=np.int64)
    conf = np.zeros(slot.shape, dtype=np.float64)
    idx[slot], conf[slot] = C.indices[flat], C.data[flat]
    Yi = item_factors[idx].astype(np.float64)  # (k, width, f)
    Zi = Z[idx]  # (k, width, f)
    c = np.abs(conf)
    # padding: w = 0 and p = 0, so its row of the system is the identity's and its q is 0
    w = np.where(slot, c - 1.0, 0.0)
    p = np.where(conf > 0, c, 0.0)
    M = w[:, :, None] * np.matmul(Yi, np.swapaxes(Zi, 1, 2))  # W K, (k, width, width)
    M[:, np.arange(width), np.arange(width)] += 1.0
    q = np.linalg.solve(M, p[..., None])  # (k, width, 1)
    return np.matmul(np.swapaxes(Zi, 1, 2), q)[..., 0].astype(np.float32)
