"""Topics: every account has a default one, names and slugs, deleting and resetting, votes cast under a topic."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from recommender.interactions.services import interaction_record, interactions_reset
from recommender.models import Interaction, Paper, Topic
from recommender.subscriptions.topics import (
    MAX_TOPICS,
    TopicError,
    topic_create,
    topic_default,
    topic_delete,
    topic_reset,
    topic_update,
    topics_of,
)
from tests.factories import make_paper, make_subscriber

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 42"


@pytest.fixture
def reader():
    return make_subscriber("reader@example.org", categories=["cs.LG"])


def test_every_way_to_make_an_account_gives_it_one_default_topic(client, settings):
    settings.ACCOUNT_RATE_LIMITS = False
    data = {"email": "signup@example.org", "password1": PASSWORD, "password2": PASSWORD}
    assert client.post(reverse("account_signup"), data).status_code == 302
    assert Client().post(reverse("web:subscribe"), {"email": "box@example.org"}).status_code == 302
    for email in ("signup@example.org", "box@example.org"):
        user = get_user_model().objects.get(email=email)
        assert [(t.name, t.slug, t.position) for t in topics_of(user=user)] == [("General", "general", 0)], email


def test_names_are_unique_per_reader_and_slugs_stay_on_rename(reader):
    rl = topic_create(user=reader, name="  RL   theory ", categories=["cs.LG"])
    assert (rl.name, rl.slug, rl.position) == ("RL theory", "rl-theory", 1)
    with pytest.raises(TopicError, match="already have"):
        topic_create(user=reader, name="rl THEORY")
    odd = topic_create(user=reader, name="量子!!")  # nothing slugify keeps
    assert odd.slug == "topic"
    topic_update(topic=rl, name="Bandits")
    again = topic_create(user=reader, name="RL theory")
    assert (Topic.objects.get(pk=rl.pk).slug, again.slug) == ("rl-theory", "rl-theory-2")
    with pytest.raises(TopicError, match="from 0 to 1"):
        topic_update(topic=rl, trending_weight=1.5)
    other = make_subscriber("other@example.org")
    assert topic_create(user=other, name="RL theory").slug == "rl-theory"  # names are per reader


def test_topics_are_bounded(reader):
    for i in range(MAX_TOPICS - 1):
        topic_create(user=reader, name=f"Topic {i}")
    with pytest.raises(TopicError, match=f"At most {MAX_TOPICS}"):
        topic_create(user=reader, name="One too many")


def test_a_vote_under_a_topic_is_stored_with_it_and_moves_when_cast_under_another(reader):
    paper = make_paper()
    general, rl = topic_default(user=reader), topic_create(user=reader, name="RL")
    vote = interaction_record(user=reader, paper=paper, kind="save", topic=rl)
    assert vote.topic_id == rl.pk
    assert interaction_record(user=reader, paper=paper, kind="save", topic=general).topic_id == general.pk
    assert interaction_record(user=reader, paper=paper, kind="save").topic_id == general.pk  # no topic: stays
    assert Interaction.objects.filter(user=reader, paper=paper).count() == 1


def test_a_topic_that_is_not_the_voters_own_is_ignored(reader):
    paper = make_paper()
    stranger = topic_default(user=make_subscriber("stranger@example.org"))
    vote = interaction_record(user=reader, paper=paper, kind="upvote", topic=stranger)
    assert vote.topic_id is None  # recorded, account-wide


def test_reset_and_delete_forget_the_topics_votes_only_and_keep_upvote_counts(reader):
    papers = [make_paper() for _ in range(3)]
    general, rl = topic_default(user=reader), topic_create(user=reader, name="RL")
    interaction_record(user=reader, paper=papers[0], kind="upvote", topic=rl)
    interaction_record(user=reader, paper=papers[1], kind="upvote", topic=general)
    interaction_record(user=reader, paper=papers[2], kind="upvote")  # account-wide
    assert topic_reset(topic=rl) == 1
    assert sorted(Paper.objects.filter(pk__in=[p.pk for p in papers]).values_list("local_upvotes", flat=True)) == [
        0,
        1,
        1,
    ]
    interaction_record(user=reader, paper=papers[0], kind="upvote", topic=rl)
    assert topic_delete(topic=rl) == 1
    assert not Topic.objects.filter(pk=rl.pk).exists()
    assert Paper.objects.get(pk=papers[0].pk).local_upvotes == 0
    assert set(Interaction.objects.filter(user=reader).values_list("paper_id", flat=True)) == {
        papers[1].pk,
        papers[2].pk,
    }
    with pytest.raises(TopicError, match="only topic"):
        topic_delete(topic=general)
    assert interactions_reset(user=reader) == 2  # the whole account
    assert not Interaction.objects.filter(user=reader).exists()
