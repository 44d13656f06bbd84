"""A digest ranked inside a web request (the preview, "send now") never prepares a candidate set of its own.

Preparing a candidate set (tf-idf, neighbour graph, factors) costs minutes of CPU at 100k training papers
(docs/performance.md), far past a request's timeout, and only For you's set is prepared at worker start. So
an interactive digest ranks the new papers For you ranks too; the plan phase ranks every new paper. Over the
bootstrap world with For you's window cut to a few papers, for every seeded reader.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from recommender import serving
from recommender.demo import demo_users_create
from recommender.digest.context import digest_batch_build
from recommender.ingest.services import ingest_sample
from recommender.papers import search
from recommender.papers.trending import trending_refresh
from recommender.ranking.hybrid import HybridRecommender
from recommender.serving import candidates
from recommender.training.services import model_train

pytestmark = pytest.mark.django_db

WINDOW = 6  # For you's candidates, cut from 2,000 so that most of the day's new papers fall outside


@pytest.fixture
def world(monkeypatch):
    ingest_sample()
    users = demo_users_create(count=12, seed=0)
    trending_refresh()
    assert model_train(activate="always").is_active
    monkeypatch.setattr(candidates, "MAX_CANDIDATES", WINDOW)
    serving.reset_cache()
    search.semantic_index_reset()
    assert serving.warm_up()  # the worker's start: For you's set prepared
    yield users
    serving.reset_cache()
    search.semantic_index_reset()


def test_an_interactive_digest_ranks_only_what_for_you_has_prepared(world, monkeypatch):
    now = timezone.now()
    window = set(serving.candidate_ids_default(now=now))
    assert len(window) == WINDOW
    prepared = []  # candidates the model prepares from scratch (reusing prepared ones is a copy)
    real = HybridRecommender.prepare_candidates

    def counted(self, candidates, *args, **kwargs):
        prepared.append(len(candidates))
        return real(self, candidates, *args, **kwargs)

    monkeypatch.setattr(HybridRecommender, "prepare_candidates", counted)
    outside = set()
    for uid in world:
        batch = digest_batch_build(user_ids=[uid], now=now, interactive=True)
        ranked = {r.paper_id for recs in batch.recommendations.values() for r in recs}
        assert ranked <= window, uid
        assert prepared == [], "a request prepared candidates of its own"
    for uid in world:
        planned = digest_batch_build(user_ids=[uid], now=now, paper_rows=False)
        outside |= {r.paper_id for recs in planned.recommendations.values() for r in recs} - window
    assert outside and prepared, "the plan phase ranks every new paper, not only For you's window"
