"""Prepared candidates: reused, cut and joined, they rank exactly like a fresh preparation.

Serving keeps the user-independent work of recent candidate sets and builds a new set from the
pieces of an old one plus fresh work for the new papers; that is only sound if every term is per
candidate. Checked over random subsets, orders and splits, with new papers, categories and MMR.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking import HybridRecommender, PreparedCandidates

from .fixtures.make_artifacts import PARAMS, world_small

WORLD = world_small()
MODEL = HybridRecommender(**PARAMS).fit(WORLD.interactions, WORLD.texts)
N_ITEMS = WORLD.interactions.shape[1]
POOL = np.concatenate([np.arange(N_ITEMS), N_ITEMS + np.arange(20)])
TEXT = {int(c): WORLD.texts[c] if c < N_ITEMS else WORLD.texts[c - N_ITEMS][::-1] for c in POOL}


def rank(prepared: PreparedCandidates):
    rows = WORLD.interactions[:10]
    return MODEL.recommend_for_rows(
        rows, n=12, categories=[["cs.LG"]] * 10, diversity=0.3, return_reasons=True, prepared=prepared
    )


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.sampled_from(POOL.tolist()), min_size=3, max_size=60, unique=True),
    st.integers(min_value=1, max_value=59),
    st.randoms(use_true_random=False),
)
def test_joined_pieces_rank_like_a_fresh_preparation(cands, cut, rnd):
    cands = np.array(cands, dtype=np.int64)
    cut = min(cut, len(cands) - 1)
    fresh = MODEL.prepare_candidates(cands, candidate_content=[TEXT[int(x)] for x in cands]).with_similarity()
    # pieces keep every dense cosine whenever the blend uses the centroid at all (as serving prepares them)
    centroid = bool(MODEL.blend_[:, 1].any())
    prepare = lambda c: MODEL.prepare_candidates(c, candidate_content=[TEXT[int(x)] for x in c], centroid=centroid)  # noqa: E731
    order = list(range(len(cands)))
    rnd.shuffle(order)
    # an "old" set holding the first part in another order, plus fresh work for the rest
    old = prepare(cands[order[:cut]][::-1]).take(np.arange(cut)[::-1])
    joined = PreparedCandidates.concat([old, prepare(cands[order[cut:]])])
    back = np.argsort(order)
    assembled = joined.take(back).with_similarity()
    np.testing.assert_array_equal(assembled.candidates, cands)
    for a, b in zip(rank(assembled), rank(fresh), strict=True):
        np.testing.assert_array_equal(a, b)


def test_prepared_from_another_model_is_refused():
    other = HybridRecommender(**PARAMS).fit(WORLD.interactions, WORLD.texts)
    with pytest.raises(ValueError, match="another model"):
        MODEL.recommend_for_rows(WORLD.interactions[:2], prepared=other.prepare_candidates(np.arange(10)))
