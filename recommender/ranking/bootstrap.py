"""Paired bootstrap over users: how sure is a difference between two methods on the same users?

Two methods scored on the same users differ by user more than the means
suggest (some users are easy for both); resampling *users* and recomputing
the difference of means on each resample keeps that pairing. Observations
can be grouped (the digest protocol scores one (user, day) pair per
observation): a resample then draws whole users with all their days, and the
mean is over the drawn observations.
"""

from __future__ import annotations

import numpy as np

N_RESAMPLES = 1000
SEED = 0


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """``(mean(a) - mean(b), lo, hi)``: the difference and its percentile confidence interval.

    ``a`` and ``b`` are per-observation scores of two methods on the same
    observations; ``groups`` (optional) names the user of each observation,
    the unit that is resampled. Fixed ``seed``: the same inputs give the same
    interval.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be two 1-d arrays of one length, got {a.shape} and {b.shape}")
    if len(a) == 0:
        raise ValueError("no observations to compare")
    if groups is None:
        groups = np.arange(len(a))
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(g.max()) + 1
    diff_sum = np.bincount(g, weights=a - b, minlength=n_groups)
    count = np.bincount(g, minlength=n_groups).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    chunk = max(1, int(2e6 // n_groups))
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n_groups, size=(min(chunk, n_resamples - start), n_groups))
        draws[start : start + len(idx)] = diff_sum[idx].sum(axis=1) / count[idx].sum(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(draws, [tail, 100.0 - tail])
    return float(diff_sum.sum() / count.sum()), float(lo), float(hi)
