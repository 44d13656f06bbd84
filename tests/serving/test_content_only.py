"""The content-only fallback (no model yet) reads papers through the encoder serving reads them with.

Before any model exists ``serving.content_encoder()`` is the encoder fitted on the archive, the one semantic
search and similar papers use (tests/papers/test_semantic_index.py). The fallback's similarity of a candidate
to a liked paper is the cosine of that encoder's tf-idf rows (it fitted a ``TfidfVectorizer`` of its own on
every call's candidates before), and the encoder is fitted once per archive state, not per request.
"""

from __future__ import annotations

from unittest import mock

import pytest

from recommender import serving
from recommender.interactions.services import interaction_record
from recommender.models import Paper
from recommender.papers import search
from recommender.ranking.content import ContentEncoder
from recommender.ranking.content_only import CONTENT_WEIGHT
from recommender.subscriptions.topics import topic_default, topic_update
from recommender.training.dataset import paper_text
from tests.factories import make_community, make_subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # a saved index from another test's archive is never loaded
    search.semantic_index_reset()
    yield
    search.semantic_index_reset()


def test_without_a_model_picks_are_scored_through_the_archive_encoder():
    papers, _ = make_community(readers_per_field=0)
    reader = make_subscriber("fresh@example.org")
    topic_update(topic=topic_default(user=reader), trending_weight=0.0)  # "only my taste": the prior is zero
    liked = papers["cs.CL"][0]
    interaction_record(user=reader, paper=liked, kind="save")

    real = ContentEncoder.fit_transform_sparse
    with mock.patch.object(ContentEncoder, "fit_transform_sparse", autospec=True, side_effect=real) as fit:
        recs = serving.recommend_for_users(user_ids=[reader.id], n=10)[reader.id]
        again = serving.recommend_for_users(user_ids=[reader.id], n=10)[reader.id]
    assert fit.call_count == 1, "the archive encoder was fitted again for a request"
    assert again == recs

    encoder = serving.content_encoder()
    assert encoder is search.catalogue_encoder()
    text = {pid: paper_text(t, a) for pid, t, a in Paper.objects.values_list("id", "title", "abstract")}
    cosines = encoder.transform_sparse([text[r.paper_id] for r in recs]) @ encoder.transform_sparse([text[liked.id]]).T
    assert [r.score for r in recs] == pytest.approx((CONTENT_WEIGHT * cosines.toarray().ravel()).tolist(), rel=1e-5)
    field = {p.id for p in papers["cs.CL"]}  # 11 unread papers of the liked paper's field, 10 asked for
    assert all(r.paper_id in field and r.reason.startswith("Similar to") for r in recs), "another field's paper"
