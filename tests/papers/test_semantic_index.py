"""One content encoder: search and similar papers read papers through the recommender's ``ContentEncoder``.

* before any model exists the archive is embedded by an encoder fitted on it with the settings training gives
  the model, so nothing changes character when the first model is trained;
* once a model is served, the search page and the paper page's similar papers use that model's own encoder
  (the served ``encoder_`` object itself), for every title word of the archive;
* an index saved by one worker is loaded by the next (no re-embedding) and answers as the one saved;
* an empty archive finds nothing and breaks nothing.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from recommender import serving
from recommender.models import Paper
from recommender.papers import search
from recommender.ranking import HybridRecommender
from recommender.training.services import DEFAULT_PARAMS, model_train
from recommender.web.views import SEARCH_PAGE_SIZE, SEARCH_RESULTS
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


def _search_page(client, word: str) -> list[int]:
    """The papers the semantic search page shows for ``word``, in order (read from the HTML)."""
    response = client.get(reverse("web:search"), {"q": word, "mode": "semantic"})
    assert response.status_code == 200
    arxiv_ids = re.findall(r'<article[^>]* id="paper-([^"]+)"', response.content.decode())
    by_arxiv = dict(Paper.objects.filter(arxiv_id__in=arxiv_ids).values_list("arxiv_id", "id"))
    return [by_arxiv[a] for a in arxiv_ids]


def _similar_on_page(client, paper) -> list[int]:
    response = client.get(reverse("web:paper", args=[paper.arxiv_id]))
    assert response.status_code == 200
    return [p.id for p in response.context["similar"]]


@pytest.mark.slow
def test_with_a_served_model_search_and_similar_papers_use_its_encoder(client):
    make_community()
    for i in range(6):  # papers nobody has read: the model's encoder has still seen them (every paper trains it)
        make_paper(category="cs.CV", title=f"Unread video frames study {i}")
    assert model_train(activate="always").is_active
    served = serving.active_model(refresh=True)
    encoder = serving.content_encoder()
    assert encoder is served.model.encoder_
    assert search.semantic_index(encoder).encoder is encoder
    catalogue = search.semantic_index()
    differs = 0
    for word in _words():
        expected = search.search(query=word, mode="semantic", n=SEARCH_RESULTS, encoder=encoder)
        assert _search_page(client, word) == expected[:SEARCH_PAGE_SIZE], word
        differs += expected != search.search(query=word, mode="semantic", n=SEARCH_RESULTS)
    for paper in Paper.objects.all():
        expected = search.similar_by_content(paper_id=paper.id, n=5, encoder=encoder)
        assert serving.similar_papers(paper_id=paper.id, n=5) == expected
        assert _similar_on_page(client, paper) == expected
        differs += expected != catalogue.similar(paper.id, 5)
    assert differs, "the model's encoder and the catalogue's agree everywhere: the test cannot tell them apart"


def test_before_any_model_search_and_similar_papers_use_the_catalogue_encoder(client):
    make_community(readers_per_field=0)
    index = search.semantic_index()
    encoder = serving.content_encoder()  # what the content-only ranker reads papers with too
    assert encoder is not None and encoder is index.encoder is search.catalogue_encoder()
    assert search.semantic_index(encoder) is index, "the archive's encoder handed back re-embedded the archive"
    for word in _words():
        expected = search.search(query=word, mode="semantic", n=SEARCH_RESULTS)
        assert _search_page(client, word) == expected[:SEARCH_PAGE_SIZE], word
    for paper in Paper.objects.all()[:10]:
        assert serving.similar_papers(paper_id=paper.id, n=5) == index.similar(paper.id, 5)


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
