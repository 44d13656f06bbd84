"""One content encoder: search and similar papers read papers through the recommender's ``ContentEncoder``.

* before any model exists the archive is embedded by an encoder fitted on it with the settings training gives
  the model, so nothing changes character when the first model is trained;
* an index saved by one worker is loaded by the next (no re-embedding) and answers as the one saved;
* an empty archive finds nothing and breaks nothing.
"""

from __future__ import annotations

import re

import pytest

from recommender import serving
from recommender.models import Paper
from recommender.papers import search
from recommender.ranking import HybridRecommender
from recommender.training.services import DEFAULT_PARAMS
from tests.factories import make_community, make_paper

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # saved indexes go to this test's own directory
    monkeypatch.setattr(search, "SIGNATURE_TTL", 0.0)
    serving.reset_cache()
    search.semantic_index_reset()
    yield
    serving.reset_cache()
    search.semantic_index_reset()


def test_the_catalogue_encoder_reads_papers_as_the_trained_model_will():
    model = HybridRecommender(**DEFAULT_PARAMS)
    params = model.get_params()
    assert {k: params[k] for k in search.CATALOGUE_ENCODER} == search.CATALOGUE_ENCODER
    assert set(search.CATALOGUE_ENCODER) == {
        "n_features",
        "ngram_range",
        "char_ngrams",
        "min_df",
        "n_components",
        "random_state",
    }


def _words() -> list[str]:
    titles = Paper.objects.values_list("title", flat=True)
    return sorted({w for t in titles for w in re.findall(r"[a-z]{4,}", t.lower())})


def test_a_saved_index_is_loaded_by_the_next_worker_and_answers_the_same(monkeypatch, tmp_path):
    monkeypatch.setattr(search, "SAVE_MIN_PAPERS", 10)
    make_community(readers_per_field=0)
    words = _words()
    before = {w: search.semantic_search(query=w, n=20) for w in words}
    similar = {p: search.similar_by_content(paper_id=p, n=5) for p in Paper.objects.values_list("id", flat=True)}
    assert list((tmp_path / "search").glob("semantic-*.npz")), "saved"
    search.semantic_index_reset()  # a fresh worker

    def no_build(**kwargs):
        raise AssertionError("re-embedded the archive instead of loading the saved index")

    monkeypatch.setattr(search, "semantic_build", no_build)
    assert {w: search.semantic_search(query=w, n=20) for w in words} == before
    assert {p: search.similar_by_content(paper_id=p, n=5) for p in similar} == similar


def test_an_empty_archive_finds_nothing():
    assert search.semantic_search(query="graph neural network") == []
    assert search.search_hits(query="graph neural network") == []
    assert search.similar_by_content(paper_id=1) == []
    make_paper(title="The of and", abstract="a an the")  # not one word to fit an encoder on
    assert search.semantic_search(query="the") == []
    assert search.similar_by_content(paper_id=Paper.objects.get().id) == []
