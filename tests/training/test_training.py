"""The production path: train from the database, activate, serve, roll back."""

import datetime as dt

import pytest
from django.utils import timezone

from recommender import serving
from recommender.interactions.services import interaction_record
from recommender.models import ModelStatus, ModelVersion
from recommender.subscriptions.topics import topic_default, topic_update
from recommender.training.services import TrainingError, model_activate, model_train
from tests.factories import make_community, make_paper, make_subscriber

pytestmark = pytest.mark.django_db


def test_train_activates_and_serves_new_papers_by_content():
    papers, readers = make_community()
    version = model_train()
    assert version.status == ModelStatus.READY and version.is_active
    assert version.n_interactions == 18 * 6
    assert 0.0 <= version.metrics["recall@50"] <= 1.0 and version.metrics["users"] > 0
    assert version.artifact_size > 1000

    # Papers announced after training, with zero votes, still reach the right reader.
    fresh = {c: [make_paper(category=c) for _ in range(4)] for c in ("cs.LG", "cs.CL", "cs.CV")}
    candidates = [p.pk for ps in fresh.values() for p in ps]
    reader = readers["cs.CL"][0]
    recs = serving.recommend_for_users(user_ids=[reader.pk], candidate_ids=candidates, n=4)[reader.pk]
    assert len(recs) == 4
    top_two = {r.paper_id for r in recs[:2]}
    assert top_two <= {p.pk for p in fresh["cs.CL"]}, recs
    assert any(r.reason.startswith("Similar to") for r in recs)


@pytest.mark.slow
def test_rated_hidden_and_excluded_papers_are_never_recommended():
    papers, readers = make_community()
    model_train()
    reader = readers["cs.LG"][0]
    candidates = [p.pk for p in papers["cs.LG"]]
    hidden = papers["cs.LG"][11]
    interaction_record(user=reader, paper=hidden, kind="not_interested")
    sent = papers["cs.LG"][10]
    recs = serving.recommend_for_users(
        user_ids=[reader.pk], candidate_ids=candidates, n=12, exclude_ids={reader.pk: {sent.pk}}
    )[reader.pk]
    got = {r.paper_id for r in recs}
    rated = {p.pk for p in papers["cs.LG"][0:6]}
    assert got and not (got & rated) and hidden.pk not in got and sent.pk not in got


def test_new_user_is_ranked_without_retraining():
    papers, _ = make_community()
    model_train()
    newcomer = make_subscriber("new@example.org", categories=["cs.CV"])
    interaction_record(user=newcomer, paper=papers["cs.CV"][0], kind="save")
    candidates = [p.pk for ps in papers.values() for p in ps[8:]]
    recs = serving.recommend_for_users(user_ids=[newcomer.pk], candidate_ids=candidates, n=3)[newcomer.pk]
    assert recs and all(r.paper_id in {p.pk for p in papers["cs.CV"]} for r in recs)


def test_exclude_keyword_rule_removes_papers():
    papers, readers = make_community()
    reader = readers["cs.CV"][0]
    target = papers["cs.CV"][9]
    target.title = "A totally different Quokka detector"
    target.save()
    topic_update(topic=topic_default(user=reader), exclude_keywords=["quokka"])
    recs = serving.recommend_for_users(user_ids=[reader.pk], candidate_ids=[p.pk for p in papers["cs.CV"]], n=12)[
        reader.pk
    ]
    assert recs and target.pk not in {r.paper_id for r in recs}


def test_content_fallback_before_any_model():
    papers, readers = make_community()
    assert not ModelVersion.objects.exists()
    reader = readers["cs.CL"][1]
    fresh = [make_paper(category=c) for c in ("cs.CV", "cs.CL", "cs.LG")]
    recs = serving.recommend_for_users(user_ids=[reader.pk], candidate_ids=[p.pk for p in fresh], n=1)[reader.pk]
    assert recs[0].paper_id == fresh[1].pk


@pytest.mark.slow
def test_failed_training_keeps_previous_model_serving_and_rollback_works():
    make_community()
    first = model_train()
    assert first.is_active
    second = model_train(activate="always")
    first.refresh_from_db()
    assert second.is_active and not first.is_active
    model_activate(version=first)  # roll back
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_active and not second.is_active
    assert serving.active_model(refresh=True)[0] == first.pk


def test_training_without_data_fails_cleanly():
    with pytest.raises(TrainingError):
        model_train()
    failed = ModelVersion.objects.get()
    assert failed.status == ModelStatus.FAILED and "no interactions" in failed.error
    assert not failed.is_active


@pytest.mark.slow
def test_similar_papers_prefers_same_topic():
    papers, _ = make_community()
    model_train()
    similar = serving.similar_papers(paper_id=papers["cs.CL"][0].pk, n=5)
    assert len(similar) == 5
    assert set(similar) <= {p.pk for p in papers["cs.CL"]}


@pytest.mark.slow
def test_worse_model_is_recorded_but_not_activated():
    make_community()
    good = model_train()
    # A model with every personal signal switched off ranks by position only.
    bad = model_train(params={"knn_weight": 0.0, "cf_weight": 0.0, "prior_weight": 0.0, "category_weight": 0.0})
    good.refresh_from_db()
    assert bad.status == ModelStatus.REJECTED and not bad.is_active
    assert good.is_active
    assert bad.metrics["ndcg@10"] < bad.metrics["active_on_same_holdout"]["ndcg@10"]


def test_a_version_orphaned_by_a_killed_worker_is_closed_by_the_next_run():
    make_community()
    orphan = ModelVersion.objects.create(status=ModelStatus.TRAINING)
    ModelVersion.objects.filter(pk=orphan.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    recent = ModelVersion.objects.create(status=ModelStatus.TRAINING)  # may still be running elsewhere
    model_train()
    orphan.refresh_from_db()
    recent.refresh_from_db()
    assert orphan.status == ModelStatus.FAILED and orphan.error.startswith("interrupted")
    assert recent.status == ModelStatus.TRAINING
