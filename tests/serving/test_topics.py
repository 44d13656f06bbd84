"""Topics in serving (issue 15 parts 2 and 3): one fold-in row per topic, and the personal <-> trending dial.

Over the bootstrap world with several topics per reader (``multi_topic``), with a trained model and with
the content-only fallback:

- every topic's list holds no paper twice, nothing the reader acted on under any topic (a paper voted
  down under one topic never comes back under another), only papers its filters let through, and is as
  long as asked while they last; all of a batch's topics are scored in one ranking call, one row each;
- a topic folds in its own votes and the account-wide ones, never another topic's;
- at the default dial every seeded reader's list is what the model gives with its prior at its own
  weight, as serving asked for it before topics and the dial existed;
- the dial at 0 leaves no trending in the blend, and moving it from 0 through the default to 1 moves every
  list up the community's ranking, until at 1 it is that ranking within the topic's filters.
"""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp

from recommender import serving
from recommender.models import TOPIC_TRENDING_WEIGHT_DEFAULT, Interaction, InteractionKind, Paper
from recommender.ranking import HybridRecommender
from recommender.ranking.weights import KIND_WEIGHTS, NEGATIVE_KINDS
from recommender.serving import candidates as serving_candidates
from recommender.serving.active import active_model
from recommender.serving.rows import INCLUDE_BOOST, TRENDING_SCALE_MAX, Row, rows_inputs, trending_scale
from recommender.serving.services import DIVERSITY
from recommender.subscriptions.topics import topic_create, topic_update

from .multi_topic import INCLUDED_WORDS, MATCHES, papers_facts, topic_eligible, topic_votes, topics_add
from .test_invariants import check_list, world  # noqa: F401  (the bootstrap world fixture, both modes)
from .test_reasons import _short, check_reason

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # the bootstrapped world: a model is trained

N = 10


@pytest.fixture
def topics_world(world):  # noqa: F811
    world.all_topics = topics_add(world.profiles)
    world.acted = {p.user_id: set() for p in world.profiles}
    for uid, pid in Interaction.objects.filter(user_id__in=world.acted).values_list("user_id", "paper_id"):
        world.acted[uid].add(pid)
    world.papers = papers_facts()
    return world


def test_every_topic_list_keeps_the_invariants(topics_world):
    world = topics_world  # noqa: F811
    candidates = serving.candidate_ids_default()
    topic_ids = [t.pk for topics in world.all_topics.values() for t in topics]
    assert len(topic_ids) >= 2 * len(world.profiles)
    real = HybridRecommender.recommend_for_rows
    with mock.patch.object(HybridRecommender, "recommend_for_rows", autospec=True, side_effect=real) as spy:
        ranked = serving.recommend_for_topics(topic_ids=topic_ids, n=N)
    assert spy.call_count == (1 if world.mode == "model" else 0), "every topic scored in one call"
    if world.mode == "model":
        assert spy.call_args.args[1].shape[0] == len(topic_ids), "one fold-in row per topic"
    assert set(ranked) == set(topic_ids)
    known = {c for cats, _, _ in world.papers.values() for c in cats}
    matched = 0
    for topics in world.all_topics.values():
        for topic in topics:
            what = f"{world.mode} topic {topic.name!r} of user {topic.user_id}"
            eligible = topic_eligible(topic, candidates, papers=world.papers) - world.acted[topic.user_id]
            check_list(_ids(ranked[topic.pk]), acted=world.acted[topic.user_id], eligible=eligible, asked=N, what=what)
            acted = topic_votes(topic)
            for rec in ranked[topic.pk]:
                match = MATCHES.match(rec.reason)
                if match:  # the keyword is the topic's, and the paper has it
                    assert match["topic"] == topic.name and match["what"] == "keyword", what
                    assert match["term"] in topic.include_keywords, what
                    assert topic_eligible(topic, [rec.paper_id], papers=world.papers), what
                    assert re.search(rf"\b{match['term']}\b", world.papers[rec.paper_id][1]), what
                    matched += 1
                else:
                    check_reason(
                        rec.reason, fields=set(topic.categories), acted=acted, known_categories=known, what=what
                    )
    assert matched, "no pick was explained by its topic's include keywords"


