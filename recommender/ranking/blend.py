"""Choosing the blend weights by an inner validation split of the training interactions.

``select_blend`` holds out part of the training data (never a test split), fits ALS without it,
scores a grid of blends by re-weighting the same z-scored terms (no refit per grid point) and keeps,
for warm and for cold candidates, the blend the one-standard-error rule prefers. The model only
calls :func:`select_blend` and :func:`default_blend`; everything here is about validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .scoring import zscore
from .selection import top_n

if TYPE_CHECKING:
    from .hybrid import HybridRecommender

TERMS = ("knn", "centroid", "cf")
"""Blend terms, in the column order of ``blend_`` (rows: warm candidates, cold candidates)."""
MIN_VALIDATION_USERS = 20
CONTENT_MIX = (0.0, 0.25, 0.5, 0.75, 1.0)
CF_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def cf_reliability(n_interactions: int, cf_evidence: float) -> float:
    """Trust in the collaborative term, from the amount of training data."""
    nnz = float(n_interactions)
    return nnz / (nnz + cf_evidence) if cf_evidence > 0 else 1.0


def default_blend(model: HybridRecommender) -> np.ndarray:
    """Blend weights from the hyperparameters (used when validation cannot run), warm and cold rows."""
    rel = cf_reliability(model.n_interactions_, model.cf_evidence)
    row = [model.knn_weight, model.centroid_weight, model.cf_weight * rel]
    return np.array([row, row], dtype=np.float32)


def blend_grid(model: HybridRecommender) -> list[tuple[float, float, float]]:
    """Candidate (knn, centroid, cf) weights; a term switched off (0) stays off."""
    grid = []
    for lam in CONTENT_MIX:
        knn, cen = (1.0 - lam) * (model.knn_weight > 0), lam * (model.centroid_weight > 0)
        for cf in CF_GRID:
            cf = cf * (model.cf_weight > 0)
            if knn + cen + cf == 0:
                continue
            grid.append((knn, cen, cf))
    return sorted(set(grid), key=grid.index)


def select_blend(model: HybridRecommender, R: sp.csr_matrix, N: sp.csr_matrix) -> bool:
    """Set ``model.blend_`` by an inner validation split of the training interactions; True if it ran.

    Two held-out tasks on one ALS model fitted without them: *warm* (one random item per user with
    at least two, its other readers kept) and *cold* (10% of the papers with interactions, removed
    with all of them, ranked as new papers). Each task scores a grid of blends by re-weighting the
    same score components (no refit); the winner of each task becomes the weights for warm / cold
    candidates. Small data sets (users + papers + interactions under 30,000) repeat the split up to
    5 times (ALS is cheap there) to reduce the variance of the choice. A task with fewer than 20
    users keeps the defaults (e.g. one item per user: nothing to hold out).
    """
    # ALS cost grows with users + items + interactions: repeat only where a fit is cheap
    repeats = int(np.clip(60_000 // max(R.nnz + R.shape[0] + R.shape[1], 1), 1, 5))
    tasks: dict[str, list] = {"warm": [], "cold": []}
    for rep in range(repeats):
        rng = np.random.default_rng(model.random_state + 17 + rep)
        split = inner_split(R, N, rng, candidates=model.validation_candidates, users=model.validation_users)
        if split is None:
            break
        R_in, N_in, warm, cold = split
        model.item_counts_ = np.asarray((R_in > 0).sum(axis=0)).ravel().astype(np.int64)
        model.n_interactions_ = int(R_in.nnz)
        model.fit_als(R_in, N_in)
        if warm is not None:
            tasks["warm"].append(validation_task(model, R_in, N_in, *warm, exclude=True))
        if cold is not None:
            tasks["cold"].append(validation_task(model, R_in, N_in, *cold, exclude=False))
    for row, kind in enumerate(("warm", "cold")):
        if tasks[kind]:
            model.blend_[row] = grid_search(model, tasks[kind], model.blend_[row].copy())
            model.blend_source_[row] = "validation"
    return bool(tasks["warm"] or tasks["cold"])


def inner_split(R: sp.csr_matrix, N: sp.csr_matrix, rng: np.random.Generator, *, candidates: int, users: int):
    """One inner split: ``(R_in, N_in, warm, cold)``, a task being ``(users, cands, rel, ks)`` or None."""
    n_users, n_items = R.shape
    counts = np.asarray((R > 0).sum(axis=0)).ravel()
    pool = np.flatnonzero(counts > 0)
    # candidates per task: the neighbour graph costs n_items x candidates cells (2.5e7: ~2.5 s per task;
    # 1,000 candidates up to 25k papers, 250 at 100k, where 1M interactions must fit in under a minute)
    budget = int(min(candidates, max(200, 2.5e7 // max(n_items, 1))))
    n_cold = min(int(round(0.1 * len(pool))), budget)
    cold = np.sort(rng.choice(pool, n_cold, replace=False)) if n_cold >= 20 else np.zeros(0, np.int64)
    is_cold = np.zeros(n_items, dtype=bool)
    is_cold[cold] = True
    rows = np.repeat(np.arange(n_users), np.diff(R.indptr))
    cols = R.indices
    entry_cold = is_cold[cols]
    key = rng.random(len(cols))
    key[entry_cold] = -1.0
    order = np.lexsort((key, rows))  # by user, then key: each user's last entry is its pick
    n_warm_entries = np.bincount(rows[~entry_cold], minlength=n_users)
    eligible = np.flatnonzero(n_warm_entries >= 2)
    picks = order[R.indptr[eligible + 1] - 1]
    keep = ~entry_cold
    keep[picks] = False
    R_in = sp.csr_matrix((R.data[keep], (rows[keep], cols[keep])), shape=R.shape, dtype=np.float32)
    # every warm user brings its held-out paper into the candidates: at most half of them
    warm_users = _sample(rng, eligible, min(users, budget // 2) if budget < n_items else users)
    held_warm = np.full(n_users, -1, dtype=np.int64)
    held_warm[eligible] = cols[picks]
    ones = np.ones(int(entry_cold.sum()), np.float32)
    cold_rows = sp.csr_matrix((ones, (rows[entry_cold], cols[entry_cold])), shape=R.shape)
    has_cold = np.diff(cold_rows.indptr) > 0
    has_train = np.diff(R_in.indptr) > 0
    cold_users = _sample(rng, np.flatnonzero(has_cold & has_train), users)
    warm = cold_task = None
    if len(warm_users) >= MIN_VALIDATION_USERS:
        warm = _warm_task(rng, warm_users, held_warm, n_items, budget)
    if len(cold_users) >= MIN_VALIDATION_USERS and len(cold) >= 20:
        rel = cold_rows[cold_users][:, cold].tocsr()
        ks = (max(5, round(0.01 * len(cold))), max(10, round(0.05 * len(cold))))
        cold_task = (cold_users, cold, rel, ks)
    if warm is None and cold_task is None:
        return None
    N_in = N
    if len(cold):
        N_in = (N @ sp.diags((~is_cold).astype(np.float32))).tocsr()
    return R_in, N_in, warm, cold_task


def _warm_task(rng, warm_users: np.ndarray, held_warm: np.ndarray, n_items: int, budget: int):
    """The warm task: each user's held-out paper among ``budget`` candidates (all papers when fewer)."""
    m = min(n_items, budget)
    if m < n_items:
        held = np.unique(held_warm[warm_users])
        rest = rng.choice(np.setdiff1d(np.arange(n_items), held), max(0, m - len(held)), replace=False)
        cands = np.sort(np.concatenate([held, rest]))
    else:
        cands = np.arange(n_items)
    at = np.searchsorted(cands, held_warm[warm_users])
    rel = sp.csr_matrix(
        (np.ones(len(warm_users), np.float32), (np.arange(len(warm_users)), at)),
        shape=(len(warm_users), len(cands)),
    )
    scale = len(cands) / n_items
    return warm_users, cands, rel, (max(5, round(50 * scale)), max(20, round(300 * scale)))


