"""List invariants of every ranking entry point, over generated inputs.

Whatever the candidates, exclusions, prior, ``n`` and diversity: the returned
ids are unique, are candidates, are never excluded, and there are exactly
``min(n, eligible candidates)`` of them before the -1 padding. The production
model with MMR once returned the best paper over and over when fewer
candidates than ``n`` were left (issue 17): these properties catch that class.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.ranking.content import ContentEncoder
from recommender.ranking.diversity import mmr
from recommender.ranking.synthetic import make_texts

N_NEW = 30
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def new_texts():
    return make_texts(np.arange(N_NEW) % 8, 8, np.random.default_rng(5))


def assert_list_invariants(ids, candidates, excluded_per_row, n):
    """Unique, valid, never excluded, as long as the eligible candidates allow, padded with -1."""
    candidates = np.asarray(candidates)
    assert ids.shape[1] == n
    for row, excluded in zip(ids, excluded_per_row, strict=True):
        eligible = set(candidates.tolist()) - set(excluded)
        k = min(n, len(eligible))
        head, tail = row[:k].tolist(), row[k:].tolist()
        assert len(set(head)) == len(head), f"a paper twice in one list: {head}"
        assert set(head) <= eligible, f"returned {set(head) - eligible} (excluded or not a candidate)"
        assert tail == [-1] * (n - k), f"expected {k} picks then padding, got {row.tolist()}"


@st.composite
def requests(draw, n_users: int, n_items: int):
    """A ranking request: users, candidates (maybe new, maybe repeated), exclusions, prior, n, diversity."""
    users = draw(st.lists(st.integers(0, n_users - 1), min_size=1, max_size=6))
    known = draw(st.lists(st.integers(0, n_items - 1), min_size=1, max_size=60))
    new = draw(st.lists(st.integers(0, N_NEW - 1), max_size=10))
    candidates = np.array(known + [n_items + j for j in new], dtype=np.int64)
    pool = sorted(set(candidates.tolist()))
    excluded = [draw(st.lists(st.sampled_from(pool), max_size=len(pool))) for _ in users]
    n = draw(st.integers(1, 40))
    diversity = draw(st.sampled_from([0.0, 0.3, 0.7]))
    with_prior = draw(st.booleans())
    return users, candidates, excluded, n, diversity, with_prior


def _content(candidates, world, new_texts):
    n_items = world.interactions.shape[1]
    return [world.texts[c] if c < n_items else new_texts[c - n_items] for c in candidates.tolist()]


@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_recommend_for_rows_lists(model, world, new_texts, data):
    users, candidates, excluded, n, diversity, with_prior = data.draw(requests(*world.interactions.shape))
    rows = world.interactions[users]
    rng = np.random.default_rng(len(candidates))
    prior = rng.random(len(candidates)) if with_prior else None
    negatives = rows.multiply(rng.random(rows.shape) < 0.2).tocsr()  # some of their papers voted down
    categories = [data.draw(st.sampled_from([None, "", ["cs.LG"], "stat.ML cs.CL"])) for _ in users]
    ids, scores = model.recommend_for_rows(
        rows - negatives,
        candidates,
        n=n,
        negative_rows=negatives,
        categories=categories,
        candidate_content=_content(candidates, world, new_texts),
        exclude=[np.array(e, dtype=np.int64) for e in excluded],
        prior=prior,
        diversity=diversity,
    )
    assert_list_invariants(ids, candidates, excluded, n)
    assert np.all(np.isfinite(scores) == (ids >= 0))


@pytest.mark.slow
@SETTINGS
@given(data=st.data())
def test_recommend_lists(model, world, data):
    users, candidates, excluded, n, diversity, with_prior = data.draw(requests(*world.interactions.shape))
    candidates = candidates[candidates < world.interactions.shape[1]]
    if len(candidates) == 0:
        return
    excluded = [[x for x in e if x in set(candidates.tolist())] for e in excluded]
    ids, _ = model.recommend(
        np.array(users), candidates, n, exclude=[np.array(e, dtype=np.int64) for e in excluded], diversity=diversity
    )
    assert_list_invariants(ids, candidates, excluded, n)


def test_mmr_never_repeats_when_candidates_run_out():
    """Two eligible candidates, ten asked: two distinct positions, then non-finite ones (never the best again)."""
    scores = np.full((1, 60), -np.inf)
    scores[0, [7, 30]] = [2.0, 1.0]
    emb = np.eye(60)
    pos = mmr(scores, emb, 10, 0.3)
    assert len(set(pos[0].tolist())) == 10
    assert pos[0, :2].tolist() == [7, 30]
    assert not np.isfinite(scores[0, pos[0, 2:]]).any()


@pytest.fixture(scope="module")
def encoder(world):
    """An encoder fitted on the world's papers, as serving's archive encoder is fitted on the archive."""
    return ContentEncoder(n_features=2**16, min_df=1, n_components=16).fit(world.texts)


@SETTINGS
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 30),
    n_cands=st.integers(1, 40),
    n_users=st.integers(1, 5),
    no_words=st.booleans(),
)
def test_content_only_rank_lists(world, encoder, seed, n, n_cands, n_users, no_words):
    """The no-model fallback obeys the same contract (positions into the candidate list) over encoder rows;
    rows of no feature (an archive without a word to fit an encoder on) are similar to nothing."""
    from recommender.ranking import REASON_NONE, REASON_TRENDING
    from recommender.ranking.content_only import content_only_rank

    rng = np.random.default_rng(seed)
    cand_texts = [world.texts[i] for i in rng.integers(0, len(world.texts), n_cands)]
    liked_texts = [world.texts[i] for i in rng.integers(0, len(world.texts), 8)]
    liked = [rng.choice(8, size=int(rng.integers(0, 4)), replace=False).tolist() for _ in range(n_users)]
    excluded = rng.random((n_users, n_cands)) < rng.random()
    prior = rng.random((n_users, n_cands)).astype(np.float32)
    rows = (
        (sp.csr_matrix((n_cands, 0)), sp.csr_matrix((8, 0)))
        if no_words
        else (encoder.transform_sparse(cand_texts), encoder.transform_sparse(liked_texts))
    )
    pos, scores, reasons = content_only_rank(
        candidate_rows=rows[0],
        liked_rows=rows[1],
        liked=liked,
        excluded=excluded,
        prior=prior,
        n=n,
    )
    assert_list_invariants(pos, np.arange(n_cands), [np.flatnonzero(row).tolist() for row in excluded], n)
    assert np.all(np.isfinite(scores) == (pos >= 0))
    assert reasons.shape == pos.shape
    for r, mine in enumerate(liked):  # a reason is one of the row's own liked papers, or trending
        allowed = {REASON_TRENDING} if no_words else set(mine) | {REASON_TRENDING}
        assert set(reasons[r][pos[r] >= 0].tolist()) <= allowed
        assert set(reasons[r][pos[r] < 0].tolist()) <= {REASON_NONE}
