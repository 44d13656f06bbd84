"""Ranking metrics for the offline protocols (pure numpy, hand-checkable).

recall@M follows the corrected CVAE / Dacrema et al. protocol: hits in the
top M divided by the number of test items of the user (not min(M, |test|)).
"""

from __future__ import annotations

import numpy as np


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Hits of ``relevant`` among the first ``k`` of ``ranked`` / ``len(relevant)``."""
    relevant = np.asarray(relevant)
    if len(relevant) == 0:
        raise ValueError("recall is undefined without relevant items")
    return float(np.isin(np.asarray(ranked)[:k], relevant).sum() / len(relevant))


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Binary-relevance nDCG@k (log2 discount, ideal = all relevant items first)."""
    relevant = np.asarray(relevant)
    if len(relevant) == 0:
        raise ValueError("nDCG is undefined without relevant items")
    top = np.asarray(ranked)[:k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(discounts[: len(top)][np.isin(top, relevant)].sum())
    ideal = float(discounts[: min(len(relevant), k)].sum())
    return dcg / ideal
