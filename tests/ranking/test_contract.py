"""One contract, every ranker: the production model and all evaluation baselines."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.ranking.evaluation import METHODS, WARM_ONLY, make_ranker
from recommender.ranking.synthetic import make_texts

SMALL_HYBRID = {"factors": 16, "iterations": 5, "n_components": 16}


def rankers(names) -> list:
    """The rankers to parametrize over; ``ours`` (inner validation: over a second each fit) is marked slow."""
    return [pytest.param(n, marks=pytest.mark.slow) if n == "ours" else n for n in names]


def fitted(name, world, seed=0):
    ranker = make_ranker(name, seed)
    if name == "ours":
        ranker.set_params(**SMALL_HYBRID)
    return ranker, ranker.fit(world.interactions, world.texts)


@pytest.mark.parametrize("name", rankers(METHODS))
def test_fit_returns_self_and_shapes(name, world):
    ranker, out = fitted(name, world)
    assert out is ranker
    users = np.array([0, 5, 7])
    ids, scores = ranker.recommend(users, np.arange(50), n=10)
    assert ids.shape == (3, 10) and scores.shape == (3, 10)
    assert np.all((ids >= 0) & (ids < 50))
    assert np.all(np.diff(scores, axis=1) <= 1e-6), "scores must be sorted best first"
    assert all(len(set(row)) == 10 for row in ids), "no duplicates in a list"


@pytest.mark.parametrize("name", rankers(METHODS))
def test_excluded_items_never_returned(name, world):
    ranker, _ = fitted(name, world)
    users = np.arange(10)
    X = world.interactions
    exclude = [X.indices[X.indptr[u] : X.indptr[u + 1]] for u in users]
    ids, _ = ranker.recommend(users, None, n=100, exclude=exclude)
    for row, ex in zip(ids, exclude, strict=True):
        assert len(ex) > 0
        assert not np.isin(row, ex).any()
    ids_csr, _ = ranker.recommend(users, None, n=100, exclude=X[users])
    np.testing.assert_array_equal(ids, ids_csr)


@pytest.mark.parametrize("name", rankers(METHODS))
def test_short_candidate_list_is_padded(name, world):
    ranker, _ = fitted(name, world)
    ids, scores = ranker.recommend([1], np.array([3, 4, 5]), n=5, exclude=[np.array([4])])
    assert sorted(ids[0, :2].tolist()) == [3, 5]
    assert ids[0, 2:].tolist() == [-1, -1, -1]
    assert np.all(np.isneginf(scores[0, 2:]))


@pytest.mark.parametrize("name", rankers(METHODS))
def test_deterministic_with_seed(name, world):
    _, a = fitted(name, world, seed=1)
    _, b = fitted(name, world, seed=1)
    users = np.arange(20)
    np.testing.assert_array_equal(a.recommend(users, None, 20)[0], b.recommend(users, None, 20)[0])


@pytest.mark.parametrize("name", rankers(sorted(set(METHODS) - WARM_ONLY - {"random"})))
def test_new_items_ranked_by_content(name, world):
    """Brand-new papers from a user's topics must beat new papers from other topics."""
    ranker, _ = fitted(name, world)
    rng = np.random.default_rng(11)
    n_new = 80
    topics = rng.integers(0, 8, size=n_new)
    texts = make_texts(topics, 8, rng)
    cand = world.interactions.shape[1] + np.arange(n_new)
    users = np.arange(40)
    ids, _ = ranker.recommend(users, cand, n=5, candidate_content=texts)
    hits = []
    for u, row in zip(users, ids, strict=True):
        hits.append(np.isin(topics[row - world.interactions.shape[1]], world.user_topics[u]).mean())
    base = np.mean([np.isin(topics, world.user_topics[u]).mean() for u in users])
    assert np.mean(hits) > 0.9 and np.mean(hits) > base + 0.3