def test_a_topic_folds_in_its_own_votes_and_the_account_wide_ones(world):  # noqa: F811
    """A twin of each reader's default topic (same filters) ranks alike until papers are saved under it: then
    the twin folds them in and the default topic ranks as if they were merely excluded (never shown again)."""
    changed = named = 0
    for profile in world.profiles:
        default = world.topics[profile.user_id]
        twin = topic_create(user=profile.user, name="Twin", categories=default.categories)
        before = serving.recommend_for_topics(topic_ids=[default.pk, twin.pk], n=N)
        assert _ids(before[default.pk]) == _ids(before[twin.pk])
        liked = _ids(before[twin.pk])[:3]
        for pid in liked:
            Interaction.objects.create(user=profile.user, paper_id=pid, kind=InteractionKind.SAVE, topic=twin)
        after = serving.recommend_for_topics(topic_ids=[default.pk, twin.pk], n=N)
        assert not {r.paper_id for recs in after.values() for r in recs} & set(liked)
        rows = [Row(user_id=profile.user_id, topic=t) for t in (default, twin)]
        events = rows_inputs(rows, serving_candidates.load_candidates(serving.candidate_ids_default())).events
        assert not {pid for pid, _ in events[0]} & set(liked) and set(liked) <= {pid for pid, _ in events[1]}
        # both rankers read each row on its own (the content-only one through the archive's encoder; it fitted
        # a tf-idf of its own on the whole batch's liked papers before, so a row's picks depended on the batch)
        alone = serving.recommend_for_topics(topic_ids=[default.pk], n=N, exclude_ids={default.pk: set(liked)})
        # the same picks, reasons and scores (float32: a block of two rows may round the last bit apart)
        assert [(r.paper_id, r.reason) for r in after[default.pk]] == [
            (r.paper_id, r.reason) for r in alone[default.pk]
        ], "a vote under another topic counted here"
        assert [r.score for r in after[default.pk]] == pytest.approx([r.score for r in alone[default.pk]], rel=1e-5)
        saved = [f"“{_short(t)}” you saved" for t in Paper.objects.filter(pk__in=liked).values_list("title", flat=True)]
        assert not any(s in r.reason for r in after[default.pk] for s in saved), "names another topic's save"
        changed += _ids(after[twin.pk]) != _ids(after[default.pk])
        named += any(s in r.reason for r in after[twin.pk] for s in saved)
    assert changed and named, f"the twins' own saves changed {changed} lists and explain {named}"


def _ids(recs) -> list[int]:
    return [r.paper_id for r in recs]


def _reference_model_lists(users, topics, candidates):
    """The model's ranking as it was before the dial: every vote, the default topic's rules, the prior
    (trending + include boosts) at the model's own weight, through the model's public API only."""
    served = active_model()
    cands = serving_candidates.load_candidates(candidates)
    cols = serving_candidates.model_columns(served, cands.ids)
    pos_of = {int(p): j for j, p in enumerate(cands.ids.tolist())}
    P = np.zeros((len(users), served.model.n_items_), dtype=np.float32)
    N_ = np.zeros_like(P)
    excluded = np.zeros((len(users), len(cands.ids)), dtype=bool)
    prior = np.tile(cands.trending, (len(users), 1))

    for r, uid in enumerate(users):
        for pid, kind in Interaction.objects.filter(user_id=uid).values_list("paper_id", "kind"):
            if pid in pos_of:
                excluded[r, pos_of[pid]] = True
            j = served.col.get(pid)
            if j is None or kind not in KIND_WEIGHTS:
                continue
            (N_ if kind in NEGATIVE_KINDS else P)[r, j] += KIND_WEIGHTS[kind]
        topic = topics[uid]
        if topic.categories:
            excluded[r] |= np.array([not (c & set(topic.categories)) for c in cands.categories])
        prior[r] += INCLUDE_BOOST * serving_candidates.matches(topic.include_keywords, cands.haystacks)
        excluded[r] |= serving_candidates.matches(topic.exclude_keywords, cands.haystacks)

    ids, _ = served.model.recommend_for_rows(
        sp.csr_matrix(P),
        n=N,
        negative_rows=sp.csr_matrix(N_),
        categories=[topics[u].categories for u in users],
        exclude=[cols[np.flatnonzero(row)] for row in excluded],
        prior=prior,
        diversity=DIVERSITY,
        prepared=serving_candidates.prepared_for(served, cols, cands.texts, diversity=DIVERSITY),
    )
    col_to_paper = {int(c): int(p) for c, p in zip(cols.tolist(), cands.ids.tolist(), strict=True)}
    return {u: [col_to_paper[int(c)] for c in row if c >= 0] for u, row in zip(users, ids, strict=True)}


