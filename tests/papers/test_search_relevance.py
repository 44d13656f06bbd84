"""Search relevance on real papers: the recorded feeds (and the bundled sample), ingested through the real services.

Every query here has an answer we can state without looking at the ranking:

* a paper's own title ranks that paper first in every mode;
* semantic mode returns only papers at or above the cosine floor (``SEMANTIC_FLOOR``), so a word
  found in a handful of papers returns a handful, not half the archive;
* the blend returns nothing that matches neither the words nor the meaning, and every keyword hit
  is in it;
* a query of made-up words returns nothing in semantic mode (or in the blend).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from recommender.ingest.services import ingest_sample
from recommender.models import Paper
from recommender.papers import search

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

MODES = ("keyword", "semantic", "blend")


@pytest.fixture(autouse=True)
def _fresh_index(monkeypatch):
    monkeypatch.setattr(search, "SIGNATURE_TTL", 0.0)
    search.semantic_index_reset()
    yield
    search.semantic_index_reset()


@pytest.fixture
def sample() -> dict[int, str]:
    ingest_sample()
    return dict(Paper.objects.values_list("id", "title"))


def _title_words(titles: dict[int, str]) -> list[str]:
    words = {w for t in titles.values() for w in re.findall(r"[a-z]{4,}", t.lower())}
    return sorted(words - ENGLISH_STOP_WORDS)


def test_a_papers_own_title_ranks_it_first_in_every_mode(ingested_feeds):
    by_title: dict[str, set[int]] = {}
    for pid, title in ingested_feeds.items():
        by_title.setdefault(" ".join(title.lower().split()), set()).add(pid)
    for pid, title in ingested_feeds.items():
        for mode in MODES:
            ids = search.search(query=title, mode=mode, n=10)
            assert ids, f"{mode}: nothing for the title {title!r}"
            assert ids[0] in by_title[" ".join(title.lower().split())], (
                f"{mode}: {title!r} ranks {ingested_feeds[ids[0]]!r} first"
            )


@pytest.mark.parametrize("corpus", ["ingested_feeds", "sample"])
def test_transformer_returns_the_papers_about_it_not_half_the_archive(corpus, request):
    titles = request.getfixturevalue(corpus)
    keyword = search.search(query="transformer", mode="keyword", n=100)
    semantic = search.search(query="transformer", mode="semantic", n=100)
    blend = search.search(query="transformer", mode="blend", n=100)
    assert keyword, "the corpus mentions transformers"
    assert 0 < len(semantic) <= max(5, len(titles) // 10), [titles[i] for i in semantic]
    assert set(blend) == set(keyword) | set(semantic)
    assert len(blend) < len(titles) // 4


def test_every_blend_result_matches_the_words_or_the_meaning_and_keeps_every_keyword_hit(ingested_feeds):
    index = search.semantic_index()
    for word in _title_words(ingested_feeds):
        hits = search.search_hits(query=word, mode="blend", n=100)
        keyword = set(search.search(query=word, mode="keyword", n=100))
        semantic = set(search.search(query=word, mode="semantic", n=100))
        assert {h.paper_id for h in hits} == keyword | semantic, word
        for hit in hits:
            assert (hit.words, hit.meaning) == (hit.paper_id in keyword, hit.paper_id in semantic), (word, hit)
            assert hit.words or hit.meaning
        scores = dict(zip(index.ids.tolist(), index.cosines(word).tolist(), strict=True))
        for pid in semantic:
            assert scores[pid] >= search.SEMANTIC_FLOOR, (word, ingested_feeds[pid], scores[pid])


nonsense = st.lists(st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=5, max_size=12), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=nonsense)
def test_made_up_words_return_nothing_in_semantic_mode(ingested_feeds, words):
    text = " ".join(f"{t} {a}" for t, a in Paper.objects.values_list("title", "abstract"))
    vocabulary = set(re.findall(r"\w+", text.lower()))
    assume(not vocabulary & set(words))  # "https", "html" and the like are words of the corpus
    query = " ".join(words)
    assert search.search(query=query, mode="semantic") == []
    assert set(search.search(query=query, mode="blend")) == set(search.search(query=query, mode="keyword"))


def test_the_search_page_says_what_each_result_matched(client, ingested_feeds):
    from django.urls import reverse

    hits = {h.paper_id: h for h in search.search_hits(query="transformer", mode="blend", n=100)}
    assert any(h.words and not h.meaning for h in hits.values()), "a keyword-only hit"
    assert any(h.words and h.meaning for h in hits.values()), "a hit both ways"
    html = client.get(reverse("web:search"), {"q": "transformer", "mode": "blend"}).content.decode()
    papers = {p.id: p.arxiv_id for p in Paper.objects.filter(pk__in=hits)}
    for pid, hit in list(hits.items())[:20]:  # the first page
        card = html.split(f'id="paper-{papers[pid]}"', 1)[1].split("</article>", 1)[0]
        assert f'<p class="matched">{hit.label}</p>' in card, (papers[pid], hit)
