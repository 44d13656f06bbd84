"""The content index: one encoder's embeddings for semantic search and similar papers (no Django).

Invariants over every paper of a synthetic world: the index embeds papers exactly as the encoder (and so a
model) does, a query of unknown words finds nothing, a plural finds the papers of its singular, similar
papers never include the paper or an excluded one and are full while the index lasts, and a stored index
answers as the one it was saved from.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.ranking import HybridRecommender
from recommender.ranking.artifact import load_arrays, save_arrays
from recommender.ranking.content import ContentEncoder
from recommender.ranking.content_index import ContentIndex, encoder_digest, plurals, singular
from recommender.ranking.synthetic import make_synthetic

SMALL = {"factors": 8, "iterations": 3, "n_components": 16, "validation": False}


@pytest.fixture(scope="module")
def world():
    return make_synthetic(n_users=40, n_items=120, n_topics=4, seed=5)


@pytest.fixture(scope="module")
def index(world):
    encoder = ContentEncoder(min_df=1, n_components=16).fit(world.texts)
    return ContentIndex.build(encoder, np.arange(1000, 1000 + len(world.texts)), world.texts)


def test_the_index_embeds_papers_as_the_models_encoder_does(world):
    """Built on a fitted model's encoder, the index holds exactly the model's own content embeddings."""
    model = HybridRecommender(**SMALL).fit(world.interactions, world.texts)
    built = ContentIndex.build(model.encoder_, np.arange(len(world.texts)), world.texts)
    assert built.encoder is model.encoder_
    np.testing.assert_allclose(built.vectors, model.encode_items(world.texts), atol=1e-6)


def test_every_paper_is_its_own_nearest_and_never_its_own_similar(index, world):
    n = len(index.ids)
    for row, pid in enumerate(index.ids.tolist()):
        similar = index.similar(pid, 10)
        assert pid not in similar and len(similar) == len(set(similar)) == 10
        cos = index.vectors @ index.vectors[row]
        at = {p: i for i, p in enumerate(index.ids.tolist())}
        got = [cos[at[p]] for p in similar]
        assert got == sorted(got, reverse=True)
        hidden = set(similar[:3])
        rest = index.similar(pid, n, exclude=hidden)
        assert not hidden & set(rest) and len(rest) == n - 1 - len(hidden), "full while the index lasts"


@settings(max_examples=80, deadline=None)
@given(words=st.lists(st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=5, max_size=12), min_size=1, max_size=4))
def test_unknown_words_find_nothing(index, words):
    """A word no paper contains is ignored, even where it hashes onto a bucket a real word uses."""
    query = " ".join(words)
    assert index.query_texts(query) == []
    assert not index.embed_query(query).any()
    assert index.search(query, 10, floor=0.0, relative=0.0) == []


def test_a_made_up_word_would_otherwise_land_on_a_real_words_bucket():
    """Why the vocabulary is kept: with the hashing trick, some unknown words share a kept feature."""
    texts = [f"alpha{i} beta{i} gamma{i} delta{i}" for i in range(3000)]
    encoder = ContentEncoder(n_features=2**12, min_df=1, n_components=8, ngram_range=(1, 1)).fit(texts)
    index = ContentIndex.build(encoder, np.arange(len(texts)), texts)
    made_up = [f"zzq{i}" for i in range(200)]
    collide = [w for w in made_up if encoder.transform_sparse([w]).nnz]
    assert collide, "no collision: the test would prove nothing"
    assert all(index.query_texts(w) == [] for w in collide)


def test_a_plural_query_finds_the_papers_of_its_singular():
    texts = ["transformer decoders for translation", "graph studies of networks", "image segmentation masks"] * 3
    encoder = ContentEncoder(min_df=1, n_components=3, ngram_range=(1, 1)).fit(texts)
    index = ContentIndex.build(encoder, np.arange(len(texts)), texts)
    assert set(index.search("transformers", 9, floor=0.5, relative=0.5)) == {0, 3, 6}
    assert set(index.search("study network", 9, floor=0.5, relative=0.5)) == {1, 4, 7}
    assert index.query_texts("transformers") == ["transformer"]
    assert index.query_texts("study networks") == ["studies networks"]  # only the forms the papers use


@pytest.mark.parametrize("word", ["transformers", "studies", "classes", "analysis", "status", "glass"])
def test_singular_and_plural_are_inverse_where_english_is_regular(word):
    one = singular(word)
    assert one == word or word in plurals(one)


def test_search_keeps_only_papers_above_the_floors(index, world):
    for text in world.texts[:30]:
        cos = index.cosines(text)
        found = index.search(text, len(index.ids), floor=0.2, relative=0.5)
        cut = max(0.2, 0.5 * cos.max())
        assert set(found) == set(index.ids[cos >= cut].tolist())


@pytest.mark.parametrize("with_encoder", [True, False])
def test_a_stored_index_answers_as_the_one_saved(index, world, with_encoder):
    arrays = load_arrays(save_arrays(index.to_arrays(with_encoder=with_encoder)))
    loaded = ContentIndex.from_arrays(arrays, None if with_encoder else index.encoder)
    assert encoder_digest(loaded.encoder) == encoder_digest(index.encoder)
    for text in world.texts[:20]:
        assert loaded.search(text, 10, floor=0.1, relative=0.5) == index.search(text, 10, floor=0.1, relative=0.5)
    assert loaded.similar(int(index.ids[0]), 5) == index.similar(int(index.ids[0]), 5)


def test_an_empty_index_finds_nothing():
    empty = ContentIndex.empty()
    assert empty.search("anything", 5, floor=0.1, relative=0.5) == []
    assert empty.similar(1, 5, text="anything") == []
    assert not empty.embed_query("anything").any()


def test_a_paper_newer_than_the_index_is_embedded_from_its_text(index, world):
    similar = index.similar(-1, 5, text=world.texts[0])
    assert similar[0] == int(index.ids[0])
    assert index.similar(-1, 5) == []
