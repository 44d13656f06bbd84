"""The same tuning budget for every method, on validation data carved from the training interactions.

A reviewer's first question about a new model's win is whether the baselines
were tuned as carefully as the model. Here every method gets ``budget``
configurations (its defaults first, then distinct random draws from its grid
in :data:`SPACES`; fewer if its grid is smaller), each fitted on a
*validation split of the training interactions* and scored by recall@50 on
it. The winner is refitted on the full training data and only then meets the
test split, once. The test split is never an argument of anything here.

Validation splits mirror the test protocol they stand in for:

* warm: for users with at least two training items, 20% of them (at least
  one) are held out; rank every item but the kept ones. Where no user has
  two training items (P=1) nothing can be held out and every method keeps
  its defaults (the row says so).
* cold / digest: 20% of the training items are held out with all their
  interactions and ranked from content as new papers.

At most ``max_users`` validation users (a fixed sample) are scored per
configuration: the same users for every method.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .content import Content
from .datasets import lists_to_csr, make_cold_split
from .protocols import Task, cold_task, fit_ranker, subset_content, warm_task

DEFAULT_BUDGET = 8
"""Configurations per method (defaults included) unless ``--tune-budget`` says otherwise."""
DEFAULT_USERS = 500
VALIDATION_FRACTION = 0.2
METRIC = "recall@50"

K_GRID = (5, 10, 20, 50, 100, 200, 400, 800)
SHRINK_GRID = (0, 1, 5, 10, 25, 50, 100, 200, 500, 1000)

SPACES: dict[str, dict[str, Sequence]] = {
    "random": {},
    "popular": {},
    "itemknn-cf": {"k": K_GRID, "shrink": SHRINK_GRID},
    "rp3beta": {
        "alpha": (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0),
        "beta": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0),
        "k": K_GRID,
    },
    "ease": {"l2": (1.0, 5.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 1e4, 5e4)},
    "ials": {
        "factors": (32, 64, 128, 256, 512),
        "regularization": (0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0),
        "alpha": (1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0),
        "iterations": (10, 15, 25),
    },
    "itemknn-cbf": {"k": K_GRID, "power": (1.0, 1.5, 2.0, 3.0)},
    "itemknn-cfcbf": {"k": K_GRID, "shrink": SHRINK_GRID, "icm_weight": (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)},
    "svm-tfidf": {"C": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)},
    "ours": {
        "factors": (64, 128, 256),
        "regularization": (1.0, 3.0, 10.0, 30.0),
        "alpha": (5.0, 10.0, 20.0, 40.0),
        "knn_neighbors": (50, 100, 200),
        "knn_power": (1.0, 1.5, 2.0, 3.0),
        "factor_smoothing": (0.0, 2.0, 5.0, 10.0),
    },
}
"""Search space per method: parameter -> values (the method's own defaults are always tried first)."""


@dataclass
class Tuned:
    """What tuning chose and how: ``params`` go to the method's constructor."""

    params: dict
    source: str
    n_configs: int = 1
    val_score: float | None = None
    seconds: float = 0.0
    trials: list = field(default_factory=list)

    def row(self) -> dict:
        """Fields for a result row (JSON; numeric ones also in the table)."""
        out = {
            "params": self.params,
            "tuning": self.source,
            "configs": self.n_configs,
            "tune_s": round(self.seconds, 1),
        }
        if self.val_score is not None:
            out[f"val_{METRIC}"] = round(self.val_score, 4)
        return out


def configurations(space: dict[str, Sequence], budget: int, seed: int = 0) -> list[dict]:
    """``budget`` distinct configurations: ``{}`` (the defaults), then random grid points (all if fewer)."""
    budget = max(1, int(budget))
    names = sorted(space)
    if not names:
        return [{}]
    grid_size = int(np.prod([len(space[n]) for n in names]))
    if grid_size + 1 <= budget:
        return [{}] + [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]
    rng = np.random.default_rng(seed)
    out, seen = [{}], set()
    while len(out) < budget:
        combo = tuple(int(rng.integers(len(space[n]))) for n in names)
        if combo not in seen:
            seen.add(combo)
            out.append({n: _plain(space[n][i]) for n, i in zip(names, combo, strict=True)})
    return out


def _plain(value):
    """Grid values as plain Python numbers (JSON-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def _sample(rng: np.random.Generator, users: np.ndarray, limit: int) -> np.ndarray:
    if limit and len(users) > limit:
        return np.sort(rng.choice(users, limit, replace=False))
    return users


def warm_validation(
    train: sp.csr_matrix, content: Content, seed: int = 0, max_users: int = DEFAULT_USERS, vocabulary=None
) -> Task | None:
    """Hold out 20% (at least one) of the training items of every user with two or more; None if nobody has."""
    rng = np.random.default_rng(seed + 101)
    X = sp.csr_matrix(train)
    kept, held = [], []
    for u in range(X.shape[0]):
        items = X.indices[X.indptr[u] : X.indptr[u + 1]].copy()
        n_out = max(1, int(round(VALIDATION_FRACTION * len(items)))) if len(items) >= 2 else 0
        rng.shuffle(items)
        held.append(np.sort(items[:n_out]))
        kept.append(np.sort(items[n_out:]))
    fit, out = lists_to_csr(kept, X.shape[1]), lists_to_csr(held, X.shape[1])
    eligible = np.flatnonzero(np.diff(out.indptr) > 0)
    if len(eligible) == 0:
        return None
    users = _sample(rng, eligible, max_users)
    return warm_task("validation", fit, out, content, users, (50,), vocabulary)


def cold_validation(
    train: sp.csr_matrix, content: Content, seed: int = 0, max_users: int = DEFAULT_USERS, vocabulary=None
) -> Task | None:
    """Hold out 20% of the training items with all their interactions, to be ranked as new papers."""
    rng = np.random.default_rng(seed + 103)
    kept, out = make_cold_split(train, VALIDATION_FRACTION, seed + 103)
    X = sp.csr_matrix(train).tocsc()
    fit, held = X[:, kept].tocsr(), X[:, out].tocsr()
    eligible = np.flatnonzero((np.diff(fit.indptr) > 0) & (np.diff(held.indptr) > 0))
    if len(eligible) == 0 or len(out) == 0:
        return None
    users = _sample(rng, eligible, max_users)
    return cold_task(
        "validation",
        fit,
        held,
        subset_content(content, kept),
        subset_content(content, out),
        users,
        (50,),
        vocabulary,
    )


def tune(
    make: Callable[[dict], object],
    space: dict[str, Sequence],
    validation: Task | None,
    budget: int,
    seed: int = 0,
    log=None,
) -> Tuned:
    """Fit each configuration on ``validation.train``, keep the best recall@50 (ties: the earlier)."""
    configs = configurations(space, budget, seed)
    if validation is None:
        return Tuned({}, "defaults: nothing to hold out (no user has two training items)")
    if len(configs) == 1:
        return Tuned({}, "defaults: nothing to tune")
    t0 = time.perf_counter()
    trials = []
    for params in configs:
        ranker = make(params)
        fit_ranker(ranker, validation)
        value = float(np.mean(validation.score(ranker)[0][METRIC]))
        trials.append((params, round(value, 5)))
        if log is not None:
            log(f"    tune {params} -> {METRIC} {value:.4f}")
    best = int(np.argmax([v for _, v in trials]))
    return Tuned(
        trials[best][0],
        f"validation ({len(validation.users)} users)",
        len(configs),
        trials[best][1],
        time.perf_counter() - t0,
        trials,
    )