@pytest.mark.parametrize("world", ["model"], indirect=True)
def test_the_default_dial_ranks_as_before_the_dial(world):  # noqa: F811
    """Every seeded reader, at the default dial, by reader and by topic: the list the model gives with its
    prior at its own weight (what serving passed before the dial existed)."""
    users = [p.user_id for p in world.profiles]
    assert {t.trending_weight for t in world.topics.values()} == {TOPIC_TRENDING_WEIGHT_DEFAULT}
    for uid in users[::2]:  # include keywords ride on the prior: a wrong default scale would show with them
        world.topics[uid] = topic_update(topic=world.topics[uid], include_keywords=INCLUDED_WORDS)
    candidates = serving.candidate_ids_default()
    before = _reference_model_lists(users, world.topics, candidates)
    by_users = serving.recommend_for_users(user_ids=users, n=N)
    by_topics = serving.recommend_for_topics(topic_ids=[world.topics[u].pk for u in users], n=N)
    for uid in users:
        assert [r.paper_id for r in by_users[uid]] == before[uid], f"user {uid}: the default dial changed the list"
        assert by_topics[world.topics[uid].pk] == by_users[uid]


def test_the_dial_mapping():
    assert trending_scale(TOPIC_TRENDING_WEIGHT_DEFAULT) == 1.0  # exactly: the default is the blend as trained
    assert trending_scale(0.0) == 0.0
    assert trending_scale(1.0) == TRENDING_SCALE_MAX
    assert trending_scale(0.75) == pytest.approx(3.0) and trending_scale(0.25) == pytest.approx(1 / 3)
    assert trending_scale(-1) == 0.0 and trending_scale(7) == TRENDING_SCALE_MAX
    scales = [trending_scale(d) for d in np.linspace(0, 1, 41)]
    assert all(a < b for a, b in zip(scales, scales[1:], strict=False)), "the scale grows with the dial"


def _mean_trending_position(lists, order) -> float:
    """Mean position of the picks in the community's order (0 = the most trending paper)."""
    position = {pid: i for i, pid in enumerate(order)}
    return float(np.mean([position[pid] for picks in lists for pid in picks]))


# The model standardises each prior row (``prior_weight * zscore(prior)``), which would cancel a row's scale;
# serving passes the dial as a per-row prior weight (``recommend_for_rows(prior_weights=...)``), so the dial
# works in full with a model as in the content-only ranker, which adds the prior as it is.
@pytest.mark.parametrize("world", ["model", "content-only"], indirect=True)
def test_the_dial_moves_lists_toward_the_community_ranking(world):  # noqa: F811
    """Every seeded reader's default topic at 0, the default and 1: the picks climb the trending order; at 1
    they are the most trending papers the topic lets through; at 0 no pick is explained by trending."""
    order = list(Paper.objects.order_by("-trending_score", "-id").values_list("id", flat=True))
    trending = dict(Paper.objects.values_list("id", "trending_score"))
    topics = [world.topics[p.user_id] for p in world.profiles]
    candidates = set(serving.candidate_ids_default())
    lists = {}
    for dial in (0.0, TOPIC_TRENDING_WEIGHT_DEFAULT, 1.0):
        ranked = serving.recommend_for_topics(
            topic_ids=[t.pk for t in topics], n=5, trending_weights={t.pk: dial for t in topics}
        )
        lists[dial] = [_ids(ranked[t.pk]) for t in topics]
        if dial == 0.0:
            assert not any(r.reason.startswith("Trending") for recs in ranked.values() for r in recs)
    positions = {dial: _mean_trending_position(picks, order) for dial, picks in lists.items()}
    assert positions[0.0] > positions[TOPIC_TRENDING_WEIGHT_DEFAULT] > positions[1.0], positions
    for topic, picks in zip(topics, lists[1.0], strict=True):
        eligible = topic_eligible(topic, candidates, papers=papers_facts()) - world.acted[topic.user_id]
        best = sorted((trending[p] for p in eligible), reverse=True)[: len(picks)]
        assert sorted((trending[p] for p in picks), reverse=True) == pytest.approx(best, abs=0.05), topic.name
