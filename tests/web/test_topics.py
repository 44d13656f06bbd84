"""Topics on the web, as a reader sees them: the topics page, For you per topic, votes, feeds, export and reset."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from defusedxml import ElementTree
from django.test import Client
from django.urls import reverse

from recommender.interactions.services import interaction_record
from recommender.models import Interaction, Paper, Profile, Topic
from recommender.subscriptions.topics import topic_create, topic_default, topics_of
from tests.factories import make_paper, make_subscriber

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
XSS = "<script>alert(1)</script>"


def topic_data(**overrides) -> dict:
    data = {
        "name": "RL theory",
        "categories": ["cs.LG"],
        "include_keywords": "regret, bandit",
        "exclude_keywords": "",
        "include_authors": "",
        "exclude_authors": "Someone Else",
        "trending_weight": "0.25",
    }
    data.update(overrides)
    return data


@pytest.fixture
def rl(member):
    return topic_create(user=member, name="RL theory", categories=["cs.LG"])


def test_topic_pages_need_login(client, db):
    for url in (
        reverse("web:topics"),
        reverse("web:topic", args=["general"]),
        reverse("web:for_you_topic", args=["x"]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_create_rename_edit_and_delete_a_topic(member_client, member, corpus):
    html = member_client.get(reverse("web:topics")).content.decode()
    assert "General" in html and "default" in html and "Create topic" in html
    response = member_client.post(reverse("web:topics"), {"new-name": "  RL   theory "})
    assert response.status_code == 302 and response["Location"] == reverse("web:topic", args=["rl-theory"])
    page = member_client.get(response["Location"]).content.decode()
    assert 'type="range"' in page and "Only my taste" in page and "What the community upvotes" in page
    assert 'name="categories"' in page and "Machine Learning (cs.LG)" in page  # the onboarding's picker

    response = member_client.post(reverse("web:topic", args=["rl-theory"]), topic_data(name="Bandits"))
    assert response.status_code == 302 and response["Location"] == reverse("web:topic", args=["rl-theory"])
    topic = Topic.objects.get(user=member, slug="rl-theory")  # renamed, same address
    assert (topic.name, topic.categories, topic.include_keywords, topic.exclude_authors, topic.trending_weight) == (
        "Bandits",
        ["cs.LG"],
        ["regret", "bandit"],
        ["Someone Else"],
        0.25,
    )
    listing = member_client.get(reverse("web:topics")).content.decode()
    assert "Bandits" in listing and "Always: regret, bandit" in listing

    confirm = member_client.get(reverse("web:topic_delete", args=["rl-theory"])).content.decode()
    assert "Delete the topic “Bandits”" in confirm and "csrfmiddlewaretoken" in confirm
    assert Topic.objects.filter(pk=topic.pk).exists()  # GET changes nothing
    response = member_client.post(reverse("web:topic_delete", args=["rl-theory"]))
    assert response.status_code == 302 and not Topic.objects.filter(pk=topic.pk).exists()
    assert "deleted" in member_client.get(response["Location"]).content.decode()


def test_errors_come_back_on_the_form(member_client, member, rl):
    response = member_client.post(reverse("web:topics"), {"new-name": "rl THEORY"})
    assert response.status_code == 200 and "You already have a topic called" in response.content.decode()
    response = member_client.post(reverse("web:topics"), {"new-name": "   "})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    bad = topic_data(name="General", trending_weight="7", categories=["cs.LG", "evil<script>"])
    html = member_client.post(reverse("web:topic", args=[rl.slug]), bad).content.decode()
    assert "Select a valid choice" in html and "less than or equal to 1" in html
    html = member_client.post(reverse("web:topic", args=[rl.slug]), topic_data(name="General")).content.decode()
    assert "You already have a topic called “General”" in html
    assert Topic.objects.get(pk=rl.pk).name == "RL theory"  # nothing saved
    assert len(topics_of(user=member)) == 2


@pytest.mark.parametrize(
    "field,value,error",
    [
        ("categories", ["cs.LG", "evil<script>"], "Select a valid choice"),
        ("include_keywords", "x" * 101, "at most 100 characters"),
        ("include_keywords", ",".join(f"k{i}" for i in range(51)), "At most 50 entries"),
        ("trending_weight", "-0.1", "greater than or equal to 0"),
        ("trending_weight", "half", "Enter a number"),
        ("name", "x" * 81, "at most 80 characters"),
    ],
)
def test_the_topic_form_rejects_bad_input(member_client, member, rl, field, value, error):
    response = member_client.post(reverse("web:topic", args=[rl.slug]), topic_data(**{field: value}))
    assert response.status_code == 200 and error in response.content.decode()
    assert Topic.objects.get(pk=rl.pk).include_keywords == []  # nothing saved


def test_the_topic_page_stores_text_as_text_and_shows_it_escaped(member_client, member, rl):
    member_client.post(reverse("web:topic", args=[rl.slug]), topic_data(include_keywords=XSS, exclude_authors=XSS))
    assert Topic.objects.get(pk=rl.pk).include_keywords == [XSS]
    for url in (reverse("web:topic", args=[rl.slug]), reverse("web:topics")):
        html = member_client.get(url).content.decode()
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_last_topic_is_never_deleted(member_client, member):
    general = topic_default(user=member)
    page = member_client.get(reverse("web:topic_delete", args=[general.slug])).content.decode()
    assert "your only topic" in page and "<form" not in page.split("auth-card", 1)[1]
    response = member_client.post(reverse("web:topic_delete", args=[general.slug]))
    assert response.status_code == 302 and Topic.objects.filter(pk=general.pk).exists()


def test_another_readers_topic_is_not_found(member_client, member):
    theirs = topic_create(user=make_subscriber("other@example.org"), name="Secret project")
    for name in ("web:topic", "web:topic_delete", "web:for_you_topic"):
        assert member_client.get(reverse(name, args=[theirs.slug])).status_code == 404, name
    assert member_client.post(reverse("web:topic_delete", args=[theirs.slug])).status_code == 404
    assert Topic.objects.filter(pk=theirs.pk).exists()


def test_for_you_switches_topics_and_votes_count_for_the_topic_shown(member_client, member, corpus, rl):
    html = member_client.get(reverse("web:for_you")).content.decode()
    nav = re.search(r'<nav class="topic-switch".*?</nav>', html, re.S).group(0)
    assert reverse("web:for_you") in nav and reverse("web:for_you_topic", args=[rl.slug]) in nav
    assert f'name="topic" value="{topic_default(user=member).pk}"' in html

    html = member_client.get(reverse("web:for_you_topic", args=[rl.slug])).content.decode()
    assert "For you: RL theory" in html and f'name="topic" value="{rl.pk}"' in html
    arxiv_id = re.search(r'id="paper-([^"]+)"', html).group(1)
    paper = Paper.objects.get(arxiv_id=arxiv_id)
    assert "cs.LG" in paper.category_list  # ranked with the topic's categories
    response = member_client.post(
        reverse("web:act", args=[arxiv_id]), {"kind": "save", "topic": rl.pk, "next": "/"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and f'name="topic" value="{rl.pk}"' in response.content.decode()
    assert Interaction.objects.get(user=member, paper=paper, kind="save").topic_id == rl.pk
    # The daily page posts no topic: the vote is account-wide.
    member_client.post(reverse("web:act", args=[corpus["audio"].arxiv_id]), {"kind": "upvote", "next": "/"})
    assert Interaction.objects.get(user=member, paper=corpus["audio"], kind="upvote").topic_id is None


def test_a_topic_id_that_is_not_the_voters_own_is_ignored(member_client, member, corpus):
    theirs = topic_default(user=make_subscriber("other@example.org"))
    paper = corpus["attention"]
    for topic_id in (theirs.pk, "not-a-number", "99999999"):
        Interaction.objects.filter(user=member).delete()
        response = member_client.post(reverse("web:act", args=[paper.arxiv_id]), {"kind": "save", "topic": topic_id})
        assert response.status_code == 302
        assert Interaction.objects.get(user=member, paper=paper, kind="save").topic_id is None, topic_id
    assert not Interaction.objects.filter(topic=theirs).exists()


def test_one_feed_per_topic(member, corpus, rl):
    token = Profile.objects.get(user=member).feed_token
    response = Client().get(reverse("web:topic_feed", args=[token, rl.slug]))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    root = ElementTree.fromstring(response.content)
    assert root.find(f"{ATOM}title").text == "Paperboy: RL theory"
    entries = root.findall(f"{ATOM}entry")
    assert entries
    ids = {e.find(f"{ATOM}id").text.removeprefix("arxiv:") for e in entries}
    assert all("cs.LG" in p.category_list for p in Paper.objects.filter(arxiv_id__in=ids))
    default = ElementTree.fromstring(Client().get(reverse("web:feed", args=[token])).content)
    assert default.find(f"{ATOM}title").text == "Paperboy: papers for you"
    assert Client().get(reverse("web:topic_feed", args=[token, "no-such-topic"])).status_code == 404
    theirs = topic_create(user=make_subscriber("other@example.org"), name="Secret project")
    assert Client().get(reverse("web:topic_feed", args=[token, theirs.slug])).status_code == 404
    edit = Client()
    edit.force_login(member)
    assert (
        reverse("web:topic_feed", args=[token, rl.slug])
        in edit.get(reverse("web:topic", args=[rl.slug])).content.decode()
    )


def test_export_and_reset_per_topic_and_for_the_whole_account(member_client, member, corpus, rl):
    general = topic_default(user=member)
    interaction_record(user=member, paper=corpus["attention"], kind="upvote", topic=rl)
    interaction_record(user=member, paper=corpus["audio"], kind="save", topic=general)
    interaction_record(user=member, paper=corpus["vision"], kind="thumbs_up")  # account-wide

    rows = list(csv.DictReader(io.StringIO(member_client.get(reverse("web:export_csv") + "?topic=rl-theory").text)))
    assert [(r["arxiv_id"], r["kind"], r["topic"]) for r in rows] == [
        (corpus["attention"].arxiv_id, "upvote", "RL theory")
    ]
    everything = json.loads(member_client.get(reverse("web:export_json")).content)["ratings"]
    assert {(r["arxiv_id"], r["topic"]) for r in everything} == {
        (corpus["attention"].arxiv_id, "RL theory"),
        (corpus["audio"].arxiv_id, "General"),
        (corpus["vision"].arxiv_id, ""),
    }
    assert member_client.get(reverse("web:export_csv") + "?topic=nope").status_code == 404

    response = member_client.post(reverse("web:reset"), {"topic": "rl-theory"})
    assert response.status_code == 302 and response["Location"] == reverse("web:topic", args=["rl-theory"])
    assert "Forgot the 1 ratings of “RL theory”" in member_client.get(response["Location"]).content.decode()
    assert set(Interaction.objects.filter(user=member).values_list("paper_id", flat=True)) == {
        corpus["audio"].pk,
        corpus["vision"].pk,
    }
    assert Paper.objects.get(pk=corpus["attention"].pk).local_upvotes == 0
    member_client.post(reverse("web:reset"))
    assert not Interaction.objects.filter(user=member).exists()


def test_deleting_a_topic_deletes_its_votes_only(member_client, member, corpus, rl):
    interaction_record(user=member, paper=corpus["attention"], kind="upvote", topic=rl)
    interaction_record(user=member, paper=corpus["audio"], kind="save")
    assert "the 1 vote cast under it" in member_client.get(reverse("web:topic_delete", args=[rl.slug])).content.decode()
    member_client.post(reverse("web:topic_delete", args=[rl.slug]))
    assert list(Interaction.objects.filter(user=member).values_list("paper_id", flat=True)) == [corpus["audio"].pk]
    assert Paper.objects.get(pk=corpus["attention"].pk).local_upvotes == 0


def test_deleting_the_account_deletes_every_topic(member_client, member, rl, password):
    response = member_client.post(reverse("web:delete"), {"confirm": "on", "password": password})
    assert response.status_code == 302
    assert not Topic.objects.filter(user_id=member.pk).exists()


def test_the_dial_preview_shows_its_effect_before_saving(member_client, member):
    """Only my taste: the paper like the one I saved comes first; what the community upvotes: the trending one."""
    liked = make_paper(title="Quokka detectors in camera traps", abstract="We detect quokkas in camera trap images.")
    alike = make_paper(title="Counting quokkas in camera traps", abstract="We count quokkas in camera trap images.")
    popular = make_paper(title="A survey of protein folding", abstract="Proteins fold.", trending_score=50.0)
    for i in range(3):
        make_paper(title=f"Filler paper {i}", abstract=f"Unrelated filler text number {i}.", trending_score=1.0)
    rl = topic_create(user=member, name="Quokkas")
    interaction_record(user=member, paper=liked, kind="save", topic=rl)
    url = reverse("web:topic_preview", args=[rl.slug])

    def first(weight) -> str:
        html = member_client.get(url, {"trending_weight": weight}).content.decode()
        return re.search(r'<ol class="dial-picks"><li><a href="[^"]+">([^<]+)</a>', html).group(1)

    assert first("0") == alike.title
    assert first("1") == popular.title
    assert Topic.objects.get(pk=rl.pk).trending_weight == 0.5  # a preview saves nothing
    page = member_client.get(reverse("web:topic", args=[rl.slug])).content.decode()
    assert f'hx-get="{url}"' in page and 'id="dial-preview"' in page and "would start with" in page
    for junk in ("nan", "inf", "-3", "x"):
        assert member_client.get(url, {"trending_weight": junk}).status_code == 200
