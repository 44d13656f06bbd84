"""The vectorised ranking steps compute what their per-user definitions say.

Fold-in goes through the push-through identity instead of one f x f solve per user, MMR picks for
all users at once, exclusions are looked up in a table: each is checked here against the plain
per-user computation it replaced, over generated inputs (negatives, confidences below 1, empty
and long rows, -inf scores and ties, repeated candidates, ids far outside the candidates).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking import HybridRecommender, als
from recommender.ranking.diversity import mmr
from recommender.ranking.scoring import REASON_NONE, REASON_TRENDING, pick_reasons
from recommender.ranking.selection import exclusion_mask, first_positions, top_n
from tests.ranking.small import SMALL


def _direct_fold_in(C: sp.csr_matrix, Y: np.ndarray, YtY: np.ndarray) -> np.ndarray:
    """Implicit's user step as written: ``(YtY + reg I + Y_u^T (C_u - I) Y_u) x = Y_u^T C_u p_u``."""
    Y64 = Y.astype(np.float64)
    out = np.zeros((C.shape[0], Y.shape[1]))
    for u in range(C.shape[0]):
        idx, conf = C.indices[C.indptr[u] : C.indptr[u + 1]], C.data[C.indptr[u] : C.indptr[u + 1]].astype(float)
        if len(idx):
            c = np.abs(conf)
            A = YtY + Y64[idx].T @ ((c - 1.0)[:, None] * Y64[idx])
            out[u] = np.linalg.solve(A, Y64[idx].T @ np.where(conf > 0, c, 0.0))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("f", [4, 32, 96])
def test_fold_in_solves_the_normal_equations(f):
    rng = np.random.default_rng(f)
    n_users, n_items = 80, 700
    Y = (0.2 * rng.normal(size=(n_items, f))).astype(np.float32)
    YtY = als.gram(Y, 10.0)
    dense = np.zeros((n_users, n_items), np.float32)
    for u in range(n_users):
        # empty rows, rows shorter and longer than f, one row longer than a whole fold-in batch allows
        k = 400 if u == 3 else int(rng.choice([0, 1, 5, 30, 150]))
        dense[u, rng.choice(n_items, k, replace=False)] = rng.choice([40.0, 20.0, 2.0, 1.0, 0.5, -0.25, -20.0], k)
    C = sp.csr_matrix(dense)
    got = als.fold_in(C, Y, YtY)
    want = _direct_fold_in(C, Y, YtY)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6 * np.abs(want).max())
    assert not got[np.diff(C.indptr) == 0].any()
    np.testing.assert_array_equal(als.fold_in(C, Y, YtY, als.basis(Y, YtY)), got)


def _mmr_one_row(scores, sim, n, diversity, pool_size):
    """MMR for one row as the module documents it, one Python step at a time (same pool: top_n's)."""
    order = top_n(scores[None, :], pool_size)[0]
    rel = scores[order].astype(float)
    finite = np.isfinite(rel)
    if finite.any():
        lo, hi = rel[finite].min(), rel[finite].max()
        rel = np.where(finite, (rel - lo) / max(hi - lo, 1e-12), -np.inf)
    chosen, max_sim = [], np.zeros(len(order))
    for _ in range(min(n, len(order))):
        with np.errstate(invalid="ignore"):  # 0 x -inf at diversity 1: made the lowest float below
            value = (1.0 - diversity) * rel - diversity * max_sim
        value = np.where(np.isfinite(value), value, np.finfo(float).min)
        value[chosen] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        max_sim = np.maximum(max_sim, sim[order[pick], order])
    return order[chosen]


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    m=st.integers(2, 70),
    n=st.integers(2, 25),
    diversity=st.sampled_from([0.1, 0.3, 0.7, 1.0]),
    excluded_share=st.sampled_from([0.0, 0.5, 0.95]),
)
def test_mmr_matches_the_greedy_definition(seed, m, n, diversity, excluded_share):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, (5, m)).astype(float)  # many ties
    scores[rng.random((5, m)) < excluded_share] = -np.inf
    emb = rng.normal(size=(m, 6))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb @ emb.T
    pool_size = min(m, max(4 * n, 50))
    got = mmr(scores, None, n, diversity, similarity=sim)
    for r in range(5):
        assert got[r].tolist() == _mmr_one_row(scores[r], sim, n, diversity, pool_size).tolist()
    np.testing.assert_array_equal(mmr(scores, emb, n, diversity), got)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), spread=st.sampled_from([10, 1000, 10**9]))
