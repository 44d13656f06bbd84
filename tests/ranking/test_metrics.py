"""Metrics on hand-computed toy cases, and the split helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.ranking.datasets import make_cold_split, make_p_split
from recommender.ranking.metrics import ndcg_at_k, recall_at_k
from recommender.ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS, build_matrices


def test_recall_divides_by_number_of_test_items():
    ranked = np.array([5, 3, 9, 1, 7])
    assert recall_at_k(ranked, np.array([3, 7, 100]), 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranked, np.array([3, 7, 100]), 5) == pytest.approx(2 / 3)
    # not min(k, |test|): one slot, two relevant items, one hit -> 1/2
    assert recall_at_k(ranked, np.array([5, 9]), 1) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        recall_at_k(ranked, np.array([]), 3)


def test_ndcg_hand_computed():
    ranked = np.array([4, 2, 8, 6])
    # hits at ranks 2 and 4 (1-based); ideal has both at ranks 1 and 2
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, np.array([2, 6]), 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranked, np.array([4]), 10) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, np.array([99]), 10) == 0.0
    # cut-off: relevant item beyond k does not count; ideal limited to k
    assert ndcg_at_k(ranked, np.array([6, 4]), 1) == pytest.approx(1.0)
    assert ndcg_at_k(ranked, np.array([6]), 3) == 0.0


def test_p_split_and_cold_split():
    X = sp.csr_matrix(np.array([[1, 1, 1, 0, 1], [0, 1, 0, 0, 0], [1, 0, 1, 1, 0]], dtype=float))
    train, test = make_p_split(X, 2, seed=0)
    assert np.diff(train.indptr).tolist() == [2, 1, 2]
    assert np.diff(test.indptr).tolist() == [2, 0, 1]
    assert (train + test - X).nnz == 0
    warm, cold = make_cold_split(X, 0.4, seed=0)
    assert len(cold) == 2 and len(np.intersect1d(warm, cold)) == 0 and len(warm) + len(cold) == 5


def test_kind_weights_cover_all_kinds_and_negatives_are_separate():
    assert set(KIND_WEIGHTS) == {"save", "upvote", "thumbs_up", "click", "thumbs_down", "not_interested"}
    assert KIND_WEIGHTS["save"] > KIND_WEIGHTS["click"] > 0
    pos, neg = build_matrices([(0, 1, "save"), (0, 1, "click"), (1, 2, "thumbs_down")], 2, 3)
    assert pos[0, 1] == KIND_WEIGHTS["save"] + KIND_WEIGHTS["click"]
    assert neg[1, 2] == KIND_WEIGHTS["thumbs_down"] and pos[1, 2] == 0
    assert {"thumbs_down", "not_interested"} == NEGATIVE_KINDS
    with pytest.raises(KeyError):
        build_matrices([(0, 0, "bookmark")], 1, 1)
