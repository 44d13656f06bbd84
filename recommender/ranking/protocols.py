"""Scoring tasks of the offline protocols: one ranker in, per-user metrics out.

A :class:`Task` is everything a protocol needs to judge one fitted ranker
(training matrix and content, users, their relevant items, candidates). The
test protocols of :mod:`recommender.ranking.evaluation` and the validation
splits of :mod:`recommender.ranking.tuning` are built from the same task
constructors, so tuning scores a configuration exactly as the test does,
only on data carved from the training interactions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .content import Content
from .metrics import ndcg_at_k, recall_at_k

DIGEST_BATCH = 200

Scores = tuple[dict[str, np.ndarray], np.ndarray | None]
"""Per-observation metric arrays, and the user of each observation (None: one observation per user)."""


@dataclass
class Task:
    """Training data plus a scorer: ``score(ranker)`` returns :data:`Scores`."""

    split: str
    kind: str
    train: sp.csr_matrix
    content: Content
    users: np.ndarray
    score: Callable[[object], Scores]
    vocabulary: Sequence[str] | None = None
    notes: dict = field(default_factory=dict)


def subset_content(content: Content, idx: np.ndarray) -> Content:
    """Content rows ``idx`` of a list of texts or a sparse count matrix."""
    if sp.issparse(content):
        return sp.csr_matrix(content)[idx]
    return [content[i] for i in idx]


def fit_ranker(ranker, task: Task) -> float:
    """Fit ``ranker`` on the task's training data; seconds (plus lazily deferred fitting, e.g. the SVM)."""
    t0 = time.perf_counter()
    if task.vocabulary is not None and sp.issparse(task.content) and hasattr(ranker, "encode_items"):
        ranker.fit(task.train, task.content, vocabulary=task.vocabulary)
    else:
        ranker.fit(task.train, task.content)
    return time.perf_counter() - t0


def rows_of(M: sp.csr_matrix, users: np.ndarray) -> list[np.ndarray]:
    """The column indices of rows ``users`` of a sparse matrix."""
    return [M.indices[M.indptr[u] : M.indptr[u + 1]] for u in users]


def _recalls(ids: np.ndarray, relevant: list[np.ndarray], cutoffs: Sequence[int]) -> dict[str, np.ndarray]:
    return {f"recall@{k}": np.array([recall_at_k(ids[i], rel, k) for i, rel in enumerate(relevant)]) for k in cutoffs}


def warm_task(
    split: str,
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    content: Content,
    users: np.ndarray,
    cutoffs: Sequence[int],
    vocabulary=None,
) -> Task:
    """Rank every item but the user's training items; recall of the test items."""
    relevant = rows_of(test, users)

    def score(ranker) -> Scores:
        ids, _ = ranker.recommend(users, None, max(cutoffs), exclude=train[users])
        return _recalls(ids, relevant, cutoffs), None

    return Task(split, "warm", train, content, users, score, vocabulary)


def cold_task(
    split: str,
    train: sp.csr_matrix,
    held: sp.csr_matrix,
    train_content: Content,
    cold_content: Content,
    users: np.ndarray,
    cutoffs: Sequence[int],
    vocabulary=None,
) -> Task:
    """Rank only the held-out items (as new content) for users with one of them."""
    n_warm = train.shape[1]
    cand_ids = n_warm + np.arange(held.shape[1])
    relevant = [n_warm + r for r in rows_of(held, users)]

    def score(ranker) -> Scores:
        ids, _ = ranker.recommend(users, cand_ids, max(cutoffs), candidate_content=cold_content)
        return _recalls(ids, relevant, cutoffs), None

    return Task(split, "cold", train, train_content, users, score, vocabulary)


def digest_task(
    train: sp.csr_matrix,
    held: sp.csr_matrix,
    train_content: Content,
    cold_content: Content,
    users: np.ndarray,
    seed: int,
    vocabulary=None,
) -> Task:
    """Held-out items in shuffled daily batches of 200: top 10 per (user, batch) with a positive."""
    n_warm = train.shape[1]
    cand_ids = n_warm + np.arange(held.shape[1])
    order = np.random.default_rng(seed + 1).permutation(len(cand_ids))
    batches = [order[i : i + DIGEST_BATCH] for i in range(0, len(order), DIGEST_BATCH)]
    heldc = held[users].tocsc()

    def score(ranker) -> Scores:
        recalls, ndcgs, who = [], [], []
        for batch in batches:
            sub = heldc[:, batch].tocsr()
            active = np.flatnonzero(np.diff(sub.indptr) > 0)
            if len(active) == 0:
                continue
            ids, _ = ranker.recommend(
                users[active], cand_ids[batch], 10, candidate_content=subset_content(cold_content, batch)
            )
            for i, r in enumerate(active):
                rel = cand_ids[batch][sub.indices[sub.indptr[r] : sub.indptr[r + 1]]]
                recalls.append(recall_at_k(ids[i], rel, 10))
                ndcgs.append(ndcg_at_k(ids[i], rel, 10))
                who.append(users[r])
        return {"recall@10": np.array(recalls), "ndcg@10": np.array(ndcgs)}, np.array(who)

    return Task("digest", "digest", train, train_content, users, score, vocabulary)