def test_exclusion_forms_agree(seed, spread):
    """Id lists, a sparse matrix and a boolean mask exclude the same positions, repeats included."""
    rng = np.random.default_rng(seed)
    m, n_rows = int(rng.integers(1, 40)), 6
    candidates = rng.integers(0, spread, m)
    candidates[rng.random(m) < 0.2] = candidates[0]  # repeated candidates
    lists = [
        np.concatenate([rng.choice(candidates, int(rng.integers(0, m + 1))), rng.integers(0, spread, 3)])
        for _ in range(n_rows)
    ]
    rows = np.array([4, 0, 2])
    want = np.array([[c in set(lists[u].tolist()) for c in candidates] for u in rows])
    first = np.zeros(m, bool)
    first[np.unique(candidates, return_index=True)[1]] = True
    want |= ~first[None, :]
    np.testing.assert_array_equal(exclusion_mask(lists, rows, candidates), want)
    full = np.array([[c in set(lists[u].tolist()) for c in candidates] for u in range(n_rows)])
    np.testing.assert_array_equal(exclusion_mask(full, rows, candidates), want)
    if spread <= 1000:
        E = sp.lil_matrix((n_rows, spread + 3))
        for u, ids in enumerate(lists):
            E[u, ids] = 1
        np.testing.assert_array_equal(exclusion_mask(E.tocsr(), rows, candidates), want)
    items = np.concatenate(lists)
    pos = first_positions(candidates, items)
    for item, p in zip(items.tolist(), pos.tolist(), strict=True):
        assert p == (candidates.tolist().index(item) if item in candidates.tolist() else -1)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), prior_rows=st.sampled_from([0, 1, 7]))
def test_reasons_match_the_per_user_definition(seed, prior_rows):
    """Each pick's reason: the liked paper of highest embedding similarity, or trending, or none."""
    rng = np.random.default_rng(seed)
    n_rows, m, n, d, n_items = 7, 30, 6, 5, 50
    P = sp.random(n_rows, n_items, density=float(rng.choice([0.0, 0.05, 0.5])), random_state=seed, format="csr")
    pos = np.array([rng.choice(m, n, replace=False) for _ in range(n_rows)])
    cand_emb = rng.normal(size=(m, d)).astype(np.float32)
    item_emb = rng.normal(size=(n_items, d)).astype(np.float32)
    personal = rng.normal(size=(n_rows, m)).astype(np.float32)
    prior = None if prior_rows == 0 else rng.normal(size=(prior_rows, m)).astype(np.float32)
    valid = rng.random((n_rows, n)) < 0.9
    got = pick_reasons(P, pos, cand_emb, item_emb, personal, prior, valid)
    for r in range(n_rows):
        liked = P.indices[P.indptr[r] : P.indptr[r + 1]]
        for j, p in enumerate(pos[r]):
            want = REASON_NONE
            if len(liked):
                want = liked[int(np.argmax(item_emb[liked] @ cand_emb[p]))]
            if prior is not None:
                pt = prior[min(r, prior_rows - 1), p]
                if pt > 0 and pt > personal[r, p]:
                    want = REASON_TRENDING
            assert got[r, j] == (want if valid[r, j] else REASON_NONE)


@pytest.mark.slow
def test_boolean_exclude_mask_ranks_like_id_lists(world):
    model = HybridRecommender(**SMALL).fit(world.interactions, world.texts)
    rng = np.random.default_rng(2)
    cands = rng.choice(world.interactions.shape[1], 60, replace=False)
    mask = rng.random((4, 60)) < 0.4
    rows = world.interactions[[1, 5, 9, 11]]
    kw = {"n": 15, "prior": rng.random(60), "diversity": 0.3, "return_reasons": True}
    by_mask = model.recommend_for_rows(rows, cands, exclude=mask, **kw)
    by_lists = model.recommend_for_rows(rows, cands, exclude=[cands[r] for r in mask], **kw)
    for a, b in zip(by_mask, by_lists, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.isin(by_mask[0][0], cands[mask[0]]).any()
    with pytest.raises(ValueError, match="users x candidates"):
        model.recommend_for_rows(rows, cands, exclude=mask[:, :10], n=5)


@pytest.mark.slow
def test_timings_name_every_phase(world):
    model = HybridRecommender(**SMALL).fit(world.interactions, world.texts)
    timings: dict[str, float] = {}
    for _ in range(2):
        model.recommend_for_rows(
            world.interactions[:5], None, 5, categories=[["a"]] * 5, diversity=0.3, return_reasons=True, timings=timings
        )
    phases = {"inputs", "fold_in", "terms", "blend", "exclude", "select", "reasons"}
    assert set(timings) == phases | {"cpu:" + p for p in phases}
    assert all(v >= 0 for v in timings.values())
