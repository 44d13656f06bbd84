"""Behaviour of HybridRecommender beyond the shared contract."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.ranking import REASON_NONE, REASON_TRENDING, HybridRecommender
from recommender.ranking.synthetic import make_texts, topic_word
from tests.ranking.small import SMALL


def test_learned_attributes_end_in_underscore_and_params_roundtrip():
    m = HybridRecommender(**SMALL)
    assert not any(k.endswith("_") for k in vars(m))
    assert m.get_params()["factors"] == 16
    with pytest.raises(ValueError):
        m.set_params(no_such_param=1)


def test_save_load_roundtrip_identical(model, world, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path, include_users=True)
    assert not list(tmp_path.glob(".*.tmp")), "temporary file must be replaced atomically"
    loaded = HybridRecommender.load(path)
    users = np.arange(30)
    new_texts = make_texts(np.arange(12) % 8, 8, np.random.default_rng(0))
    cand = np.concatenate([np.arange(100), 10_000 + np.arange(12)])
    content = [world.texts[i] for i in range(100)] + new_texts
    a = model.recommend(users, cand, 15, candidate_content=content, return_reasons=True)
    b = loaded.recommend(users, cand, 15, candidate_content=content, return_reasons=True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(
        HybridRecommender.from_bytes(model.to_bytes(include_users=True)).recommend(users, None, 10)[0],
        model.recommend(users, None, 10)[0],
    )


def test_artifact_without_users_serves_folded_in_users_only(model, world):
    full, slim = model.to_bytes(include_users=True), model.to_bytes()
    assert len(slim) < 0.9 * len(full)
    loaded = HybridRecommender.from_bytes(slim)
    users = np.arange(20)
    with pytest.raises(ValueError, match="recommend_for_rows"):
        loaded.recommend(users, None, 10)
    rows = world.interactions[users]
    new_texts = make_texts(np.arange(12) % 8, 8, np.random.default_rng(1))
    cand = np.concatenate([np.arange(100), 10_000 + np.arange(12)])
    content = [world.texts[i] for i in range(100)] + new_texts
    a = model.recommend_for_rows(rows, cand, 10, candidate_content=content, return_reasons=True)
    b = loaded.recommend_for_rows(rows, cand, 10, candidate_content=content, return_reasons=True)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_v1_artifact_still_loads(model):
    arrays = model.to_arrays(include_users=True)
    v1 = {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in arrays.items()}
    v1["format"] = np.array("paperboy-hybrid-v1")
    del v1["n_interactions"]
    loaded = HybridRecommender.from_arrays(v1)
    np.testing.assert_array_equal(loaded.recommend([1, 2], None, 10)[0], model.recommend([1, 2], None, 10)[0])
    with pytest.raises(ValueError, match="unknown artifact format"):
        HybridRecommender.from_arrays({**v1, "format": np.array("paperboy-hybrid-v9")})


def test_load_refuses_pickle(model):
    arrays = model.to_arrays()
    arrays["format"] = np.array([object()], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(ValueError, match="pickle"):
        HybridRecommender.from_bytes(buf.getvalue())
    with pytest.raises((ValueError, OSError, pickle.UnpicklingError)):
        HybridRecommender.from_bytes(pickle.dumps(model.to_arrays()))


@pytest.mark.slow
def test_negatives_lower_an_items_score(world):
    X = world.interactions.tocsr()
    user = 4
    base = HybridRecommender(**SMALL).fit(X, world.texts)
    ids, scores = base.recommend([user], None, 400, exclude=[X[user].indices])
    target = int(ids[0, 0])
    neg = sp.csr_matrix(([3.0], ([user], [target])), shape=X.shape)
    with_neg = HybridRecommender(**SMALL).fit(X, world.texts, negatives=neg)
    ids2, scores2 = with_neg.recommend([user], None, 400, exclude=[X[user].indices])
    before = scores[0, list(ids[0]).index(target)]
    after = scores2[0, list(ids2[0]).index(target)]
    assert after < before - 0.5
    assert list(ids2[0]).index(target) > 0


@pytest.mark.slow
def test_diversity_reduces_near_duplicates(world):
    X = world.interactions
    model = HybridRecommender(**SMALL).fit(X, world.texts)
    user = 0
    liked = X[user].indices
    # ten verbatim copies of one of the user's papers, ten fresh papers on their topics
    dup = [world.texts[liked[0]]] * 10
    rng = np.random.default_rng(5)
    others = make_texts(rng.choice(world.user_topics[user], 10), 8, rng)
    cand = 10_000 + np.arange(20)
    ids_plain, _ = model.recommend([user], cand, 8, candidate_content=dup + others)
    ids_div, _ = model.recommend([user], cand, 8, candidate_content=dup + others, diversity=0.5)
    n_dup_plain = int(np.sum(ids_plain[0] < 10_010))
    n_dup_div = int(np.sum(ids_div[0] < 10_010))
    assert n_dup_plain >= 6
    assert n_dup_div <= 3  # at most 3 copies of one paper in a list of 8
    assert len(set(ids_div[0])) == 8


def test_mmr_on_hand_built_case():
    from recommender.ranking.diversity import mmr

    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores = np.array([[1.0, 0.99, 0.5]])
    assert mmr(scores, emb, 2, 0.0).tolist() == [[0, 1]]
    assert mmr(scores, emb, 2, 0.5).tolist() == [[0, 2]]


def test_fold_in_new_user_matches_their_topics(model, world):
    X = world.interactions
    liked = X[7].indices[:5]
    rows = sp.csr_matrix((np.ones(len(liked)), ([0] * len(liked), liked)), shape=(1, X.shape[1]))
    ids, _, reasons = model.recommend_for_rows(rows, None, 20, exclude=[liked], return_reasons=True)
    topics = set(world.item_topics[liked])
    assert np.mean([world.item_topics[i] in topics for i in ids[0]]) >= 0.8
    assert set(reasons[0]) <= set(liked)
    factors = model.fold_in_users(rows)
    assert factors.shape == (1, 16) and np.abs(factors).sum() > 0


@pytest.mark.slow
def test_fold_in_from_categories_only(world):
    model = HybridRecommender(**SMALL).fit(world.interactions, world.texts)
    empty = sp.csr_matrix((2, world.interactions.shape[1]))
    # topic words of topic 2 and topic 5 as "categories"
    cats = [[topic_word(2, w) for w in range(4)], " ".join(topic_word(5, w) for w in range(4))]
    ids, _, reasons = model.recommend_for_rows(empty, None, 10, categories=cats, return_reasons=True)
    assert np.mean(world.item_topics[ids[0]] == 2) >= 0.8
    assert np.mean(world.item_topics[ids[1]] == 5) >= 0.8
    assert np.all(reasons == REASON_NONE)


@pytest.mark.slow
def test_prior_and_trending_reason(model, world):
    cand = np.arange(200)
    prior = np.zeros(200)
    prior[150] = 100.0
    model_p = HybridRecommender(**{**SMALL, "prior_weight": 1.0}).fit(world.interactions, world.texts)
    ids, _, reasons = model_p.recommend([3], cand, 10, prior=prior, return_reasons=True)
    assert 150 in ids[0]
    assert reasons[0, list(ids[0]).index(150)] == REASON_TRENDING
    ids0, _ = model.recommend([3], cand, 10)
    liked = world.interactions[3].indices
    _, _, r0 = model.recommend([3], cand, 10, return_reasons=True)
    assert np.all(np.isin(r0[0][r0[0] >= 0], liked))
    assert not np.array_equal(ids0[0], ids[0])


def test_encode_items_is_normalised_and_places_new_items(model, world):
    E = model.encode_items(world.texts[:5] + [" ".join(topic_word(1, w) for w in range(5))])
    assert E.shape == (6, model.encoder_.components_.shape[0])
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_bag_of_words_input_with_vocabulary(world):
    from sklearn.feature_extraction.text import CountVectorizer

    cv = CountVectorizer()
    counts = cv.fit_transform(world.texts)
    vocab = list(cv.get_feature_names_out())
    m = HybridRecommender(**SMALL).fit(world.interactions, counts, vocabulary=vocab)
    empty = sp.csr_matrix((1, world.interactions.shape[1]))
    ids, _ = m.recommend_for_rows(empty, None, 10, categories=[" ".join(topic_word(3, w) for w in (1, 2, 5))])
    assert np.mean(world.item_topics[ids[0]] == 3) >= 0.8
    loaded = HybridRecommender.from_bytes(m.to_bytes(include_users=True))
    np.testing.assert_array_equal(loaded.recommend([1, 2], None, 10)[0], m.recommend([1, 2], None, 10)[0])


def _private_libraries(n_users=150, per_user=12, n_topics=10, seed=0):
    """Every user reads papers nobody else reads, all of one topic: content signal only."""
    rng = np.random.default_rng(seed)
    item_topics = np.repeat(rng.integers(0, n_topics, n_users), per_user)
    texts = make_texts(item_topics, n_topics, rng)
    n_items = n_users * per_user
    rows = np.repeat(np.arange(n_users), per_user)
    X = sp.csr_matrix((np.ones(n_items, np.float32), (rows, np.arange(n_items))), shape=(n_users, n_items))
    return X, texts


@pytest.mark.slow
def test_inner_validation_leans_on_content_when_nobody_shares_papers():
    X, texts = _private_libraries()
    m = HybridRecommender(**SMALL).fit(X, texts)
    assert list(m.blend_source_) == ["validation", "validation"]
    knn, cen, cf = m.blend_.T
    assert np.all(cf <= 0.5 * (knn + cen)), m.blend_


@pytest.mark.slow
def test_inner_validation_leans_on_cf_when_texts_are_noise(world):
    rng = np.random.default_rng(0)
    noise = make_texts(rng.integers(0, 8, world.interactions.shape[1]), 8, rng)
    m = HybridRecommender(**SMALL).fit(world.interactions, noise)
    knn, cen, cf = m.blend_[0]
    assert m.blend_source_[0] == "validation"
    assert cf >= 2 * (knn + cen), m.blend_


def test_validation_keeps_defaults_when_nothing_can_be_held_out(world):
    X = world.interactions.tocsr()
    one = sp.csr_matrix((np.ones(X.shape[0]), (np.arange(X.shape[0]), X.indices[X.indptr[:-1]])), shape=X.shape)
    m = HybridRecommender(**SMALL).fit(one, world.texts)
    assert list(m.blend_source_) == ["defaults", "defaults"]
    np.testing.assert_allclose(m.blend_, HybridRecommender(**SMALL, validation=False).fit(one, world.texts).blend_)


def test_switched_off_terms_stay_off_after_validation(world):
    m = HybridRecommender(**{**SMALL, "cf_weight": 0.0, "centroid_weight": 0.0}).fit(world.interactions, world.texts)
    assert np.all(m.blend_[:, 1:3] == 0) and np.all(m.blend_[:, 0] > 0)


def test_v2_artifact_loads_with_its_fixed_blend(model):
    arrays = model.to_arrays(include_users=True)
    v2 = {k: v for k, v in arrays.items() if k not in ("blend", "blend_source")}
    v2["format"] = np.array("paperboy-hybrid-v2")
    loaded = HybridRecommender.from_arrays(v2)
    assert loaded.centroid_weight == 0.0 and np.all(loaded.blend_[:, 1] == 0)
    assert loaded.recommend([1, 2], None, 10)[0].shape == (2, 10)


def test_user_without_profile_gets_no_content_opinion(model, world):
    empty = sp.csr_matrix((1, world.interactions.shape[1]))
    P = empty.tocsr()
    cand = np.arange(50)
    prepared = model.prepare_candidates(cand, centroid=True)
    knn, cen, cf = model.score_terms(P, P, np.zeros((1, model.item_factors_.shape[1])), prepared)
    assert not knn.any() and not cen.any() and not cf.any()