def _sample(rng: np.random.Generator, users: np.ndarray, limit: int) -> np.ndarray:
    if len(users) > limit:
        users = np.sort(rng.choice(users, limit, replace=False))
    return users


def validation_task(model: HybridRecommender, R_in, N_in, users, cands, rel: sp.csr_matrix, ks, *, exclude: bool):
    """z-scored score components of the held-out users over the task's candidates."""
    prepared = model.prepare_candidates(cands, centroid=True)
    P, Nn = R_in[users], N_in[users]
    knn, cen, cf = model.score_terms(P, Nn, model.user_factors_[users], prepared)
    n_u = np.diff(P.indptr).astype(np.float32)
    rel_d = rel.toarray() > 0
    return {
        "Z": (zscore(knn), zscore(cen), zscore(cf) * (n_u / (n_u + model.cf_shrink))[:, None]),
        "mask": P[:, cands].toarray() > 0 if exclude else None,
        "rel": rel_d,
        "n_rel": np.maximum(rel_d.sum(axis=1), 1),
        "ks": ks,
    }


def _per_user_recall(tasks: list[dict], w) -> np.ndarray:
    """Held-out recall of blend ``w`` per user (mean over each task's cut-offs), all tasks concatenated."""
    out = []
    for t in tasks:
        Z = t["Z"]
        total = w[0] * Z[0] + w[1] * Z[1] + w[2] * Z[2]
        if t["mask"] is not None:
            total = np.where(t["mask"], -np.inf, total)
        kmax = min(max(t["ks"]), total.shape[1])
        hits = np.take_along_axis(t["rel"], top_n(total, kmax), axis=1)
        out.append(np.mean([hits[:, : min(k, kmax)].sum(axis=1) / t["n_rel"] for k in t["ks"]], axis=0))
    return np.concatenate(out)


def _distance(w, default) -> float:
    """How far blend ``w`` is from ``default``: content mix (L1 of shares) + log ratio of CF weights."""
    d = np.asarray(w, np.float64), np.asarray(default, np.float64)
    d[0][:2] /= max(d[0][:2].sum(), 1e-12)
    d[1][:2] /= max(d[1][:2].sum(), 1e-12)
    return float(np.abs(d[0][:2] - d[1][:2]).sum() + abs(np.log2((1 + d[0][2]) / (1 + d[1][2]))))


def _choose(tasks: list[dict], grid: list, default: np.ndarray) -> tuple:
    """One-standard-error rule: of the blends within one SE of the best, the one closest to ``default``."""
    scores = np.array([_per_user_recall(tasks, w) for w in grid])
    best = int(np.argmax(scores.mean(axis=1)))
    diff = scores[best] - scores
    se = diff.std(axis=1, ddof=1) / np.sqrt(scores.shape[1]) if scores.shape[1] > 1 else 0.0
    near = np.flatnonzero(diff.mean(axis=1) <= se)
    return grid[min(near, key=lambda i: (_distance(grid[i], default), i))]


def grid_search(model: HybridRecommender, tasks: list[dict], default: np.ndarray) -> np.ndarray:
    """Blend weights for one kind of held-out task (see :func:`select_blend`).

    Each grid point gets its per-user held-out recall (mean over the task's cut-offs and repeats).
    The choice follows the one-standard-error rule (of the paired per-user difference): on small
    data the differences are noise and the defaults stay; on large data the best blend wins.
    """
    return np.asarray(_choose(tasks, blend_grid(model), default), dtype=np.float32)
